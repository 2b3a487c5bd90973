# frozen_string_literal: true

require_relative "responder"

module TaskerMetrics
  module Rack
    # A Rack app that answers every request with the exposition, for mounting.
    #
    # @example Tasker apps (config/routes.rb)
    #   mount TaskerMetrics::Rack::Endpoint.new, at: "/tasker/metrics"
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
