# frozen_string_literal: true

require "zlib"

# format: :protobuf, decoded by Python's protobuf from code protoc generates.
RSpec.describe TaskerMetrics::Registry, "#export" do
  before do
    skip "Python's protobuf and grpcio-tools (bin/setup installs them into .venv)" unless PythonProtobuf.available?
    jobs = registry.counter(:jobs_total, docstring: "Jobs run", labels: %i[queue])
    jobs.increment(by: 3, labels: { queue: "a\"b\\c\nd" }, exemplar: { trace_id: "abc" })
    jobs.increment(by: 1.5, labels: { queue: "ünï" })
    registry.gauge(:temp_celsius, docstring: "Temperature", unit: "celsius").set(-2.5)
    latency = registry.histogram(:latency_seconds, docstring: "Latency", labels: %i[route], buckets: [0.1, 1])
    [0.05, 0.5, 3].each { |v| latency.observe(v, labels: { route: "/" }) }
    durations = registry.histogram(:durations_seconds, docstring: "D", buckets: [], native: { factor: 2 })
    [0, 0.75, 1, 1.5, 3, 3.5, 100, -0.3].each { |v| durations.observe(v) }
  end

  let(:families) { PythonProtobuf.decode(registry.export(format: :protobuf)).to_h { |f| [f["name"], f] } }

  it "is a binary body of delimited MetricFamily messages that another toolchain's decoder reads" do
    expect(registry.export(format: :protobuf).encoding).to eq(Encoding::BINARY)
    expect(families.keys).to eq(%w[durations_seconds jobs_total latency_seconds temp_celsius])
  end

  it "carries counters with their labels as given, exemplars and created timestamps" do
    jobs = families.fetch("jobs_total")
    expect(jobs.values_at("help", "type")).to eq(["Jobs run", "COUNTER"])
    first, second = jobs.fetch("metric")
    expect(first["label"]).to eq([{ "name" => "queue", "value" => "a\"b\\c\nd" }])
    expect(first.dig("counter", "value")).to eq(3.0)
    expect(first.dig("counter", "exemplar", "label")).to eq([{ "name" => "trace_id", "value" => "abc" }])
    expect(first.dig("counter", "exemplar", "value")).to eq(3.0)
    expect(Time.parse(first.dig("counter", "created_timestamp"))).to be_within(600).of(Time.now)
    expect(second["label"]).to eq([{ "name" => "queue", "value" => "ünï" }])
    expect(second.dig("counter", "value")).to eq(1.5)
  end

  it "carries gauges with their unit, and classic histograms cumulative without +Inf" do
    temp = families.fetch("temp_celsius")
    expect(temp.values_at("type", "unit")).to eq(%w[GAUGE celsius])
    expect(temp.dig("metric", 0, "gauge", "value")).to eq(-2.5)
    histogram = families.fetch("latency_seconds").dig("metric", 0, "histogram")
    expect(histogram.values_at("sample_count", "sample_sum")).to eq(["3", 3.55])
    expect(histogram["bucket"].map { |b| [b["upper_bound"], b["cumulative_count"]] }).to eq([[0.1, "1"], [1.0, "2"]])
  end

  it "carries native histograms: schema, zero bucket, and each side's buckets as spans and deltas" do
    histogram = families.fetch("durations_seconds").dig("metric", 0, "histogram")
    expect(histogram.values_at("sample_count", "sample_sum", "schema", "zero_count")).to eq(["8", 109.45, 0, "1"])
    expect(histogram["zero_threshold"]).to eq(2.0**-128)
    expect(histogram["bucket"]).to be_nil, "buckets: [] leaves no classic buckets"
    # Schema 0: bucket i holds (2^(i-1), 2^i]. 0.75 and 1 → 0; 1.5 → 1; 3, 3.5 → 2; 100 → 7.
    expect(histogram["positive_span"]).to eq([{ "offset" => 0, "length" => 3 }, { "offset" => 4, "length" => 1 }])
    expect(histogram["positive_delta"].map(&:to_i)).to eq([2, -1, 1, -1])
    expect(histogram["negative_span"]).to eq([{ "offset" => -1, "length" => 1 }]) # |−0.3| in (0.25, 0.5]
    expect(histogram["negative_delta"].map(&:to_i)).to eq([1])
  end

  it "streams and gzips into the same bytes" do
    body = registry.export(format: :protobuf)
    expect(registry.export_stream(format: :protobuf).to_a.join.b).to eq(body)
    expect(Zlib.gunzip(registry.export_gzip(format: :protobuf))).to eq(body)
  end
end
