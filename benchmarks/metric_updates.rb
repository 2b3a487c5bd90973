# frozen_string_literal: true

# Issue 2: the cost of one metric update, against the Ruby floor and prometheus-client-mmap.
require_relative "support/harness"
require "tasker_metrics"

require_relative "support/mmap_peer"

# The floor: the cheapest thing a Ruby method call can do to a number.
class Floor
  def initialize = @x = 0
  def increment = @x += 1
end

registry = TaskerMetrics::Registry.new
counter = registry.counter(:bench_requests_total, docstring: "Requests", labels: %i[a b])
bound = counter.with_labels(a: "x", b: "y")
labels = { a: "x", b: "y" }
peer = Prometheus::Client::Counter.new(:bench_requests_total, "Requests")
floor = Floor.new

results = Harness.measure({
                            "ruby floor (@x += 1)" => "floor.increment",
                            "held handle: bound.increment" => "bound.increment",
                            "labelled: counter.increment(labels: {a:, b:})" => "counter.increment(labels: labels)",
                            "prometheus-client-mmap: increment({a:, b:})" => "peer.increment(labels)",
                          }, binding,)
floor_ns = results.fetch("ruby floor (@x += 1)")
held = results.fetch("held handle: bound.increment")
labelled = results.fetch("labelled: counter.increment(labels: {a:, b:})")
mmap = results.fetch("prometheus-client-mmap: increment({a:, b:})")
Harness.table(
  "Metric updates (#{Harness.machine})", results,
  reference: "ruby floor (@x += 1)",
  checks: {
    "held handle: bound.increment" => ["≤ 1.3× floor", held <= 1.3 * floor_ns],
    "labelled: counter.increment(labels: {a:, b:})" => [
      "≤ 150 ns and ≥ 10× faster than mmap (#{format("%.1f", mmap / labelled)}×)", labelled <= 150 && mmap / labelled >= 10,
    ],
  },
)
