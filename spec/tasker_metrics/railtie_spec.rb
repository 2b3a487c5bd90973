# frozen_string_literal: true

require "rack/test"

# The Railtie is only loaded inside a Rails app, so it is described by name.
RSpec.describe "TaskerMetrics::Railtie" do
  # Boots the app in a child process and returns what the block saw there.
  def in_rails_app(config = {})
    ForkHelper.in_child { yield Rack::MockRequest.new(RailsApp.boot(config)) }
  end

  it "serves metrics at the configured path and records instrumented events" do
    seen = in_rails_app(path: "/tasker/metrics") do |http|
      http.get("/work")
      scrape = http.get("/tasker/metrics")
      { status: scrape.status, type: scrape.content_type, body: scrape.body, frozen: TaskerMetrics.configuration.frozen?,
        default_path: http.get("/metrics").status, }
    end
    expect(seen).to be_a(Hash), seen.to_s
    expect(seen[:status]).to eq(200)
    expect(seen[:type]).to eq("text/plain; version=0.0.4; charset=utf-8")
    expect(seen[:body]).to include('task_completed_total{namespace="rails",status="complete"} 1')
    expect(seen[:frozen]).to be(true)
    expect(seen[:default_path]).to eq(404)
  end

  it "applies auth and lets config/initializers configure the gem before it is frozen" do
    seen = in_rails_app(auth: { bearer_token: "t0k" }) do |http|
      { anonymous: http.get("/metrics").status, authorised: http.get("/metrics", "HTTP_AUTHORIZATION" => "Bearer t0k").status,
        late: begin
          TaskerMetrics.configure { |c| c.path = "/x" }
        rescue FrozenError => e
          e.message
        end, }
    end
    expect(seen).to include(anonymous: 401, authorised: 200)
    expect(seen[:late]).to start_with("TaskerMetrics is already installed")
  end

  it "can be disabled" do
    seen = in_rails_app(enabled: false, subscribe: false) do |http|
      http.get("/work")
      { status: http.get("/metrics").status, recorded: TaskerMetrics.registry.export.include?("task_completed_total") }
    end
    expect(seen).to eq(status: 503, recorded: false)
  end

  it "refuses invalid settings at boot" do
    seen = in_rails_app(path: "metrics") { :booted }
    expect(seen).to start_with("ArgumentError: tasker_metrics setting path is invalid")
  end
end
