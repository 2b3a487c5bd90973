# frozen_string_literal: true

module Prometheus
  # client_ruby's Rack middlewares.
  module Middleware
    # Serves a registry in client_ruby's text format at `path` (`/metrics`), on `port` if given.
    class Exporter
      attr_reader :app, :registry, :path

      FORMATS = [Client::Formats::Text].freeze
      FALLBACK = Client::Formats::Text

      def initialize(app, options = {})
        @app = app
        @registry = options[:registry] || Client.registry
        @path = options[:path] || "/metrics"
        @port = options[:port]
        @formats = FORMATS.each_with_object("*/*" => FALLBACK) do |format, table|
          table[format::CONTENT_TYPE] = format
          table[format::MEDIA_TYPE] = format
        end
      end

      def call(env)
        return @app.call(env) unless env["PATH_INFO"] == @path && (@port.nil? || @port.to_s == env["SERVER_PORT"])

        format = negotiate(env.fetch("HTTP_ACCEPT", "*/*"))
        return [200, { "content-type" => format::CONTENT_TYPE }, [format.marshal(@registry)]] if format

        [406, { "content-type" => "text/plain" }, ["Supported media types: #{FORMATS.map { |f| f::MEDIA_TYPE }.join(", ")}"]]
      end

      private

      # The known media type most preferred by `accept` (stable among equal q-values, as
      # client_ruby sorts them).
      def negotiate(accept)
        ranges = accept.split(/\s*,\s*/).map do |range|
          params = range.split(/\s*;\s*/)
          q = params.find { |p| p.start_with?("q=") }
          params.delete(q)
          [params.join("; "), q ? q.split("q=").last.to_f : 1.0]
        end
        ranges.sort_by(&:last).reverse_each { |type, _| return @formats[type] if @formats.key?(type) }
        nil
      end
    end

    # Counts requests by code, method and path, times them by method and path, and counts
    # exceptions by class, into `registry` (client_ruby's metric names, prefix `http_server`).
    class Collector
      attr_reader :app, :registry

      UUID = %r{/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?=/|$)}
      NUMBER = %r{/\d+(?=/|$)}

      def initialize(app, options = {})
        @app = app
        @registry = options[:registry] || Client.registry
        @metrics_prefix = options[:metrics_prefix] || "http_server"
        init_request_metrics
        init_exception_metrics
      end

      def call(env)
        trace(env) { @app.call(env) }
      end

      protected

      def init_request_metrics
        @requests = @registry.counter(:"#{@metrics_prefix}_requests_total",
                                      docstring: "The total number of HTTP requests handled by the Rack application.",
                                      labels: %i[code method path],)
        @durations = @registry.histogram(:"#{@metrics_prefix}_request_duration_seconds",
                                         docstring: "The HTTP response duration of the Rack application.", labels: %i[method path],)
      end

      def init_exception_metrics
        @exceptions = @registry.counter(:"#{@metrics_prefix}_exceptions_total",
                                        docstring: "The total number of exceptions raised by the Rack application.", labels: [:exception],)
      end

      def trace(env)
        started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
        response = yield
        record(env, response.first.to_s, Process.clock_gettime(Process::CLOCK_MONOTONIC) - started)
        response
      rescue StandardError => e
        @exceptions.increment(labels: { exception: e.class.name })
        raise
      end

      # Recording never breaks the request.
      def record(env, code, duration)
        method = env["REQUEST_METHOD"].downcase
        path = generate_path(env)
        @requests.increment(labels: { code: code, method: method, path: path })
        @durations.observe(duration, labels: { method: method, path: path })
      rescue StandardError
        nil
      end

      def generate_path(env) = strip_ids_from_path("#{env["SCRIPT_NAME"]}#{env["PATH_INFO"]}")

      def strip_ids_from_path(path) = path.gsub(UUID, "/:uuid").gsub(NUMBER, "/:id")
    end
  end
end
