# frozen_string_literal: true

# Issue 6: scrape latency under load. wrk (2 threads, 8 connections) against Puma serving
# /metrics over 10 000 series while a writer thread runs, for LOAD_SECONDS (default 20).
require_relative "support/harness"
require_relative "support/wrk"

abort "wrk and puma are needed (Debian packages)" unless Wrk.available?
seconds = Integer(ENV.fetch("LOAD_SECONDS", "20"))
result = Wrk.run(seconds: seconds)
puts "\n### Load: wrk -t2 -c8 -d#{seconds}s on /metrics, 10 000 series, writers running (#{Harness.machine})\n\n"
puts "| requests | req/s | p50 | p99 | non-200 | socket errors |"
puts "|---:|---:|---:|---:|---:|---|"
puts "| #{result[:requests]} | #{result[:rps].round(1)} | #{result[:p50_ms]&.round(2)} ms | #{result[:p99_ms]&.round(2)} ms | " \
     "#{result[:non2xx]} | #{result[:socket_errors] || "none"} |"
