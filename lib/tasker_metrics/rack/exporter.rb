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
      # @param path [String]
      # @param configuration [Configuration, nil] take path, auth and enabled from it (the Railtie
      #   does this; the stack is built after the app's initializers have configured the gem)
      # @param options [Hash] see {Responder#initialize}
      def initialize(app, registry: TaskerMetrics.registry, path: "/metrics", configuration: nil, **options)
        if configuration
          path = configuration.path
          options = { auth: configuration.auth, enabled: -> { TaskerMetrics.enabled? } }.merge(options)
        end
        TaskerRoute.register(path)
        @app = app
        @path = path
        @responder = Responder.new(registry: registry, **options)
      end

      # @return [Array(Integer, Hash, #each)]
      def call(env) = env["PATH_INFO"] == @path ? @responder.call(env) : @app.call(env)
    end
  end
end
