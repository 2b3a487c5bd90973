# frozen_string_literal: true

RSpec.describe "End to end: a real Prometheus with native histograms on scrapes the protobuf exposition" do
  include_context "with Puma and Prometheus"

  def config_ru
    <<~RUBY
      $LOAD_PATH.unshift(#{File.expand_path("../../lib", __dir__).to_json})
      require "tasker_metrics"
      require #{File.expand_path("../support/native_e2e", __dir__).to_json}
      registry = TaskerMetrics::Registry.new
      jobs = registry.counter(:jobs_total, docstring: "Jobs", labels: %i[queue])
      200.times { |i| jobs.increment(by: i + 1, labels: { queue: "q\#{i}" }) }
      registry.gauge(:temp_celsius, docstring: "Temperature", unit: "celsius").set(-2.5)
      latency = registry.histogram(:latency_seconds, docstring: "Latency", buckets: [0.1, 1])
      [0.05, 0.5, 0.7, 3].each { |v| latency.observe(v) }
      durations = registry.histogram(:durations_seconds, docstring: "Durations", buckets: [], native: true)
      NativeE2E.values(2001, seed: 7).each { |v| durations.observe(v) }
      run TaskerMetrics::Rack::Endpoint.new(registry: registry, auth: nil, enabled: true)
    RUBY
  end

  it "negotiates protobuf with Prometheus' own Accept header and stores every value exactly" do
    app = serve_rack_app(config_ru, probe: "/")
    port = URI(app).port

    run.prometheus, prometheus = Servers.start_prometheus(run.dir, "127.0.0.1:#{port}", log: run.log, features: ["native-histograms"])
    Servers.wait_for("a protobuf scrape") do
      total(prometheus, 'max(tasker_metrics_scrape_duration_seconds_count{format="protobuf"})').to_i.positive?
    end
    expect(Servers.query_vector(prometheus, 'tasker_metrics_scrape_duration_seconds_count{format="openmetrics"}')).to be_empty
    expect(total(prometheus, "count(jobs_total)")).to eq(200)
    expect(total(prometheus, "sum(jobs_total)")).to eq(200 * 201 / 2)
    expect(Servers.query(prometheus, "temp_celsius")).to eq(-2.5)
    expect(total(prometheus, "latency_seconds_count")).to eq(4)
    expect(Servers.query(prometheus, "latency_seconds_sum")).to be_within(1e-9).of(4.25)
    expect(total(prometheus, 'latency_seconds_bucket{le="1.0"}')).to eq(3)
    expect(total(prometheus, 'latency_seconds_bucket{le="+Inf"}')).to eq(4)

    histogram = NativeE2E.histogram_sample(prometheus, "durations_seconds")
    expect(histogram.fetch("count").to_i).to eq(2001)
    expect(NativeE2E.growth(histogram)).to be_within(1e-9).of(2**(2**-3.0)), "schema 3 (factor 1.1): buckets grow by 2^(1/8)"
    NativeE2E.expect_median(self, prometheus, "durations_seconds", NativeE2E.values(2001, seed: 7), histogram)
  rescue RuntimeError => e
    raise "#{e.message}\n--- server log ---\n#{File.exist?(run.log) ? File.read(run.log) : ""}"
  end
end
