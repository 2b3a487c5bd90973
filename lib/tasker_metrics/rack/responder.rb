# frozen_string_literal: true

require "json"
require "time"
require_relative "auth"
require_relative "negotiation"

module TaskerMetrics
  module Rack
    # Answers one scrape: method check, auth, content negotiation, gzip, Tasker's no-cache
    # headers, and errors as 503 JSON that say what state the endpoint is in (the cause goes to
    # the log, never to the client). Shared by {Exporter} and {Endpoint}. It reports on itself in
    # its registry: scrape duration and size, by format.
    class Responder
      NO_CACHE = { "cache-control" => "no-store", "pragma" => "no-cache", "expires" => "0" }.freeze
      METHODS = %w[GET HEAD].freeze
      SCRAPE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1].freeze
      # The default of +auth:+ and +enabled:+: whatever {TaskerMetrics.configuration} says at the
      # time of each request, however and whenever it was configured.
      CONFIGURED = Object.new.freeze

      # @param registry [Registry]
      # @param auth [nil, Hash, #call] see {Auth}; default: the configured +auth+
      # @param enabled [Boolean, #call] false (or a callable returning false) answers 503; default:
      #   the configured +enabled+
      # @param gzip [Boolean] compress when the client accepts gzip
      # @param self_metrics [Boolean] export scrape duration and size
      # @param stream [Boolean] answer with a body rendered piece by piece as the server sends it
      #   (no Content-Length; HTTP/1.1 servers send it chunked): bounded memory for very large
      #   expositions
      # @raise [ArgumentError] for an invalid +auth+
      def initialize(registry: TaskerMetrics.registry, auth: CONFIGURED, enabled: CONFIGURED, gzip: true, self_metrics: true,
                     stream: false)
        @registry = registry
        @auth = Auth.new(auth) unless auth.equal?(CONFIGURED)
        @enabled = enabled
        @gzip = gzip
        @stream = stream
        @scrape_seconds, @scrape_bytes = register_self_metrics if self_metrics
      end

      # @return [Array(Integer, Hash, #each)] a Rack response
      def call(env)
        return method_not_allowed unless METHODS.include?(env["REQUEST_METHOD"])

        auth = @auth || TaskerMetrics.configuration.rack_auth
        return denied(auth) unless auth.allow?(env)

        negotiated(env)
      rescue StandardError => e
        TaskerMetrics.log(:error, "tasker_metrics: scrape failed: #{e.class}: #{e.message}")
        unavailable("Metrics export failed", "the export raised an error (see the application log)")
      end

      private

      def negotiated(env)
        return unavailable("Metrics are disabled", "this endpoint is turned off") unless enabled?

        format = Negotiation.format(env["HTTP_ACCEPT"])
        return not_acceptable unless format

        respond(format, @gzip && Negotiation.gzip?(env["HTTP_ACCEPT_ENCODING"]), env)
      end

      def respond(format, gzip, env)
        started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
        names = Negotiation.names(env["QUERY_STRING"])
        headers = NO_CACHE.merge("content-type" => Negotiation::CONTENT_TYPES.fetch(format), "vary" => "Accept, Accept-Encoding")
        headers["content-encoding"] = "gzip" if gzip
        return [200, headers, streamed(format, gzip, names, started, env)] if @stream

        body = gzip ? @registry.export_gzip(format: format, names: names) : @registry.export(format: format, names: names)
        record_scrape(format, started, body.bytesize)
        headers["content-length"] = body.bytesize.to_s
        [200, headers, env["REQUEST_METHOD"] == "HEAD" ? [] : [body]]
      end

      # A body rendered as the server reads it; the scrape is recorded once it was read whole.
      def streamed(format, gzip, names, started, env)
        return [] if env["REQUEST_METHOD"] == "HEAD"

        StreamedBody.new(@registry.export_stream(format: format, gzip: gzip, names: names)) do |bytes|
          record_scrape(format, started, bytes)
        end
      end

      # Rack body around an {ExpositionStream} that reports its size once read to the end.
      class StreamedBody
        def initialize(stream, &done)
          @stream = stream
          @done = done
        end

        def each(&)
          @stream.each(&)
          @done.call(@stream.bytesize)
        end

        def close = @stream.close
      end

      def enabled?
        flag = @enabled.equal?(CONFIGURED) ? TaskerMetrics.configuration.enabled : @enabled
        flag.respond_to?(:call) ? flag.call : flag
      end

      def register_self_metrics
        [
          @registry.histogram(:tasker_metrics_scrape_duration_seconds, docstring: "Time to render one scrape",
                                                                       labels: [:format], buckets: SCRAPE_BUCKETS,),
          @registry.gauge(:tasker_metrics_scrape_size_bytes, docstring: "Size of the last scrape body", labels: [:format]),
        ]
      end

      def record_scrape(format, started, bytes)
        seconds = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
        TaskerMetrics.log(:debug) { "tasker_metrics: scrape #{format} #{bytes} bytes in #{(seconds * 1000).round(1)} ms" }
        return unless @scrape_seconds

        labels = { format: format }
        @scrape_seconds.observe(seconds, labels: labels)
        @scrape_bytes.set(bytes, labels: labels)
      end

      def method_not_allowed
        [405, NO_CACHE.merge("allow" => METHODS.join(", "), "content-type" => "text/plain; charset=utf-8"), ["Method Not Allowed\n"]]
      end

      # 401 with the scheme's challenge for credentials; 403 for a callable, which names no scheme.
      def denied(auth)
        headers = NO_CACHE.merge("content-type" => "text/plain; charset=utf-8")
        return [403, headers, ["Forbidden\n"]] unless auth.challenge

        [401, headers.merge("www-authenticate" => auth.challenge), ["Unauthorized\n"]]
      end

      def not_acceptable
        body = "Supported media types: #{Negotiation::CONTENT_TYPES.values.join(", ")}\n"
        [406, NO_CACHE.merge("content-type" => "text/plain; charset=utf-8"), [body]]
      end

      def unavailable(error, message)
        body = JSON.generate(error: error, message: message, timestamp: Time.now.utc.iso8601)
        [503, NO_CACHE.merge("content-type" => "application/json; charset=utf-8"), [body]]
      end
    end
  end
end
