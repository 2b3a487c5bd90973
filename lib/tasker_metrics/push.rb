# frozen_string_literal: true

require "net/http"
require "timeout"
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
    # The most of an answer's body read (for the error message); the rest is never read.
    ANSWER_LIMIT = 4096

    # Raised inside a request to stop reading an answer past {ANSWER_LIMIT}.
    class AnswerRead < StandardError; end
    # Raised into a request when its deadline passes (not a Net::ReadTimeout, which Net::HTTP
    # would retry).
    class DeadlinePassed < StandardError; end
    private_constant :AnswerRead, :DeadlinePassed

    # @return [String]
    attr_reader :job
    # @return [URI::HTTP]
    attr_reader :gateway

    # @param job [String, Symbol] the job label of the group
    # @param gateway [String] base URL of the Pushgateway; credentials in it
    #   (+https://user:pass@host:9091+) are sent as basic auth and never shown in errors; IPv6
    #   literals (+http://[::1]:9091+) work
    # @param grouping_key [Hash] further labels identifying the group
    # @param timeout [Numeric] seconds for the whole request: connect, send and read together
    # @raise [ArgumentError] for an empty job, a URL that is not http(s), or bad label names
    def initialize(job:, gateway: "http://127.0.0.1:9091", grouping_key: {}, timeout: 5)
      @job = job.to_s
      raise ArgumentError, "job must be a non-empty String or Symbol, got #{job.inspect}" if @job.empty?

      parse_gateway(gateway)
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

    # Values with a slash, and "." or ".." (which HTTP path resolution would swallow), travel
    # base64url-encoded, and an empty one as "=", as the Pushgateway specifies.
    def segment(value)
      return "@base64/=" if value.empty?
      # base64url by hand: the base64 gem is no longer a default gem on Ruby 3.4.
      return "@base64/#{[value].pack("m0").tr("+/", "-_")}" if value.include?("/") || %w[. ..].include?(value)

      "/#{URI.encode_www_form_component(value).gsub("+", "%20")}"
    end

    # A URL as errors show it: without credentials.
    def shown(uri) = without_userinfo(uri).to_s.inspect

    # (URI#userinfo= ignores nil, so the credentials are cleared through set_userinfo.)
    def without_userinfo(uri) = uri.dup.tap { |u| u.__send__(:set_userinfo, nil, nil) }

    def check_label(name)
      name = name.to_s
      unless name.match?(/\A[a-zA-Z_][a-zA-Z0-9_]*\z/) && name != "job"
        raise ArgumentError,
              "grouping_key label name #{name.inspect} is invalid"
      end

      name
    end

    # One deadline for the whole exchange (a gateway trickling bytes cannot hold it), and at most
    # ANSWER_LIMIT bytes of the answer read.
    def request(verb, body)
      response, excerpt = Timeout.timeout(@timeout, DeadlinePassed) { exchange(verb, body) }
      return response if response.is_a?(Net::HTTPSuccess)

      raise PushError, "Pushgateway answered #{response.code} #{response.message} for #{verb::METHOD} #{path}: #{excerpt[0, 200]}"
    rescue DeadlinePassed, Net::OpenTimeout, Net::ReadTimeout, Net::WriteTimeout
      raise PushError, "Pushgateway at #{@gateway} did not answer within #{@timeout}s"
    rescue SystemCallError, IOError, SocketError => e
      raise PushError, "could not reach the Pushgateway at #{@gateway}: #{e.message}"
    end

    def exchange(verb, body)
      response = nil
      excerpt = +""
      http do |connection|
        connection.request(build(verb, body)) do |answer|
          response = answer
          answer.read_body do |chunk|
            excerpt << chunk
            raise AnswerRead if excerpt.bytesize >= ANSWER_LIMIT # leave the rest unread: the connection closes
          end
        end
      end
      [response, excerpt.scrub]
    rescue AnswerRead
      [response, excerpt.byteslice(0, ANSWER_LIMIT).scrub]
    end

    # The URL without its credentials, which go to basic auth instead.
    def parse_gateway(gateway)
      uri = URI(gateway)
      raise ArgumentError, "gateway must be an http(s) URL, got #{shown(uri)}" unless uri.is_a?(URI::HTTP)

      @credentials = uri.userinfo&.split(":", 2)&.map { |part| URI.decode_www_form_component(part) }
      @gateway = without_userinfo(uri)
    end

    def build(verb, body)
      verb.new(path).tap do |req|
        req.basic_auth(*@credentials) if @credentials
        next unless body

        req["content-type"] = CONTENT_TYPE
        req.body = body
      end
    end

    def http(&)
      options = { use_ssl: @gateway.scheme == "https", open_timeout: @timeout, read_timeout: @timeout, write_timeout: @timeout,
                  max_retries: 0, }
      Net::HTTP.start(@gateway.hostname, @gateway.port, **options, &)
    end
  end
end
