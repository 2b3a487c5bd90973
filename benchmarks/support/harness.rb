# frozen_string_literal: true

require "benchmark/ips"
require "etc"

# Runs benchmark-ips quietly and prints a Markdown table of ns/op and ratios against a reference
# measured in the same run, with each target checked. Used by every script in benchmarks/.
module Harness
  TIME = Float(ENV.fetch("BENCH_TIME", "0.25"))
  WARMUP = Float(ENV.fetch("BENCH_WARMUP", "0.15"))
  # Cases are measured in this many short alternating rounds and the fastest round is kept:
  # noise on a shared machine only ever adds time, so the minimum is the steadiest estimate.
  # Short rounds matter here: this machine's speed drifts by half and more over seconds, and
  # with one-second rounds a case often had no round in a fast moment.
  ROUNDS = Integer(ENV.fetch("BENCH_ROUNDS", "12"))

  module_function

  def machine
    cpu = File.read("/proc/cpuinfo")[/model name\s*:\s*(.+)/, 1] if File.exist?("/proc/cpuinfo")
    "#{cpu || RUBY_PLATFORM}, #{Etc.nprocessors} cores, ruby #{RUBY_VERSION}"
  end

  # Measures each case (see {loop_for}) in ROUNDS rounds; returns { label => fastest ns_per_op }.
  # String snippets see `ctx`.
  def measure(rows, ctx = binding) = measure_rounds(rows, ctx).transform_values(&:min)

  # As {measure}, but every round's ns_per_op: { label => [round 1, round 2, ...] }, for
  # differences between cases taken within the same round.
  def measure_rounds(rows, ctx = binding, rounds: ROUNDS)
    loops = rows.transform_values { |code| loop_for(code, ctx) }
    all = Hash.new { |h, k| h[k] = [] }
    rounds.times do
      report = Benchmark.ips(time: TIME, warmup: WARMUP, quiet: true) { |x| loops.each { |label, body| x.report(label, &body) } }
      report.entries.each { |e| all[e.label] << (1e9 / e.ips) }
    end
    all
  end

  # For costs that are a difference of two larger ones (a subscriber on top of
  # ActiveSupport's dispatch): every case runs `batch` iterations of `body.call(arg)` in
  # `batches` short batches, alternating with the others; returns { label => [ns per op, ...] }.
  # Noise only ever adds time, so compare the fastest batches (and print a paired median).
  def alternating_batches(cases, batch: 2_000, batches: Integer(ENV.fetch("BENCH_BATCHES", "300")))
    run = lambda do |arg|
      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      i = 0
      while i < batch
        yield(arg)
        i += 1
      end
      (Process.clock_gettime(Process::CLOCK_MONOTONIC) - started) * 1e9 / batch
    end
    cases.each_value { |arg| 20.times { run.call(arg) } } # warm-up
    out = cases.transform_values { [] }
    batches.times { cases.each { |label, arg| out[label] << run.call(arg) } }
    out
  end

  def median(values)
    sorted = values.sort
    mid = sorted.size / 2
    sorted.size.odd? ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2.0
  end

  # A block taking `times`. A String snippet, e.g. "x.increment", is compiled into
  #   ->(times) { i = 0; while i < times; x.increment; i += 1; end }
  # so the loop costs nothing per iteration; a zero-arity Proc (slow cases, where one block
  # call per iteration does not matter) is looped; a Proc taking `times` is used as it is.
  def loop_for(code, ctx)
    case code
    when String
      ctx.eval(<<~RUBY, __FILE__, __LINE__ + 1)
        ->(times) { i = 0; while i < times; #{code}; i += 1; end } # ->(times) { i = 0; while i < times; x.increment; i += 1; end }
      RUBY
    when Proc then code.arity.zero? ? ->(times) { times.times { code.call } } : code
    else raise ArgumentError, "a benchmark case is a String snippet or a Proc, got #{code.class}"
    end
  end

  # Prints a table; `checks` maps a label to [description, ok?].
  def table(title, results, reference: nil, checks: {})
    puts "\n### #{title}\n\n"
    puts "| case | ns/op | #{reference ? "× #{reference}" : ""} | target |"
    puts "|---|---:|---:|---|"
    results.each do |label, ns|
      ratio = reference ? format("%.2f", ns / results.fetch(reference)) : ""
      desc, ok = checks[label]
      target = if desc
                 "#{desc} #{ok ? "✓" : "✗"}"
               else
                 ""
               end
      puts "| #{label} | #{format_ns(ns)} | #{ratio} | #{target} |"
    end
  end

  def format_ns(nanos)
    nanos >= 1_000_000 ? format("%.2f ms", nanos / 1e6) : format("%.1f", nanos)
  end
end
