# frozen_string_literal: true

require_relative "responder"

module TaskerMetrics
  module Rack
    # Rack middleware serving the exposition at one path and passing every other request on.
    #
    # @example config.ru
    #   use TaskerMetrics::Rack::Exporter, path: "/metrics", auth: { bearer_token: ENV.fetch("METRICS_TOKEN") }
    class Exporter
      # @param app [#call] the next Rack app
      # @param registry [Registry]
      # @param path [String, nil] where to answer; default: the configured +path+ (read at each
      #   request, so it follows {TaskerMetrics.configure} whenever it runs; nil answers nothing)
      # @param options [Hash] see {Responder#initialize}; +auth:+ and +enabled:+ default to the
      #   configured ones the same way
      def initialize(app, registry: TaskerMetrics.registry, path: Responder::CONFIGURED, **options)
        TaskerRoute.register(path) unless path.equal?(Responder::CONFIGURED)
        @app = app
        @path = path
        @responder = Responder.new(registry: registry, **options)
      end

      # @return [Array(Integer, Hash, #each)]
      def call(env)
        path = @path.equal?(Responder::CONFIGURED) ? TaskerMetrics.configuration.path : @path
        env["PATH_INFO"] == path && path ? @responder.call(env) : @app.call(env)
      end
    end
  end
end
