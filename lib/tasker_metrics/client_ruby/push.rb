# frozen_string_literal: true

require "net/http"
require "uri"

module Prometheus
  module Client
    # Sends a registry to a Pushgateway: `add` (POST), `replace` (PUT), `delete`.
    class Push
      class HttpError < StandardError; end
      class HttpRedirectError < HttpError; end
      class HttpClientError < HttpError; end
      class HttpServerError < HttpError; end

      DEFAULT_GATEWAY = "http://localhost:9091"
      PATH = "/metrics"
      SUPPORTED_SCHEMES = %w[http https].freeze

      attr_reader :job, :gateway, :path

      def initialize(job:, gateway: DEFAULT_GATEWAY, grouping_key: {}, **options)
        raise ArgumentError, "job cannot be nil" if job.nil?
        raise ArgumentError, "job cannot be empty" if job.empty?

        LabelSetValidator.new(expected_labels: grouping_key.keys).validate_symbols!(grouping_key)
        @job = job
        @gateway = gateway || DEFAULT_GATEWAY
        @grouping_key = grouping_key
        @path = build_path
        @uri = parse(@gateway + @path)
        refuse_credentials_in_url
        @http = connection(options)
        @mutex = Mutex.new
      end

      def basic_auth(user, password)
        @user = user
        @password = password
      end

      def add(registry) = send_request(Net::HTTP::Post, registry)

      def replace(registry) = send_request(Net::HTTP::Put, registry)

      def delete = send_request(Net::HTTP::Delete, nil)

      private

      def build_path = @grouping_key.reduce("#{PATH}/#{segment(:job, @job.to_s)}") { |path, (k, v)| "#{path}/#{segment(k, v.to_s)}" }

      def connection(options)
        http = Net::HTTP.new(@uri.host, @uri.port)
        http.use_ssl = @uri.scheme == "https"
        http.open_timeout = options[:open_timeout] if options[:open_timeout]
        http.read_timeout = options[:read_timeout] if options[:read_timeout]
        http
      end

      # `label/value`, or `label@base64/…` for a value with a slash (or an empty one).
      def segment(label, value)
        return "#{label}@base64/=" if value.empty?
        return "#{label}@base64/#{[value].pack("m0").tr("+/", "-_")}" if value.include?("/")

        "#{label}/#{value.b.gsub(/[^a-zA-Z0-9_.~-]/n) { |c| format("%%%02X", c.ord) }}"
      end

      def parse(url)
        uri = URI.parse(url)
        raise ArgumentError, "only HTTP gateway URLs are supported currently." unless SUPPORTED_SCHEMES.include?(uri.scheme)

        uri
      rescue URI::InvalidURIError => e
        raise ArgumentError, "#{url} is not a valid URL: #{e}"
      end

      # client_ruby 4 refuses them (user names and passwords would need URL encoding).
      def refuse_credentials_in_url
        return unless @uri.user || @uri.password

        raise ArgumentError, "Setting Basic Auth credentials in the gateway URL is not supported, please call the " \
                             "`basic_auth` method. (Received username `#{@uri.user}` in gateway URL.)"
      end

      def send_request(verb, registry)
        check_grouping_key(registry) if registry
        request = verb.new(@uri)
        request.content_type = Formats::Text::CONTENT_TYPE
        request.basic_auth(@user, @password) if @user
        request.body = Formats::Text.marshal(registry) if registry
        response = @mutex.synchronize { @http.request(request) }
        check(response)
        response
      end

      def check_grouping_key(registry)
        registry.metrics.each do |metric|
          clash = metric.labels.find { |label| @grouping_key.key?(label) }
          next unless clash

          raise LabelSetValidator::InvalidLabelSetError,
                "label :#{clash} from grouping key collides with label of the same name from metric :#{metric.name} and would overwrite it"
        end
      end

      def check(response)
        status = Integer(response.code)
        return if status < 300

        message = "status: #{response.code}, message: #{response.message}, body: #{response.body}"
        raise HttpRedirectError, message if status <= 399
        raise HttpClientError, message if status <= 499

        raise HttpServerError, message
      end
    end
  end
end
