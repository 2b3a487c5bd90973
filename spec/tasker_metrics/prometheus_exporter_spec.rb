# frozen_string_literal: true

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
