# frozen_string_literal: true

require "rack/test"
require "tempfile"

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

  describe "secure by default" do
    def in_rails_app(config = {}, **options)
      ForkHelper.in_child { yield Rack::MockRequest.new(RailsApp.boot(config, **options)) }
    end

    it "applies auth and path set by TaskerMetrics.configure in an app initializer (after the gem's)" do
      seen = in_rails_app(initializer: lambda { |_app|
        TaskerMetrics.configure do |c|
          c.path = "/ops/metrics"
          c.auth = { bearer_token: "from-initializer" }
        end
      }) do |http|
        { old_path: http.get("/metrics").status, anonymous: http.get("/ops/metrics").status,
          authorised: http.get("/ops/metrics", "HTTP_AUTHORIZATION" => "Bearer from-initializer").status, }
      end
      expect(seen).to eq(old_path: 404, anonymous: 401, authorised: 200)
    end

    it "gives a mounted Endpoint the configured auth and enabled unless it has its own" do
      routes = lambda do
        mount TaskerMetrics::Rack::Endpoint.new => "/ops/metrics"
        mount TaskerMetrics::Rack::Endpoint.new(auth: nil) => "/open/metrics"
      end
      seen = in_rails_app({ path: nil, auth: { basic: %w[prom secret] } }, more_routes: routes) do |http|
        credentials = "Basic #{["prom:secret"].pack("m0")}"
        { anonymous: http.get("/ops/metrics").status, authorised: http.get("/ops/metrics", "HTTP_AUTHORIZATION" => credentials).status,
          own: http.get("/open/metrics").status, middleware: http.get("/metrics").status, }
      end
      expect(seen).to eq(anonymous: 401, authorised: 200, own: 200, middleware: 404)
      disabled = in_rails_app({ path: nil, enabled: false }, more_routes: -> { mount TaskerMetrics::Rack::Endpoint.new => "/m" }) do |http|
        http.get("/m").status
      end
      expect(disabled).to eq(503)
    end

    it "answers scrapes before the Rails middleware: no request id, ETag or request log lines" do
      log = Tempfile.new("rails-log")
      seen = in_rails_app({}, log: log.path) do |http|
        scrape = http.get("/metrics")
        { first: Rails.application.middleware.first.klass, headers: scrape.headers.keys, status: scrape.status }
      end
      expect(seen[:status]).to eq(200)
      expect(seen[:first]).to eq(TaskerMetrics::Rack::Exporter)
      expect(seen[:headers]).not_to include("x-request-id", "X-Request-Id", "ETag", "etag")
      written = File.read(log.path)
      expect(written).not_to include('Started GET "/metrics"')
      expect(written.scan(/tasker_metrics: scrape prometheus \d+ bytes/).size).to eq(1)
      expect(written).to match(%r{tasker_metrics \S+: serving /metrics \(auth: none\), multi-process: off, subscribed: \d+ events})
    ensure
      log&.close!
    end

    it "answers scrapes before Rails' host authorization, which still guards the app" do
      seen = in_rails_app({ auth: { bearer_token: "t0k" } }, hosts: ["app.example"]) do |http|
        scrape = http.get("/metrics", "HTTP_HOST" => "10.0.0.5:9394", "HTTP_AUTHORIZATION" => "Bearer t0k")
        { scrape: scrape.status, app: http.get("/work", "HTTP_HOST" => "10.0.0.5:9394").status }
      end
      expect(seen).to eq(scrape: 200, app: 403)
    end

    it "sends the gem's warnings to Rails.logger, not stderr" do
      log = Tempfile.new("rails-log")
      seen = in_rails_app({}, log: log.path) do |_http|
        capped = TaskerMetrics.registry.counter(:capped_total, docstring: "c", labels: [:k], max_series: 1)
        capped.increment(labels: { k: "a" })
        capped.increment(labels: { k: "b" })
        File.read(log.path)
      end
      expect(seen).to include('metric "capped_total" reached its limit of 1 series')
    ensure
      log&.close!
    end

    it "defines the Railtie when the gem was required before Rails" do
      script = <<~RUBY
        require "tasker_metrics"
        raise "Railtie too early" if defined?(TaskerMetrics::Railtie)
        require "rails"
        require "action_controller/railtie"
        app = Class.new(Rails::Application) do
          config.eager_load = false
          config.logger = Logger.new(nil)
          config.secret_key_base = "x" * 64
        end
        app.initialize!
        print Rack::MockRequest.new(app).get("/metrics").status
      RUBY
      out = IO.popen([RbConfig.ruby, "-I", File.expand_path("../../lib", __dir__), "-e", script], err: %i[child out], &:read)
      expect(out).to eq("200")
    end

    it "gives derived histograms the configured buckets, and refuses bad ones at boot" do
      seen = in_rails_app({ derived_buckets: { "step_duration_seconds" => [0.5, 30] } }) do |_http|
        TaskerMetrics.record("step.completed", duration: 12)
        TaskerMetrics.registry.export[/step_duration_seconds_bucket\{le="30.0"\} 1/]
      end
      expect(seen).to eq('step_duration_seconds_bucket{le="30.0"} 1')
      refused = in_rails_app({ derived_buckets: { "queue_depth" => [1] } }) { :booted }
      expect(refused).to start_with("ArgumentError: derived_buckets names a derived histogram")
      unsorted = in_rails_app({ derived_buckets: { "task_duration_seconds" => [5, 1] } }) { :booted }
      expect(unsorted).to start_with("ArgumentError:")
    end

    it "gives derived duration histograms native buckets with config.tasker_metrics.native_histograms, reset! included" do
      seen = in_rails_app({ native_histograms: { factor: 2 } }) do |_http|
        [0.75, 3, 3.5].each { |d| TaskerMetrics.record("step.completed", duration: d) }
        TaskerMetrics.record("task.completed", duration: 1.5)
        step = TaskerMetrics::MetricsBackend.instance.histogram("step_duration_seconds")
        native = TaskerMetrics.registry.get(:step_duration_seconds).values.values.first.slice(:schema, :positive, :count)
        task = TaskerMetrics.registry.get(:task_duration_seconds).values.values.first.slice(:schema, :positive)
        step.reset!
        { native: native, task: task, after: TaskerMetrics.registry.get(:step_duration_seconds).values.values.first.slice(:count, :positive) }
      end
      expect(seen).to be_a(Hash), seen.to_s
      expect(seen[:native]).to eq(schema: 0, positive: { 0 => 1, 2 => 2 }, count: 3)
      expect(seen[:task]).to eq(schema: 0, positive: { 1 => 1 })
      expect(seen[:after]).to eq(count: 0, positive: {})
      refused = in_rails_app({ native_histograms: { factor: 0.5 } }) { :booted }
      expect(refused).to start_with("ArgumentError: native factor must be a finite number greater than 1")
      refused = in_rails_app({ native_histograms: "yes" }) { :booted }
      expect(refused).to start_with("ArgumentError:").and include("native_histograms")
    end
  end
end
