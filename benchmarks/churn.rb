# frozen_string_literal: true

# Issue 13's churn soak: CHURN_ROUNDS (default 1 000 000) rounds of creating a series, counting
# it and removing it, with a scrape every 10 000 rounds, in multi-process mode and in-process.
# Prints RSS and file growth, the figures the README's Guarantees state.
require_relative "support/harness"
require "tasker_metrics"
require "tmpdir"
require "fileutils"

ROUNDS = Integer(ENV.fetch("CHURN_ROUNDS", "1000000"))

def rss_mib = File.read("/proc/self/status")[/VmRSS:\s+(\d+)/, 1].to_i / 1024.0

def soak(registry)
  jobs = registry.counter(:churn_total, docstring: "Churn", labels: %i[id])
  steady = jobs.with_labels(id: "steady")
  ROUNDS.times do |i|
    labels = { id: "round-#{i}" }
    jobs.increment(labels: labels)
    steady.increment
    jobs.remove(labels: labels)
    registry.export if (i % 10_000).zero?
  end
  started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
  text = registry.export
  scrape_ms = (Process.clock_gettime(Process::CLOCK_MONOTONIC) - started) * 1000
  raise "steady series lost: #{text[/churn_total\{id="steady"\} \S+/]}" unless text.include?(%(churn_total{id="steady"} #{ROUNDS}))

  scrape_ms
end

def run(mode)
  GC.start
  before = rss_mib
  dir = Dir.mktmpdir("bench-churn")
  registry = TaskerMetrics::Registry.new
  registry.enable_multiprocess(dir) if mode == :multiprocess
  scrape_ms = soak(registry)
  GC.start
  file = Dir.glob(File.join(dir, "proc-*")).sum { |f| File.size(f) }
  [mode, rss_mib - before, file / 1024.0 / 1024, scrape_ms]
ensure
  registry&.disable_multiprocess
  FileUtils.rm_rf(dir) if dir
end

rows = %i[in_process multiprocess].map { |mode| run(mode) }
puts "\n### Churn: #{ROUNDS} create/count/remove rounds, a scrape every 10 000 (#{Harness.machine})\n\n"
puts "| mode | RSS growth | file size | last scrape |"
puts "|---|---:|---:|---:|"
rows.each do |mode, rss, file, ms|
  puts format("| %<mode>s | %<rss>+.1f MiB | %<file>.1f MiB | %<ms>.1f ms |", mode: mode, rss: rss, file: file, ms: ms)
end
