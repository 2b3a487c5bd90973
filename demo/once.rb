# frozen_string_literal: true

# `bin/demo --once`: simulate a batch of workflows, print one Prometheus exposition.
$LOAD_PATH.unshift File.expand_path("../lib", __dir__)
require "tasker_metrics"
require_relative "workflow_simulator"

simulator = WorkflowSimulator.new
completed = simulator.run(Integer(ENV.fetch("TASKS", "200")))
warn "simulated #{simulator.published.values.sum} Tasker events over #{ENV.fetch("TASKS", "200")} tasks (#{completed} completed)"
print TaskerMetrics.registry.export
