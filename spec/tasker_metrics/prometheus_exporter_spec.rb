# frozen_string_literal: true

require "delegate"

RSpec.describe TaskerMetrics::PrometheusExporter do
  subject(:exporter) { described_class.new }

  let(:backend) { TaskerMetrics::MetricsBackend.instance }

  it "exports an empty string when there are no metrics" do
    expect(exporter.export).to eq("")
  end

  it "starts with Tasker's header and groups counters, gauges, histograms" do
    backend.histogram("step_duration_seconds").observe(0.2)
    backend.gauge("queue_size").set(4)
    backend.counter("task_completed_total", status: "ok").increment
    text = exporter.export
    lines = text.lines(chomp: true)
    expect(lines[0]).to eq("# Tasker metrics export")
    expect(lines[1]).to match(/\A# GENERATED \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\z/)
    expect(lines[2]).to eq("# TOTAL_METRICS 3")
    types = lines.grep(/^# TYPE/).map { |l| l.split.last }
    expect(types).to eq(%w[counter gauge histogram])
    expect(text).to include('task_completed_total{status="ok"} 1', "queue_size 4", 'step_duration_seconds_bucket{le="+Inf"} 1')
  end

  {
    "task_completed_total" => "Total number of tasks processed",
    "task_duration_seconds" => "Task execution duration in seconds",
    "step_completed_total" => "Total number of steps executed",
    "step_duration_seconds" => "Step execution duration in seconds",
    "workflow_runs_total" => "Total number of workflow orchestrations",
    "events_published_total" => "Total number of events published",
    "error_count_total" => "Total number of errors encountered",
    "queue_size" => "Current queue size",
    "active_db_connections" => "Number of active connections",
    "something_else" => "Tasker gauge metric: something_else",
  }.each do |name, help|
    it "gives #{name} the HELP text #{help.inspect}" do
      name.end_with?("_total") ? backend.counter(name).increment : backend.gauge(name).set(1)
      expect(exporter.export).to include("# HELP #{name} #{help}\n")
    end
  end

  it "has a safe_export that reports success and failure without raising" do
    backend.counter("a_total").increment
    ok = exporter.safe_export
    expect(ok).to include(success: true, total_metrics: 1)
    expect(ok[:data]).to start_with("# Tasker metrics export")
    expect(ok[:timestamp]).to match(/\A\d{4}-/)
    broken = described_class.new(Object.new)
    expect(broken.safe_export).to include(success: false, total_metrics: 0)
    expect(broken.safe_export[:error]).to be_a(String)
  end

  it "gives the gem's own metrics their own HELP, not Tasker's name patterns" do
    TaskerMetrics.record("task.completed", {})
    TaskerMetrics::MetricTypes::Counter.new("jobs").increment("x")
    text = exporter.export
    expect(text).to include("# HELP tasker_events_total Events routed to metrics, by event name\n")
    expect(text).to include("# HELP tasker_metrics_refused_increments_total Counter increments refused because the amount " \
                            "was not an Integer, by metric\n")
  end

  it "takes nil as MetricsBackend.instance, as Tasker's does" do
    backend.counter("a_total").increment
    expect(described_class.new(nil).export).to include("a_total 1")
  end

  describe "with any backend that has Tasker's export" do
    def backend_exporting(metrics, total: metrics.size, timestamp: "2023-06-23T10:39:42Z")
      data = { timestamp: timestamp, total_metrics: total, metrics: metrics }
      described_class.new(Struct.new(:data) { def export = data }.new(data))
    end

    let(:mixed) do
      {
        'task_completed_total{handler="ProcessOrder",status="success"}' =>
          { name: "task_completed_total", type: :counter, value: 125, labels: { status: "success", handler: "ProcessOrder" } },
        "api_requests_total" => { name: "api_requests_total", type: :counter, value: 847, labels: { endpoint: "/tasks", method: "POST" } },
        "active_connections" => { name: "active_connections", type: :gauge, value: 42, labels: { database: "primary" } },
        "request_duration_seconds" => { name: "request_duration_seconds", type: :histogram, count: 156, sum: 78.3,
                                        buckets: { 0.1 => 45, 0.5 => 120, 1.0 => 156, "Inf" => 156 }, labels: { endpoint: "/tasks" }, },
      }
    end

    it "renders what the backend's export returns: its header values, labels in the order given, Ruby's le text, +Inf" do
      text = backend_exporting(mixed, total: 4).export
      expect(text).to start_with("# Tasker metrics export\n# GENERATED 2023-06-23T10:39:42Z\n# TOTAL_METRICS 4\n")
      expect(text).to include("# HELP task_completed_total Total number of tasks processed\n# TYPE task_completed_total counter\n" \
                              "task_completed_total{status=\"success\",handler=\"ProcessOrder\"} 125\n")
      expect(text).to include("# HELP api_requests_total Tasker counter metric: api_requests_total\n",
                              'api_requests_total{endpoint="/tasks",method="POST"} 847',
                              "# HELP active_connections Number of active connections\n", 'active_connections{database="primary"} 42',
                              'request_duration_seconds_bucket{endpoint="/tasks",le="0.1"} 45',
                              'request_duration_seconds_bucket{endpoint="/tasks",le="1.0"} 156',
                              'request_duration_seconds_bucket{endpoint="/tasks",le="+Inf"} 156',
                              'request_duration_seconds_sum{endpoint="/tasks"} 78.3', 'request_duration_seconds_count{endpoint="/tasks"} 156',)
      expect(text.lines.grep(/^# TYPE/).map { |l| l.split.last }).to eq(%w[counter counter gauge histogram])
    end

    it "names each series by its name, not the backend's key, with one HELP and TYPE per name" do
      series = %w[a b].to_h { |v| ["jobs{q=#{v}}", { name: "jobs", type: :counter, value: 1, labels: { q: v } }] }
      text = backend_exporting(series).export
      expect(text.scan("# TYPE jobs counter").size).to eq(1)
      expect(text).to include(%(jobs{q="a"} 1\njobs{q="b"} 1\n))
    end

    it "escapes label values" do
      labels = { "q" => 'say "hi"', "b" => "a\\b", "n" => "x\ny" }
      text = backend_exporting({ "t" => { name: "t", type: :counter, value: 1, labels: labels } }).export
      expect(text).to include(%(t{q="say \\"hi\\"",b="a\\\\b",n="x\\ny"} 1))
    end

    it "is empty when the backend has no metrics" do
      expect(backend_exporting({}).export).to eq("")
    end

    it "is accepted by promtool", :promtool do
      skip "promtool is not installed" unless Promtool.available?
      expect(backend_exporting(mixed).export).to pass_promtool
    end

    it "gives the same text for the native backend as its generic path does over that backend's export" do
      backend.counter("orders_total", region: "eu").increment(3)
      backend.gauge("depth").set(2.5)
      TaskerMetrics.record("step.completed", { status: "ok", handler_class: "Ship", duration: 0.2 })
      through_export = described_class.new(SimpleDelegator.new(backend)) # not the native backend: the Hash path
      strip = ->(t) { t.sub(/^# GENERATED .*$/, "") }
      expect(strip.call(through_export.export)).to eq(strip.call(exporter.export))
    end
  end

  describe "when the export fails" do
    let(:failing) { described_class.new(Struct.new(:x) { def export = raise(StandardError, "Backend failure") }.new) }

    it "logs Tasker's JSON error line and answers the fallback exposition with a counter of failures" do
      logged = []
      allow(TaskerMetrics).to receive(:log) { |level, message| logged << [level, message] }
      first = failing.export
      expect(first).to start_with("# Export error fallback metric\n")
      expect(first).to include("# TYPE tasker_metrics_export_errors_total counter\n", %(tasker_metrics_export_errors_total{error="StandardError"} 1\n))
      expect(failing.export).to include(%(tasker_metrics_export_errors_total{error="StandardError"} 2\n))
      expect(logged.first.first).to eq(:error)
      expect(JSON.parse(logged.first.last)).to include("message" => "Prometheus export failed", "error" => "Backend failure",
                                                       "component" => "prometheus_exporter",)
    end

    it "makes safe_export report the failure" do
      allow(TaskerMetrics).to receive(:log)
      expect(failing.safe_export).to include(success: false, error: "Backend failure", total_metrics: 0)
    end

    it "refuses, through the fallback, metric data it cannot render validly" do
      allow(TaskerMetrics).to receive(:log)
      bad = described_class.new(Struct.new(:x) { def export = { metrics: { "x" => { name: "bad name", type: :gauge, value: 1 } } } }.new)
      expect(bad.safe_export).to include(success: false, error: /invalid metric name "bad name"/)
      expect(bad.export).to include('tasker_metrics_export_errors_total{error="ArgumentError"}')
    end
  end

  describe "with Tasker's telemetry configuration" do
    def configure_tasker(metrics_enabled:)
      telemetry = Struct.new(:metrics_enabled, :metrics_retention_hours).new(metrics_enabled, nil)
      configuration = Struct.new(:telemetry).new(telemetry)
      stub_const("Tasker::Configuration", Module.new).define_singleton_method(:configuration) { configuration }
    end

    it "exports nothing when Tasker's metrics_enabled is false, whatever the backend holds" do
      backend.counter("a_total").increment
      configure_tasker(metrics_enabled: false)
      expect(exporter.export).to eq("")
      expect(exporter.safe_export).to include(success: true, data: "")
    end

    it "exports when it is true" do
      backend.counter("a_total").increment
      configure_tasker(metrics_enabled: true)
      expect(exporter.export).to include("a_total 1")
    end
  end

  describe "a realistic workload" do
    include_context "with promtool"

    it "is accepted by promtool check metrics" do
      router = TaskerMetrics::EventRouter.instance
      200.times do |i|
        router.route_event("task.completed", status: "complete", handler_class: "Orders::Ship\"ment\"", namespace: "orders",
                                             duration: i / 100.0,)
        router.route_event("step.failed", status: "error", handler_class: "Charge\nCard", execution_duration: 0.01)
        router.route_event("workflow.viable_steps_discovered", {})
      end
      backend.handle_event("workflow.iteration.done", active_task_count: 3, iteration_duration: 0.5)
      backend.handle_event("system.health.check", healthy_task_count: 10, failed_task_count: 1)
      text = exporter.export
      expect(text).to pass_promtool
      expect(TaskerMetrics.registry.export).to pass_promtool
    end
  end
end
