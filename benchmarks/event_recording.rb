# frozen_string_literal: true

# Issue 3: the cost of recording one Tasker event, against a pure-Ruby backend with Tasker's design.
require_relative "support/harness"
require_relative "reference/tasker_reference"
require "tasker_metrics"

payload = { status: "complete", handler_class: "Orders::ShipHandler", namespace: "orders", duration: 0.042 }
reference = TaskerReference::Router.new(TaskerReference::Backend.new)
router = TaskerMetrics::EventRouter.instance
backend = TaskerMetrics::MetricsBackend.instance

results = Harness.measure({
                            "TaskerMetrics.record(\"step.completed\", payload)" => 'TaskerMetrics.record("step.completed", payload)',
                            "TaskerMetrics.record(\"step.retry.requested\", payload): Tasker's dotted name" =>
                              'TaskerMetrics.record("step.retry.requested", payload)',
                            "EventRouter#route_event (native)" => 'router.route_event("step.completed", payload)',
                            "EventRouter#route_event(\"step.retry.requested\"): Tasker's dotted name" =>
                              'router.route_event("step.retry.requested", payload)',
                            "MetricsBackend#handle_event (native)" => 'backend.handle_event("step.completed", payload)',
                            "pure-Ruby reference (Tasker's design)" => 'reference.route_event("step.completed", payload)',
                          }, binding,)
record = results.fetch("TaskerMetrics.record(\"step.completed\", payload)")
ref = results.fetch("pure-Ruby reference (Tasker's design)")
Harness.table(
  "Event recording: step.completed with status, handler, namespace and duration (#{Harness.machine})", results,
  reference: "pure-Ruby reference (Tasker's design)",
  checks: {
    "TaskerMetrics.record(\"step.completed\", payload)" => [
      "≤ 600 ns and ≥ 10× faster than the reference (#{format("%.1f", ref / record)}×)", record <= 600 && ref / record >= 10,
    ],
  },
)
