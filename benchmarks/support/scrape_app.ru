# frozen_string_literal: true

# /metrics over SERIES counter series (default 5 000), served either by the exporter alone
# (RAILS=0) or by a Rails app through the Railtie (RAILS=1, the default middleware stack), for
# benchmarks/railtie_scrape.rb.
$LOAD_PATH.unshift File.expand_path("../../lib", __dir__)
series = Integer(ENV.fetch("SERIES", "5000"))

if ENV.fetch("RAILS", "0") == "1"
  require "rails"
  require "action_controller/railtie"
  require "tasker_metrics"
  app = Class.new(Rails::Application) do
    config.eager_load = false
    config.logger = Logger.new(File::NULL)
    config.secret_key_base = "x" * 64
    config.hosts.clear
  end
  Object.const_set(:ScrapeBenchApp, app)
  app.initialize!
else
  require "tasker_metrics"
  app = ->(_env) { [404, { "content-type" => "text/plain" }, ["not found\n"]] }
  use TaskerMetrics::Rack::Exporter, path: "/metrics"
end

counter = TaskerMetrics.registry.counter(:bench_requests_total, docstring: "Requests", labels: %i[route status])
series.times { |i| counter.increment(labels: { route: "/r#{i / 100}", status: (i % 100).to_s }) }
run app
