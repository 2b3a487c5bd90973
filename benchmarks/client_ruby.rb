# frozen_string_literal: true

# Issue 16: the client_ruby drop-in. A labelled increment and a histogram observe through the
# Prometheus::Client classes, against prometheus-client-mmap (≥ 10× faster) and against our
# native API (within 1.5×). mmap's Prometheus::Client and ours cannot share a process: mmap is
# measured in a child forked before the drop-in loads, its rounds alternating with ours.
require_relative "support/harness"

ROUNDS = Harness::ROUNDS
to_child_r, to_child_w = IO.pipe
from_child_r, from_child_w = IO.pipe
child = fork do
  to_child_w.close
  from_child_r.close
  require_relative "support/mmap_peer"
  counter = Prometheus::Client::Counter.new(:bench_requests_total, "Requests")
  histogram = Prometheus::Client::Histogram.new(:bench_latency_seconds, "Latency")
  labels = { a: "x", b: "y" }
  requests = Prometheus::Client::Counter.new(:bench_scrape_requests_total, "Requests")
  10_000.times { |i| requests.increment({ route: "/r#{i / 100}", status: (i % 100).to_s }, (i % 7) + 1) }
  latency = Prometheus::Client::Histogram.new(:bench_scrape_latency_seconds, "Latency")
  1_000.times { |i| latency.observe({ route: "/r#{i}" }, (i % 50) / 10.0) }
  rows = { "prometheus-client-mmap: increment({a:, b:})" => "counter.increment(labels)",
           "prometheus-client-mmap: observe({a:, b:}, v)" => "histogram.observe(labels, 0.042)",
           "prometheus-client-mmap: 24,000 lines (marshal_multiprocess, C)" =>
             -> { Prometheus::Client::Formats::Text.marshal_multiprocess(MMAP_PEER_DIR) }, }
  while to_child_r.gets
    Marshal.dump(Harness.measure_rounds(rows, binding, rounds: 1).transform_values(&:first), from_child_w)
    from_child_w.flush
  end
  exit!(0)
end
to_child_r.close
from_child_w.close

require "tasker_metrics/client_ruby"
native_registry = TaskerMetrics::Registry.new
native_counter = native_registry.counter(:bench_native_total, docstring: "Requests", labels: %i[a b])
native_histogram = native_registry.histogram(:bench_native_seconds, docstring: "Latency", labels: %i[a b])
client = Prometheus::Client::Registry.new
counter = client.counter(:bench_requests_total, docstring: "Requests", labels: %i[a b])
histogram = client.histogram(:bench_latency_seconds, docstring: "Latency", labels: %i[a b])
labels = { a: "x", b: "y" }
scrape = Prometheus::Client::Registry.new
requests = scrape.counter(:bench_scrape_requests_total, docstring: "Requests", labels: %i[route status])
10_000.times { |i| requests.increment(by: (i % 7) + 1, labels: { route: "/r#{i / 100}", status: (i % 100).to_s }) }
latency = scrape.histogram(:bench_scrape_latency_seconds, docstring: "Latency", labels: %i[route])
1_000.times { |i| latency.observe((i % 50) / 10.0, labels: { route: "/r#{i}" }) }
rows = {
  "Prometheus::Client: 24,000 lines (Formats::Text.marshal)" => -> { Prometheus::Client::Formats::Text.marshal(scrape) },
  "native: counter.increment(labels: {a:, b:})" => "native_counter.increment(labels: labels)",
  "Prometheus::Client: counter.increment(labels: {a:, b:})" => "counter.increment(labels: labels)",
  "native: histogram.observe(v, labels: {a:, b:})" => "native_histogram.observe(0.042, labels: labels)",
  "Prometheus::Client: histogram.observe(v, labels: {a:, b:})" => "histogram.observe(0.042, labels: labels)",
}
all = Hash.new { |h, k| h[k] = [] }
ROUNDS.times do
  to_child_w.puts("round")
  Marshal.load(from_child_r).each { |label, ns| all[label] << ns } # rubocop:disable Security/MarshalLoad -- our own child
  Harness.measure_rounds(rows, binding, rounds: 1).each { |label, (ns)| all[label] << ns }
end
to_child_w.close
Process.wait(child)
results = all.transform_values(&:min)

checks = [%w[counter.increment increment], %w[histogram.observe observe]].to_h do |(call, mmap_call)|
  ours = results.fetch(results.keys.find { |k| k.start_with?("Prometheus::Client: #{call}") })
  native = results.fetch(results.keys.find { |k| k.start_with?("native: #{call}") })
  mmap = results.fetch(results.keys.find { |k| k.start_with?("prometheus-client-mmap: #{mmap_call}") })
  label = results.keys.find { |k| k.start_with?("Prometheus::Client: #{call}") }
  [label, ["≤ 1.5× native (#{format("%.2f", ours / native)}×), ≥ 10× faster than mmap (#{format("%.1f", mmap / ours)}×)",
           ours <= 1.5 * native && mmap / ours >= 10,],]
end
ours = results.fetch("Prometheus::Client: 24,000 lines (Formats::Text.marshal)")
peer = results.fetch("prometheus-client-mmap: 24,000 lines (marshal_multiprocess, C)")
checks["Prometheus::Client: 24,000 lines (Formats::Text.marshal)"] = ["#{format("%.1f", peer / ours)}× faster than mmap", peer > ours]
Harness.table("client_ruby drop-in (#{Harness.machine})", results, reference: "native: counter.increment(labels: {a:, b:})", checks: checks)
