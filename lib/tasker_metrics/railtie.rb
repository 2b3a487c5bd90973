# frozen_string_literal: true

module TaskerMetrics
  # Wires the gem into Rails from +config.tasker_metrics+ (see {Configuration}); all logic is in
  # {TaskerMetrics.install!}.
  #
  # @example config/application.rb
  #   config.tasker_metrics.path = "/ops/metrics"
  #   config.tasker_metrics.auth = { bearer_token: ENV.fetch("METRICS_TOKEN") }
  class Railtie < ::Rails::Railtie
    config.tasker_metrics = ActiveSupport::OrderedOptions.new

    initializer "tasker_metrics.install" do |app|
      TaskerMetrics.configuration.merge!(app.config.tasker_metrics)
      # First in the stack: a scrape skips the Rails middleware (request ids, logging, ETag
      # hashing, host checks). Path, auth and enabled are read from TaskerMetrics.configuration
      # at each request, so config/initializers that call TaskerMetrics.configure take effect.
      app.config.middleware.insert_before(0, TaskerMetrics::Rack::Exporter)
      # Appended blocks run each time the routes are loaded, after config/routes.rb: by then the
      # app's mount of Tasker's engine is known (after_initialize runs before the routes load).
      app.routes.append { TaskerMetrics::TaskerRoute.verify! }
    end

    config.after_initialize do
      config = TaskerMetrics.install!
      RailsMetrics.install!(requests: config.rails_metrics, jobs: config.active_job_metrics)
      # Rails.cache is configured by now; what it can do decides Tasker's cache sync strategy.
      MetricsBackend.instance.refresh_cache_strategy!
      TaskerMetrics.log(:info, TaskerMetrics.configuration.summary)
    end
  end
end
