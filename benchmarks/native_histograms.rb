# frozen_string_literal: true

# Issue 15: native histograms. Observing must cost about what a classic observe does (within
# 1.5×) and stay ≥ 10× faster than prometheus-client-mmap's classic observe; a protobuf scrape of
# 1,000 native series against 1,000 classic ones.
require_relative "support/harness"
require "tasker_metrics"

require_relative "support/mmap_peer"

registry = TaskerMetrics::Registry.new
classic = registry.histogram(:bench_classic_seconds, docstring: "Classic", labels: %i[route])
native = registry.histogram(:bench_native_seconds, docstring: "Native", labels: %i[route], native: true)
native_only = registry.histogram(:bench_native_only_seconds, docstring: "Native only", labels: %i[route], buckets: [], native: true)
labels = { route: "/r" }
held_classic = classic.with_labels(**labels)
held_native = native.with_labels(**labels)
peer = Prometheus::Client::Histogram.new(:bench_peer_seconds, "Peer")
# The same spread of values for every case: 2.5 ms … 7 s, cycled.
VALUES = Array.new(1024) { |i| Math.exp(-6 + (8.0 * i / 1024)) }.freeze
[classic, native, native_only].each { |h| VALUES.each { |v| h.observe(v, labels: labels) } }
i = 0

results = Harness.measure({
                            "classic: held handle observe" => "held_classic.observe(VALUES[(i += 1) & 1023])",
                            "native + classic: held handle observe" => "held_native.observe(VALUES[(i += 1) & 1023])",
                            "classic: observe(v, labels:)" => "classic.observe(VALUES[(i += 1) & 1023], labels: labels)",
                            "native + classic: observe(v, labels:)" => "native.observe(VALUES[(i += 1) & 1023], labels: labels)",
                            "native only: observe(v, labels:)" => "native_only.observe(VALUES[(i += 1) & 1023], labels: labels)",
                            "prometheus-client-mmap: classic observe" => "peer.observe(labels, VALUES[(i += 1) & 1023])",
                          }, binding,)
ratio = ->(a, b) { results.fetch(a) / results.fetch(b) }
held = ratio.call("native + classic: held handle observe", "classic: held handle observe")
labelled = ratio.call("native + classic: observe(v, labels:)", "classic: observe(v, labels:)")
vs_mmap = ratio.call("prometheus-client-mmap: classic observe", "native + classic: observe(v, labels:)")
Harness.table(
  "Native histogram observe (#{Harness.machine})", results,
  reference: "classic: observe(v, labels:)",
  checks: {
    "native + classic: held handle observe" => ["≤ 1.5× classic held (#{format("%.2f", held)}×)", held <= 1.5],
    "native + classic: observe(v, labels:)" => [
      "≤ 1.5× classic (#{format("%.2f",
                                labelled,)}×), ≥ 10× faster than mmap (#{format("%.1f", vs_mmap)}×)", labelled <= 1.5 && vs_mmap >= 10,
    ],
  },
)

def scrape_registry(native)
  registry = TaskerMetrics::Registry.new
  h = registry.histogram(:bench_latency_seconds, docstring: "Latency", labels: %i[route], native: native)
  1_000.times { |s| 20.times { |k| h.observe(VALUES[((s * 37) + (k * 53)) & 1023], labels: { route: "/r#{s}" }) } }
  registry
end
classic_registry = scrape_registry(false)
native_registry = scrape_registry(true)
scrapes = Harness.measure({
                            "1,000 classic series: export (protobuf)" => -> { classic_registry.export(format: :protobuf) },
                            "1,000 native + classic series: export (protobuf)" => -> { native_registry.export(format: :protobuf) },
                            "1,000 classic series: export (0.0.4)" => -> { classic_registry.export },
                            "1,000 native + classic series: export (0.0.4)" => -> { native_registry.export },
                          })
Harness.table("Scrape of 1,000 histogram series, 20 observations each (#{Harness.machine})", scrapes,
              reference: "1,000 classic series: export (protobuf)", checks: {},)
