# frozen_string_literal: true

# Issue 12: a scrape through the Railtie (a Rails app with its default middleware) against the
# same exporter outside Rails: wrk -t2 -c8 on /metrics over 5 000 series, alternating runs of
# SCRAPE_SECONDS (default 8), the best p50 of each kept.
require_relative "support/harness"
require_relative "support/wrk"

abort "wrk and puma are needed (Debian packages)" unless Wrk.available?
seconds = Integer(ENV.fetch("SCRAPE_SECONDS", "8"))
cases = { "exporter alone (Rack)" => { "RAILS" => "0" }, "through the Railtie (Rails app)" => { "RAILS" => "1" } }
runs = cases.transform_values { [] }
2.times { cases.each { |label, env| runs[label] << Wrk.run(seconds: seconds, app: "benchmarks/support/scrape_app.ru", env: env) } }
best = runs.transform_values { |r| r.min_by { |x| x[:p50_ms] || Float::INFINITY } }
plain, rails = best.values_at(*cases.keys)
ratio = rails[:p50_ms] / plain[:p50_ms]

puts "\n### Scrape through the Railtie: wrk -t2 -c8, 5 000 series, best of 2 × #{seconds}s each (#{Harness.machine})\n\n"
puts "| case | req/s | p50 | p99 | non-200 | target |"
puts "|---|---:|---:|---:|---:|---|"
best.each do |label, r|
  target = if label == cases.keys.last
             "p50 ≤ 1.5× the exporter alone (#{format("%.2f", ratio)}×) #{ratio <= 1.5 ? "✓" : "✗"}"
           else
             ""
           end
  puts "| #{label} | #{r[:rps].round(1)} | #{r[:p50_ms]&.round(2)} ms | #{r[:p99_ms]&.round(2)} ms | #{r[:non2xx]} | #{target} |"
end
