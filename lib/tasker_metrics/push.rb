# frozen_string_literal: true

require "net/http"
require "uri"

module TaskerMetrics
  # Sends a registry to a Prometheus Pushgateway, for rake tasks and cron-style jobs that end
  # before Prometheus could scrape them. The body is Prometheus text 0.0.4.
  #
  # @example
  #   push = TaskerMetrics::Push.new(job: "nightly_import", gateway: "http://pushgateway:9091",
  #                                  grouping_key: { instance: Socket.gethostname })
  #   push.add(TaskerMetrics.registry)   # or push (replace the group) / delete
  class Push
    CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

    # @return [String]
    attr_reader :job
    # @return [URI::HTTP]
    attr_reader :gateway

    # @param job [String, Symbol] the job label of the group
    # @param gateway [String] base URL of the Pushgateway
    # @param grouping_key [Hash] further labels identifying the group
    # @param timeout [Numeric] seconds to wait for the whole request
    # @raise [ArgumentError] for an empty job, a URL that is not http(s), or bad label names
    def initialize(job:, gateway: "http://127.0.0.1:9091", grouping_key: {}, timeout: 5)
      @job = job.to_s
      raise ArgumentError, "job must be a non-empty String or Symbol, got #{job.inspect}" if @job.empty?

      @gateway = URI(gateway)
      raise ArgumentError, "gateway must be an http(s) URL, got #{gateway.inspect}" unless @gateway.is_a?(URI::HTTP)

      @grouping_key = grouping_key.to_h { |k, v| [check_label(k), v.to_s] }
      @timeout = Float(timeout)
    end

    # Replaces every metric of the group with the registry's (HTTP PUT).
    # @param registry [Registry]
    # @return [Net::HTTPResponse]
    # @raise [PushError] for a non-2xx answer, a timeout or a connection failure
    def push(registry = TaskerMetrics.registry) = request(Net::HTTP::Put, registry.export)

    # Replaces only the group's metrics with the same names (HTTP POST).
    # @return [Net::HTTPResponse]
    # @raise [PushError]
    def add(registry = TaskerMetrics.registry) = request(Net::HTTP::Post, registry.export)

    # Deletes the group (HTTP DELETE).
    # @return [Net::HTTPResponse]
    # @raise [PushError]
    def delete = request(Net::HTTP::Delete, nil)

    # @return [String] the group's path, e.g. "/metrics/job/nightly/instance/a"
    def path
      segments = [["job", job], *@grouping_key].map { |name, value| "/#{name}#{segment(value)}" }
      "#{@gateway.path.chomp("/")}/metrics#{segments.join}"
    end

    private

    # Values with a slash travel base64url-encoded, and an empty one as "=", as the Pushgateway
    # specifies (a path segment cannot be empty).
    def segment(value)
      return "@base64/=" if value.empty?
      # base64url by hand: the base64 gem is no longer a default gem on Ruby 3.4.
      return "@base64/#{[value].pack("m0").tr("+/", "-_")}" if value.include?("/")

      "/#{URI.encode_www_form_component(value).gsub("+", "%20")}"
    end

    def check_label(name)
      name = name.to_s
      unless name.match?(/\A[a-zA-Z_][a-zA-Z0-9_]*\z/) && name != "job"
        raise ArgumentError,
              "grouping_key label name #{name.inspect} is invalid"
      end

      name
    end

    def request(verb, body)
      response = http { |connection| connection.request(build(verb, body)) }
      return response if response.is_a?(Net::HTTPSuccess)

      raise PushError,
            "Pushgateway answered #{response.code} #{response.message} for #{verb::METHOD} #{path}: #{response.body.to_s[0, 200]}"
    end

    def build(verb, body)
      verb.new(path).tap do |req|
        next unless body

        req["content-type"] = CONTENT_TYPE
        req.body = body
      end
    end

    def http(&)
      options = { use_ssl: @gateway.scheme == "https", open_timeout: @timeout, read_timeout: @timeout, write_timeout: @timeout }
      Net::HTTP.start(@gateway.host, @gateway.port, **options, &)
    rescue Net::OpenTimeout, Net::ReadTimeout, Net::WriteTimeout => e
      raise PushError, "Pushgateway at #{@gateway} timed out after #{@timeout}s (#{e.class})"
    rescue SystemCallError, IOError, SocketError => e
      raise PushError, "could not reach the Pushgateway at #{@gateway}: #{e.message}"
    end
  end
end
