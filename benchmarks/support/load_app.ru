# frozen_string_literal: true

# /metrics over 10 000 series while a writer thread keeps updating them: the app that wrk
# loads, for the load test (spec/integration/load_spec.rb) and benchmarks/load.rb.
$LOAD_PATH.unshift File.expand_path("../../lib", __dir__)
require "tasker_metrics"

counter = TaskerMetrics.registry.counter(:load_requests_total, docstring: "Requests", labels: %i[route status])
10_000.times { |i| counter.increment(labels: { route: "/r#{i / 100}", status: (i % 100).to_s }) }
Thread.new do
  loop do
    1_000.times { |i| counter.increment(labels: { route: "/r#{i % 100}", status: (i % 100).to_s }) }
    sleep 0.001
  end
end

use TaskerMetrics::Rack::Exporter, path: "/metrics"
run ->(_env) { [404, { "content-type" => "text/plain" }, ["not found\n"]] }
