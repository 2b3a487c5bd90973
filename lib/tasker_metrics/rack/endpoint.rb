# frozen_string_literal: true

require_relative "responder"

module TaskerMetrics
  module Rack
    # A Rack app that answers every request with the exposition, for mounting. Unless given its
    # own +auth:+ and +enabled:+, it uses the configured ones (read at each request).
    #
    # @example config/routes.rb, with config.tasker_metrics.path = nil
    #   mount TaskerMetrics::Rack::Endpoint.new, at: "/ops/metrics"
    class Endpoint
      # @param registry [Registry]
      # @param options [Hash] see {Responder#initialize}
      def initialize(registry: TaskerMetrics.registry, **options)
        @responder = Responder.new(registry: registry, **options)
      end

      # @return [Array(Integer, Hash, #each)]
      def call(env) = @responder.call(env)
    end
  end
end
