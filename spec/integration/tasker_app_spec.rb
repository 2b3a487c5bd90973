# frozen_string_literal: true

require "rack/test"

# A Rails app with Tasker's engine (a stand-in with Tasker's metrics route, controller and auth):
# the gem serves Tasker's route only through Tasker's controller, so Tasker's auth keeps applying.
RSpec.describe "A Tasker app on the gem" do
  def in_tasker_app(config = {}, mount: "/tasker")
    ForkHelper.in_child { yield Rack::MockRequest.new(RailsApp.boot(config, tasker: { mount: mount, token: "tasker-secret" })) }
  end

  it "keeps Tasker's metrics route behind Tasker's auth, served by Tasker's controller through the native exporter" do
    seen = in_tasker_app do |http|
      http.get("/work")
      authorised = http.get("/tasker/metrics", "HTTP_AUTHORIZATION" => "Bearer tasker-secret")
      { anonymous: http.get("/tasker/metrics").status, status: authorised.status, body: authorised.body,
        exporter: Tasker::Telemetry::PrometheusExporter, gem_path: http.get("/metrics").status, }
    end
    expect(seen).to be_a(Hash), seen.to_s
    expect(seen[:anonymous]).to eq(401)
    expect(seen[:status]).to eq(200)
    expect(seen[:body]).to start_with("# Tasker metrics export\n")
    expect(seen[:body]).to include('task_completed_total{namespace="rails",status="complete"} 1')
    expect(seen[:exporter]).to eq(TaskerMetrics::PrometheusExporter)
    expect(seen[:gem_path]).to eq(200)
  end

  it "refuses at boot a gem path equal to Tasker's metrics route, saying why" do
    seen = in_tasker_app({ path: "/tasker/metrics" }) { :booted }
    expect(seen).to start_with("ArgumentError: tasker_metrics path \"/tasker/metrics\" is Tasker's metrics route: " \
                               "Tasker::MetricsController serves it with Tasker's authentication and authorization")
  end

  it "finds Tasker's route where the app mounted the engine" do
    refused = in_tasker_app({ path: "/ops/tasker/metrics" }, mount: "/ops/tasker") { :booted }
    expect(refused).to start_with("ArgumentError: tasker_metrics path \"/ops/tasker/metrics\" is Tasker's metrics route")
    seen = in_tasker_app({ path: "/tasker/metrics" }, mount: "/ops/tasker") do |http|
      { gem: http.get("/tasker/metrics").status, tasker: http.get("/ops/tasker/metrics").status }
    end
    expect(seen).to eq(gem: 200, tasker: 401)
  end

  it "refuses at boot an exporter middleware added by hand whose path is Tasker's metrics route" do
    seen = ForkHelper.in_child do
      require "rails"
      Rails::Application.class_eval { initializer("hand_added") { |app| app.config.middleware.use(TaskerMetrics::Rack::Exporter, path: "/tasker/metrics") } }
      RailsApp.boot({ path: nil }, tasker: { mount: "/tasker", token: "t" })
      :booted
    end
    expect(seen).to start_with("ArgumentError: tasker_metrics path \"/tasker/metrics\" is Tasker's metrics route")
  end
end
