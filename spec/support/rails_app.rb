# frozen_string_literal: true

# A minimal Rails app built from Debian's railties and actionpack: no generator, no database.
# Boot it only in a forked child (see railtie_spec), since a Rails app is process-global.
module RailsApp
  module_function

  # @param tasker [Hash, nil] +{mount:, token:}+: also mount a stand-in for Tasker's engine
  #   (see {TaskerStandIn}) at +mount+, its metrics route requiring +token+
  # @param log [IO, nil] where the app's logger writes (debug level)
  # @param initializer [Proc, nil] run as one of the app's own initializers, after the gem's,
  #   as config/initializers/*.rb are
  # @param more_routes [Proc, nil] more routes
  def boot(metrics_config = {}, tasker: nil, log: nil, initializer: nil, more_routes: nil)
    require "rails"
    require "action_controller/railtie"
    require "tasker_metrics"
    require "tasker_metrics/railtie"
    TaskerStandIn.define(token: tasker[:token]) if tasker
    extra_routes = more_routes

    app = Class.new(Rails::Application) do
      config.eager_load = false
      config.logger = Logger.new(log).tap { |l| l.level = Logger::DEBUG }
      config.secret_key_base = "x" * 64
      config.hosts.clear if config.respond_to?(:hosts)
      metrics_config.each { |key, value| config.tasker_metrics[key] = value }
      initializer("spec.app_initializer", &initializer) if initializer
      routes.append do
        instance_exec(&extra_routes) if extra_routes
        mount Tasker::Engine => tasker[:mount] if tasker
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

# Stand-ins for the parts of Tasker (tasker-engine at ed368972) that meet the gem in a Rails app:
# its engine with the metrics route, its MetricsController (authentication when
# telemetry.metrics_auth_required, then PrometheusExporter#safe_export), and its configuration.
module TaskerStandIn
  module_function

  def define(token:)
    telemetry = Struct.new(:enabled, :metrics_enabled, :metrics_auth_required, :metrics_retention_hours).new(true, true, true, nil)
    configuration = Struct.new(:telemetry).new(telemetry)
    # Other examples may have loaded the gem's Tasker constants into this process already.
    tasker = defined?(::Tasker) ? ::Tasker : Object.const_set(:Tasker, Module.new)
    tasker.const_set(:Configuration, Module.new).define_singleton_method(:configuration) { configuration }
    engine = tasker.const_set(:Engine, Class.new(Rails::Engine) { isolate_namespace(tasker) })
    tasker.const_set(:MetricsController, metrics_controller(token))
    # Appended, not drawn: the app's route reloader clears what was drawn before it boots.
    engine.routes.append { get "/metrics", to: "metrics#index" }
  end

  def metrics_controller(token)
    Class.new(ActionController::Base) do
      before_action do
        next unless Tasker::Configuration.configuration.telemetry.metrics_auth_required

        head(:unauthorized) unless request.headers["Authorization"] == "Bearer #{token}"
      end

      define_method(:index) do
        response.headers["Cache-Control"] = "no-cache, no-store, must-revalidate"
        result = Tasker::Telemetry::PrometheusExporter.new.safe_export
        if result[:success]
          render plain: result[:data], content_type: "text/plain; charset=utf-8"
        else
          render json: { error: "Metrics export failed", message: result[:error] }, status: :service_unavailable
        end
      end
    end
  end
end
