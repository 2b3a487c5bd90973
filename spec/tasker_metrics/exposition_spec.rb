# frozen_string_literal: true

RSpec.describe "Exposition formats" do # rubocop:disable RSpec/DescribeClass -- covers Registry#export in both formats
  let(:nasty) { "quote \" backslash \\ newline \n tab \t ünïcødé ✓ 🚀 {brace} # hash" }

  before do
    c = registry.counter(:jobs_total, docstring: "Jobs \"run\" \\ per\nqueue", labels: %i[queue])
    c.increment(by: 3, labels: { queue: nasty })
    c.increment(by: 0.25, labels: { queue: "" }, exemplar: { trace_id: "4bf92f3577b34da6" })
    registry.gauge(:temperature_celsius, docstring: "T", unit: :celsius).set(-12.5)
    h = registry.histogram(:job_duration_seconds, docstring: "D", labels: %i[queue], unit: "seconds", buckets: [0.1, 1, 10])
    [0.05, 0.1, 0.5, 2, 50].each { |v| h.observe(v, labels: { queue: nasty }) }
    h.observe(0.7, labels: { queue: nasty }, exemplar: { trace_id: "abc" })
  end

  describe "OpenMetrics" do
    subject(:text) { registry.export(format: :openmetrics) }

    it "ends in # EOF and names counter families without _total" do
      expect(text).to end_with("# EOF\n")
      expect(text).to include("# TYPE jobs counter\n", "# UNIT temperature_celsius celsius\n", "# UNIT job_duration_seconds seconds\n")
      expect(text).to include('# HELP jobs Jobs \"run\" \\\\ per\nqueue')
    end

    it "is parsed by the Python prometheus_client parser with every recorded value" do
      skip "Python prometheus_client is not installed (bin/setup installs it into .venv)" unless PythonOpenMetrics.available?
      samples = PythonOpenMetrics.parse(text)
      find = ->(name, labels = {}) { samples.find { |s| s["name"] == name && s["labels"] == labels } }
      expect(find.call("jobs_total", "queue" => nasty)["value"]).to eq(3)
      expect(find.call("jobs_total", "queue" => "")).to include("value" => 0.25, "exemplar" => { "labels" => { "trace_id" => "4bf92f3577b34da6" }, "value" => 0.25 })
      expect(find.call("temperature_celsius")).to include("value" => -12.5, "unit" => "celsius")
      buckets = samples.select { |s| s["name"] == "job_duration_seconds_bucket" }.to_h { |s| [s["labels"]["le"], s["value"]] }
      expect(buckets).to eq("0.1" => 2, "1.0" => 4, "10.0" => 5, "+Inf" => 6)
      expect(find.call("job_duration_seconds_count", "queue" => nasty)["value"]).to eq(6)
      expect(find.call("job_duration_seconds_sum", "queue" => nasty)["value"]).to be_within(1e-9).of(53.35)
      exemplar = samples.find { |s| s["name"] == "job_duration_seconds_bucket" && s["labels"]["le"] == "1.0" }["exemplar"]
      expect(exemplar).to eq("labels" => { "trace_id" => "abc" }, "value" => 0.7)
    end

    it "adds _created samples on request, still parseable" do
      skip "Python prometheus_client is not installed" unless PythonOpenMetrics.available?
      names = PythonOpenMetrics.parse(registry.export(format: :openmetrics, created: true)).map { |s| s["name"] }
      expect(names).to include("jobs_created", "job_duration_seconds_created")
    end
  end

  describe "Prometheus 0.0.4" do
    include_context "with promtool"

    it "is accepted by promtool, and a label value cannot inject a line or a sample" do
      text = registry.export
      expect(text).to pass_promtool
      expect(text.lines.grep(/\Ajobs_total/).size).to eq(2)
      expect(text).not_to include("# EOF")
    end
  end

  it "refuses unknown formats and units the name does not end with" do
    expect { registry.export(format: :json) }.to raise_error(ArgumentError, "format must be :prometheus, :openmetrics or :protobuf, got :json")
    expect { registry.gauge(:size, docstring: "S", unit: :bytes) }.to raise_error(ArgumentError, 'metric name "size" must end with its unit "_bytes"')
  end

  it "refuses exemplars that are too long or not a Hash" do
    c = registry.get(:jobs_total)
    expect { c.increment(labels: { queue: "a" }, exemplar: { trace_id: "x" * 200 }) }.to raise_error(ArgumentError, /must not exceed 128 characters/)
    expect { c.increment(labels: { queue: "a" }, exemplar: "abc") }.to raise_error(TypeError, /exemplar must be a Hash/)
    expect(c.get(labels: { queue: "a" })).to eq(0)
  end
end
