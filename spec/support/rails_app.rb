# frozen_string_literal: true

# A minimal Rails app built from Debian's railties and actionpack: no generator, no database.
# Boot it only in a forked child (see railtie_spec), since a Rails app is process-global.
module RailsApp
  module_function

  def boot(metrics_config = {})
    require "rails"
    require "action_controller/railtie"
    require "tasker_metrics"
    require "tasker_metrics/railtie"

    app = Class.new(Rails::Application) do
      config.eager_load = false
      config.logger = Logger.new(nil)
      config.secret_key_base = "x" * 64
      config.hosts.clear if config.respond_to?(:hosts)
      metrics_config.each { |key, value| config.tasker_metrics[key] = value }
      routes.append do
        get "/work", to: lambda { |_env|
          ActiveSupport::Notifications.instrument("task.completed.tasker", status: "complete", namespace: "rails") { :done }
          [200, { "content-type" => "text/plain" }, ["worked"]]
        }
      end
    end
    Object.const_set(:TaskerMetricsSpecApp, app)
    app.initialize!
    app
  end
end
