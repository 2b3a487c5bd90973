# frozen_string_literal: true

# A minimal Rails app built from Debian's railties and actionpack: no generator, no database.
# Boot it only in a forked child (see railtie_spec), since a Rails app is process-global.
module RailsApp
  module_function

  # @param options [Hash]
  #   +tasker:+ +{mount:, token:}+ also mounts a stand-in for Tasker's engine (see
  #   {TaskerStandIn}) at +mount+, its metrics route requiring +token+;
  #   +log:+ where the app's logger writes (debug level);
  #   +initializer:+ a Proc run as one of the app's own initializers, after the gem's, as
  #   config/initializers/*.rb are;
  #   +more_routes:+ a Proc drawing more routes;
  #   +hosts:+ Rails' allowed hosts (default: any)
  def boot(metrics_config = {}, **options)
    require "rails"
    require "action_controller/railtie"
    require "tasker_metrics"
    require "tasker_metrics/railtie"
    TaskerStandIn.define(token: options[:tasker][:token]) if options[:tasker]
    app = Class.new(Rails::Application)
    configure(app, metrics_config, options)
    Object.const_set(:TaskerMetricsSpecApp, app)
    app.initialize!
    app
  end

  def configure(app, metrics_config, options)
    config = app.config
    config.eager_load = false
    config.logger = Logger.new(options[:log]).tap { |l| l.level = Logger::DEBUG }
    config.secret_key_base = "x" * 64
    config.hosts.replace(Array(options[:hosts]))
    metrics_config.each { |key, value| config.tasker_metrics[key] = value }
    app.initializer("spec.app_initializer", &options[:initializer]) if options[:initializer]
    draw_routes(app, options[:more_routes], options[:tasker])
  end

  def draw_routes(app, more_routes, tasker)
    app.routes.append do
      instance_exec(&more_routes) if more_routes
      mount Tasker::Engine => tasker[:mount] if tasker
      get "/work", to: lambda { |_env|
        ActiveSupport::Notifications.instrument("task.completed.tasker", status: "complete", namespace: "rails") { :done }
        [200, { "content-type" => "text/plain" }, ["worked"]]
      }
    end
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
