# frozen_string_literal: true

module TaskerMetrics
  # Tasker's own metrics route (+GET <mount>/metrics+, served by Tasker::MetricsController with
  # Tasker's authentication and authorization). The gem's middleware must never answer it: it
  # would answer before Tasker's controller and skip Tasker's checks. Every exporter's path is
  # checked once the app's routes are loaded (the Railtie appends the check to them), when it is
  # known where the app mounted Tasker's engine.
  module TaskerRoute
    @exporter_paths = []

    class << self
      # Notes the path of an exporter middleware, for {verify!}.
      # @param path [String, nil]
      # @return [nil]
      def register(path)
        @exporter_paths |= [path] if path
        nil
      end

      # @raise [ArgumentError] when the configured path or an exporter's is Tasker's metrics route
      # @return [nil]
      def verify!
        ([TaskerMetrics.configuration.path] | @exporter_paths).each { |path| check!(path) }
        nil
      end

      # @return [Array<String>] where Tasker's metrics route is in this app's routes (none without
      #   Tasker's engine mounted)
      def paths
        return [] unless defined?(::Tasker::Engine)

        engine_mounts.map { |mount| "#{mount.chomp("/")}/metrics" }
      end

      # @raise [ArgumentError] when +path+ is one of {paths}
      # @return [nil]
      def check!(path)
        return if path.nil? || !paths.include?(path.chomp("/"))

        raise ArgumentError,
              "tasker_metrics path #{path.inspect} is Tasker's metrics route: Tasker::MetricsController serves it with " \
              "Tasker's authentication and authorization (through this gem's native exporter), and the gem's middleware " \
              "would answer first and skip them. Choose another path for the gem's endpoint, or set it to nil."
      end

      private

      def engine_mounts
        app = defined?(::Rails) && ::Rails.respond_to?(:application) ? ::Rails.application : nil
        return [] unless app

        app.routes.routes.filter_map do |route|
          target = route.app.respond_to?(:app) ? route.app.app : route.app
          route.path.spec.to_s if target == ::Tasker::Engine
        end
      end
    end
  end
end
