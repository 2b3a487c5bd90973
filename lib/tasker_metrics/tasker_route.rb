# frozen_string_literal: true

module TaskerMetrics
  # Tasker's own metrics route (+GET <mount>/metrics+, served by Tasker::MetricsController with
  # Tasker's authentication and authorization). The gem's middleware must never answer it: it
  # would answer before Tasker's controller and skip Tasker's checks.
  module TaskerRoute
    # Where Tasker apps mount Tasker::Engine by convention.
    DEFAULT_MOUNT = "/tasker"

    # @return [Array<String>] the paths Tasker's metrics route has in this app (none without Tasker)
    def self.paths
      return [] unless defined?(::Tasker::Engine)

      mounts = engine_mounts
      (mounts.empty? ? [DEFAULT_MOUNT] : mounts).map { |mount| "#{mount.chomp("/")}/metrics" }
    end

    # @raise [ArgumentError] when +path+ is one of {paths}
    # @return [nil]
    def self.check!(path)
      return if path.nil? || !paths.include?(path.chomp("/"))

      raise ArgumentError,
            "tasker_metrics path #{path.inspect} is Tasker's metrics route: Tasker::MetricsController serves it with " \
            "Tasker's authentication and authorization (through this gem's native exporter), and the gem's middleware " \
            "would answer first and skip them. Choose another path for the gem's endpoint, or set it to nil."
    end

    # @api private
    def self.engine_mounts
      app = defined?(::Rails) && ::Rails.respond_to?(:application) ? ::Rails.application : nil
      return [] unless app

      app.routes.routes.filter_map do |route|
        target = route.app.respond_to?(:app) ? route.app.app : route.app
        route.path.spec.to_s if target == ::Tasker::Engine
      end
    rescue StandardError
      []
    end
  end
end
