# frozen_string_literal: true

require "json"
require "time"
require_relative "auth"
require_relative "negotiation"

module TaskerMetrics
  module Rack
    # Answers one scrape: method check, auth, content negotiation, gzip, Tasker's no-cache
    # headers, and errors as 503 JSON without a backtrace. Shared by {Exporter} and {Endpoint}.
    # It reports on itself in its registry: scrape duration and size, by format.
    class Responder
      NO_CACHE = { "cache-control" => "no-store", "pragma" => "no-cache", "expires" => "0" }.freeze
      METHODS = %w[GET HEAD].freeze
      SCRAPE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1].freeze

      # @param registry [Registry]
      # @param auth [nil, Hash, #call] see {Auth}
      # @param enabled [Boolean, #call] false (or a callable returning false) answers 503
      # @param gzip [Boolean] compress when the client accepts gzip
      # @param self_metrics [Boolean] export scrape duration and size
      def initialize(registry: TaskerMetrics.registry, auth: nil, enabled: true, gzip: true, self_metrics: true)
        @registry = registry
        @auth = Auth.new(auth)
        @enabled = enabled
        @gzip = gzip
        @scrape_seconds, @scrape_bytes = register_self_metrics if self_metrics
      end

      # @return [Array(Integer, Hash, #each)] a Rack response
      def call(env)
        return method_not_allowed unless METHODS.include?(env["REQUEST_METHOD"])
        return unauthorized unless @auth.allow?(env)
        return unavailable("Metrics are disabled") unless enabled?

        format = Negotiation.format(env["HTTP_ACCEPT"])
        return not_acceptable unless format

        respond(format, @gzip && Negotiation.gzip?(env["HTTP_ACCEPT_ENCODING"]), env["REQUEST_METHOD"] == "HEAD")
      rescue StandardError => e
        unavailable(e.message)
      end

      private

      def respond(format, gzip, head)
        started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
        body = gzip ? @registry.export_gzip(format: format) : @registry.export(format: format)
        record_scrape(format, started, body.bytesize)
        headers = NO_CACHE.merge("content-type" => Negotiation::CONTENT_TYPES.fetch(format), "vary" => "Accept, Accept-Encoding",
                                 "content-length" => body.bytesize.to_s,)
        headers["content-encoding"] = "gzip" if gzip
        [200, headers, head ? [] : [body]]
      end

      def enabled? = @enabled.respond_to?(:call) ? @enabled.call : @enabled

      def register_self_metrics
        [
          @registry.histogram(:tasker_metrics_scrape_duration_seconds, docstring: "Time to render one scrape",
                                                                       labels: [:format], buckets: SCRAPE_BUCKETS,),
          @registry.gauge(:tasker_metrics_scrape_size_bytes, docstring: "Size of the last scrape body", labels: [:format]),
        ]
      end

      def record_scrape(format, started, bytes)
        return unless @scrape_seconds

        labels = { format: format }
        @scrape_seconds.observe(Process.clock_gettime(Process::CLOCK_MONOTONIC) - started, labels: labels)
        @scrape_bytes.set(bytes, labels: labels)
      end

      def method_not_allowed
        [405, NO_CACHE.merge("allow" => METHODS.join(", "), "content-type" => "text/plain; charset=utf-8"), ["Method Not Allowed\n"]]
      end

      def unauthorized
        headers = NO_CACHE.merge("content-type" => "text/plain; charset=utf-8")
        headers["www-authenticate"] = @auth.challenge if @auth.challenge
        [401, headers, ["Unauthorized\n"]]
      end

      def not_acceptable
        body = "Supported media types: #{Negotiation::CONTENT_TYPES.values.join(", ")}\n"
        [406, NO_CACHE.merge("content-type" => "text/plain; charset=utf-8"), [body]]
      end

      def unavailable(message)
        body = JSON.generate(error: "Metrics export failed", message: message, timestamp: Time.now.utc.iso8601)
        [503, NO_CACHE.merge("content-type" => "application/json; charset=utf-8"), [body]]
      end
    end
  end
end
