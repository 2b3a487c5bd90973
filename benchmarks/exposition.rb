# frozen_string_literal: true

# Issue 4: the cost of one scrape. 10 000 counter series + 1 000 histograms (about 24 000 lines),
# against prometheus-client-mmap rendering the same data with its C renderer; gzip; scaling.
require_relative "support/harness"
require "tasker_metrics"

require_relative "support/mmap_peer"

def populate(registry, counters:, histograms:)
  requests = registry.counter(:bench_requests_total, docstring: "Requests", labels: %i[route status], max_series: [counters, 1].max)
  counters.times { |i| requests.increment(by: (i % 7) + 1, labels: { route: "/r#{i / 100}", status: (i % 100).to_s }) }
  latency = registry.histogram(:bench_latency_seconds, docstring: "Latency", labels: %i[route])
  histograms.times { |i| latency.observe((i % 50) / 10.0, labels: { route: "/r#{i}" }) }
  registry
end

ours = populate(TaskerMetrics::Registry.new, counters: 10_000, histograms: 1_000)
lines = ours.export.lines.count { |l| !l.start_with?("#") }

peer_counter = Prometheus::Client::Counter.new(:bench_requests_total, "Requests")
10_000.times { |i| peer_counter.increment({ route: "/r#{i / 100}", status: (i % 100).to_s }, (i % 7) + 1) }
peer_histogram = Prometheus::Client::Histogram.new(:bench_latency_seconds, "Latency")
1_000.times { |i| peer_histogram.observe({ route: "/r#{i}" }, (i % 50) / 10.0) }
peer_text = Prometheus::Client::Formats::Text.marshal_multiprocess(MMAP_PEER_DIR)
peer_lines = peer_text.lines.count { |l| !l.start_with?("#") }

export_peer = -> { Prometheus::Client::Formats::Text.marshal_multiprocess(MMAP_PEER_DIR) }
cases = {
  "tasker_metrics: export (0.0.4)" => -> { ours.export },
  "tasker_metrics: export (OpenMetrics)" => -> { ours.export(format: :openmetrics) },
  "tasker_metrics: export + gzip level 1" => -> { ours.export_gzip },
  "tasker_metrics: export (protobuf)" => -> { ours.export(format: :protobuf) },
  "prometheus-client-mmap: marshal_multiprocess (C)" => export_peer,
}
results = Harness.measure(cases)
plain = results.fetch("tasker_metrics: export (0.0.4)")
peer = results.fetch("prometheus-client-mmap: marshal_multiprocess (C)")
gz = results.fetch("tasker_metrics: export + gzip level 1")
speedup = peer / plain
Harness.table(
  "Scrape: #{lines} sample lines (peer: #{peer_lines}) (#{Harness.machine})", results,
  reference: "tasker_metrics: export (0.0.4)",
  checks: {
    "tasker_metrics: export (0.0.4)" => ["≤ 3 ms and ≥ 10× faster than mmap (#{format("%.1f", speedup)}×)", plain <= 3e6 && speedup >= 10],
    "tasker_metrics: export + gzip level 1" => ["≤ 6 ms", gz <= 6e6],
  },
)

scaling = [1_000, 10_000, 100_000].to_h do |n|
  registry = populate(TaskerMetrics::Registry.new, counters: n, histograms: 0)
  ["#{n} counter series", -> { registry.export }]
end
per_series = Harness.measure(scaling)
per_ns = per_series.to_h { |label, total| [label, total / Integer(label[/\d+/])] }
scaling_checks = per_ns.transform_values do |cost|
  ["#{format("%.0f", cost)} ns per series, ≤ 2× the 1k cost", cost <= 2 * per_ns.values.first]
end
Harness.table("Scaling (#{Harness.machine})", per_series, reference: "1000 counter series", checks: scaling_checks)
