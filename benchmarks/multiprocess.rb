# frozen_string_literal: true

# Issue 5: multi-process mode. The held increment on a shared mapping against the in-process
# one; a scrape merging 8 live writer processes (24 000 lines each, the same series) against
# prometheus-client-mmap's multiprocess rendering of the same; and scrape time after 1 000
# processes have written and exited, against the time with none.
require_relative "support/harness"
require "tasker_metrics"
require "tmpdir"
require "fileutils"

require_relative "support/mmap_peer"

MP_DIRS = [] # rubocop:disable Style/MutableConstant -- directories to remove at exit
at_exit { MP_DIRS.each { |d| FileUtils.rm_rf(d) } }

def shared_registry
  dir = Dir.mktmpdir("bench-mp")
  MP_DIRS << dir
  TaskerMetrics::Registry.new.enable_multiprocess(dir)
end

def populate(registry)
  requests = registry.counter(:bench_requests_total, docstring: "Requests", labels: %i[route status])
  10_000.times { |i| requests.increment(by: (i % 7) + 1, labels: { route: "/r#{i / 100}", status: (i % 100).to_s }) }
  latency = registry.histogram(:bench_latency_seconds, docstring: "Latency", labels: %i[route])
  1_000.times { |i| latency.observe((i % 50) / 10.0, labels: { route: "/r#{i}" }) }
  registry
end

def peer_populate
  counter = Prometheus::Client::Counter.new(:bench_requests_total, "Requests")
  10_000.times { |i| counter.increment({ route: "/r#{i / 100}", status: (i % 100).to_s }, (i % 7) + 1) }
  histogram = Prometheus::Client::Histogram.new(:bench_latency_seconds, "Latency")
  1_000.times { |i| histogram.observe({ route: "/r#{i}" }, (i % 50) / 10.0) }
end

# Forks `count` children that run the block and then wait; returns their pids once all are ready.
def writers(count)
  reader, writer = IO.pipe
  pids = Array.new(count) do
    fork do
      reader.close
      yield
      writer.puts "ready"
      sleep
    end
  end
  writer.close
  count.times { reader.gets }
  reader.close
  pids
end

def stop(pids)
  pids.each do |pid|
    Process.kill("KILL", pid)
    Process.wait(pid)
  end
end

# Held increments.
local = TaskerMetrics::Registry.new.counter(:held_total, docstring: "h", labels: %i[a]).with_labels(a: "x")
shared = shared_registry.counter(:held_total, docstring: "h", labels: %i[a])
shared_held = shared.with_labels(a: "x")
labels = { a: "x" }
held = Harness.measure({
                         "in-process: bound.increment" => "local.increment",
                         "multi-process: bound.increment" => "shared_held.increment",
                         "multi-process: increment(labels: {a:})" => "shared.increment(labels: labels)",
                       }, binding,)
ratio = held.fetch("multi-process: bound.increment") / held.fetch("in-process: bound.increment")
Harness.table("Multi-process updates (#{Harness.machine})", held,
              reference: "in-process: bound.increment",
              checks: { "multi-process: bound.increment" => ["≤ 1.1× in-process (#{format("%.2f", ratio)}×)", ratio <= 1.1] },)

# 8 live writers.
registry = populate(shared_registry)
ours = writers(8) { populate(registry) }
lines = registry.export.lines.count { |l| !l.start_with?("#") }
peer_pids = writers(8) do
  Prometheus::Client.reinitialize_on_pid_change(force: true)
  peer_populate
end
peer_text = Prometheus::Client::Formats::Text.marshal_multiprocess(MMAP_PEER_DIR)
peer_lines = peer_text.lines.count { |l| !l.start_with?("#") }
expected = (0...10_000).sum { |i| (i % 7) + 1 } * 9
total = Integer(registry.export.lines.grep(/^bench_requests_total/).sum { |l| Float(l.split.last) })
raise "merged total #{total} != #{expected}" unless total == expected

peer_export = -> { Prometheus::Client::Formats::Text.marshal_multiprocess(MMAP_PEER_DIR) }
scrape = Harness.measure({
                           "tasker_metrics: export, 8 writers + self" => -> { registry.export },
                           "prometheus-client-mmap: marshal_multiprocess, 8 writers" => peer_export,
                         })
stop(ours)
stop(peer_pids)
mine = scrape.fetch("tasker_metrics: export, 8 writers + self")
speedup = scrape.fetch("prometheus-client-mmap: marshal_multiprocess, 8 writers") / mine
target = "≤ 10 ms and ≥ 5× faster than mmap (#{format("%.1f", speedup)}×)"
Harness.table(
  "Multi-process scrape: 9 processes × #{lines} lines merged (peer: #{peer_lines}) (#{Harness.machine})", scrape,
  reference: "tasker_metrics: export, 8 writers + self",
  checks: {
    "tasker_metrics: export, 8 writers + self" => [target, mine <= 1e7 && speedup >= 5],
  },
)

# 1 000 exited processes, each having touched 50 of the 11 000 series, against a twin registry
# that saw none; both are scraped in the same rounds and compared round by round.
fresh = populate(shared_registry)
churned = populate(shared_registry)
counter = churned.get(:bench_requests_total)
20.times do |batch|
  pids = Array.new(50) do |n|
    fork do
      50.times { |k| counter.increment(labels: { route: "/r#{((batch * 50) + n + k) % 100}", status: (k % 100).to_s }) }
      exit!(0)
    end
  end
  pids.each { |pid| Process.wait(pid) }
end
churned.export # the first scrape after they exit folds their files into the archive
files = Dir.children(churned.multiprocess_dir).size
rounds = Harness.measure_rounds({ "export, no exited process" => -> { fresh.export },
                                  "export after 1 000 exited processes" => -> { churned.export }, },
                                rounds: [Harness::ROUNDS, 5].max,)
results = rounds.transform_values(&:min)
pairs = rounds.fetch("export after 1 000 exited processes").zip(rounds.fetch("export, no exited process"))
growth = Harness.median(pairs.map { |after, before| after / before })
Harness.table(
  "Multi-process churn: 1 000 processes written and exited, #{files} files left (#{Harness.machine})", results,
  reference: "export, no exited process",
  checks: { "export after 1 000 exited processes" => ["within 1.2× (median of paired rounds #{format("%.2f", growth)}×)", growth <= 1.2] },
)
