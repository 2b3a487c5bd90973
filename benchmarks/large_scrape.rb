# frozen_string_literal: true

# Issue 17: a 1,000,000-series exposition in bounded extra memory. Each way of scraping runs in
# a fresh child (forked after the series exist), which reports its peak RSS above what it had
# before the scrape (VmHWM after resetting it through /proc/self/clear_refs) and the time taken.
# The whole body (export) holds all the text; a stream holds one piece at a time, and the pieces
# a consumer has dropped wait for Ruby's GC (its malloc limit, 16-32 MiB), as the last row shows
# by freeing each one at once.
require_relative "support/harness"
require "tasker_metrics"

SERIES = Integer(ENV.fetch("LARGE_SERIES", "1000000"))

def rss_kib(field) = File.read("/proc/self/status")[/^#{field}:\s+(\d+)/, 1].to_i

# Runs the block in a fresh child; [extra peak MiB, milliseconds, body MiB].
def measured(&)
  reader, writer = IO.pipe
  pid = fork do
    reader.close
    writer.puts peak_above_current(&).join(" ")
    exit!(0)
  end
  writer.close
  Process.wait(pid)
  extra, seconds, bytes = reader.read.split.map(&:to_f)
  [extra / 1024.0, seconds * 1000, bytes / 1_048_576.0]
end

# [peak RSS KiB above the RSS before, seconds, what the block returned]
def peak_above_current
  GC.start
  File.write("/proc/self/clear_refs", "5") # peak RSS := current RSS
  before = rss_kib("VmRSS")
  started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
  bytes = yield
  [rss_kib("VmHWM") - before, Process.clock_gettime(Process::CLOCK_MONOTONIC) - started, bytes]
end

registry = TaskerMetrics::Registry.new
jobs = registry.counter(:jobs_total, docstring: "Jobs", labels: %i[queue], max_series: SERIES)
SERIES.times { |i| jobs.increment(labels: { queue: "queue-#{i}" }) }

rows = {
  "export (one String)" => -> { registry.export.bytesize },
  "export_gzip (one String)" => -> { registry.export_gzip.bytesize },
  "export_stream, each piece" => -> { registry.export_stream.sum(&:bytesize) },
  "export_stream(gzip: true), each piece" => -> { registry.export_stream(gzip: true).sum(&:bytesize) },
  # What the stream itself holds: each piece freed once "written", rather than left to the GC.
  "export_stream, each piece freed after use" => -> { registry.export_stream.sum { |piece| piece.bytesize.tap { piece.clear } } },
}.transform_values { |scrape| measured(&scrape) }

puts "\n### A #{SERIES}-series scrape: extra peak memory (#{Harness.machine})\n\n"
puts "| scrape | body | extra peak RSS | time |"
puts "|---|---:|---:|---:|"
rows.each do |name, (extra, ms, mib)|
  puts format("| %<name>s | %<mib>.1f MiB | %<extra>.1f MiB | %<ms>.0f ms |", name: name, mib: mib, extra: extra, ms: ms)
end
