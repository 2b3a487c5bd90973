# frozen_string_literal: true

require "zlib"

RSpec.describe TaskerMetrics::Registry do
  it "registers each type, and returns an equal metric for the same name, type and labels" do
    counter = registry.counter(:a_total, docstring: "A", labels: [:x])
    expect(registry.counter("a_total", docstring: "other text", labels: ["x"])).to eq(counter)
    expect(registry.gauge(:b, docstring: "B")).to be_a(TaskerMetrics::Gauge)
    expect(registry.histogram(:c, docstring: "C")).to be_a(TaskerMetrics::Histogram)
    expect(registry.metrics.map(&:name)).to eq(%w[a_total b c])
  end

  it "refuses a name taken by another type, other labels or other buckets" do
    registry.counter(:a_total, docstring: "A", labels: [:x])
    expect { registry.gauge(:a_total, docstring: "A", labels: [:x]) }
      .to raise_error(ArgumentError, 'metric "a_total" is already registered as a counter with "x", cannot register it as a gauge with "x"')
    expect { registry.counter(:a_total, docstring: "A", labels: [:y]) }.to raise_error(ArgumentError, /already registered/)
    registry.histogram(:h, docstring: "H", buckets: [1])
    expect { registry.histogram(:h, docstring: "H", buckets: [2]) }.to raise_error(ArgumentError, /buckets \[1\.0\]/)
  end

  it "refuses names whose exposition would collide" do
    registry.counter(:requests, docstring: "R")
    expect { registry.gauge(:requests_total, docstring: "R") }.to raise_error(ArgumentError, /exposition names overlap/)
    expect { registry.counter(:requests_total, docstring: "R") }.to raise_error(ArgumentError, /exposition names overlap/)
  end

  it "gets, checks, unregisters and clears" do
    registry.gauge(:g, docstring: "G")
    expect(registry.get(:g)).to be_a(TaskerMetrics::Gauge)
    expect(registry.get("g")).to eq(registry.get(:g))
    expect(registry.get(:nope)).to be_nil
    expect(registry.exist?(:g)).to be(true)
    expect(registry.unregister(:g)).to be(true)
    expect(registry.unregister(:g)).to be(false)
    expect(registry.exist?(:g)).to be(false)
    registry.gauge(:g2, docstring: "G")
    expect(registry.clear).to eq(1)
    expect(registry.metrics).to be_empty
  end

  {
    "a name starting with a digit" => [->(r) { r.counter(:"1abc", docstring: "x") }, ArgumentError, 'invalid metric name "1abc": must match [a-zA-Z_:][a-zA-Z0-9_:]*'],
    "a name with a dash" => [->(r) { r.gauge("a-b", docstring: "x") }, ArgumentError, /invalid metric name "a-b"/],
    "an empty name" => [->(r) { r.gauge("", docstring: "x") }, ArgumentError, /invalid metric name ""/],
    "a nil name" => [->(r) { r.gauge(nil, docstring: "x") }, TypeError, "name must be a String or Symbol, got NilClass (nil)"],
    "a missing docstring" => [->(r) { r.gauge(:g) }, ArgumentError, /missing keyword: :docstring/],
    "a docstring that is not a String" => [->(r) { r.gauge(:g, docstring: :x) }, TypeError, "docstring must be a String, got Symbol (:x)"],
    "labels that are not an Array" => [->(r) { r.gauge(:g, docstring: "x", labels: :a) }, TypeError, /labels must be an Array of Symbols or Strings, got Symbol/],
    "a label name with a dash" => [->(r) { r.gauge(:g, docstring: "x", labels: [:"a-b"]) }, ArgumentError, 'invalid label name "a-b": must match [a-zA-Z_][a-zA-Z0-9_]*'],
    "a reserved label name" => [->(r) { r.gauge(:g, docstring: "x", labels: [:__name]) }, ArgumentError, /names starting with __ are reserved/],
    "a label declared twice" => [->(r) { r.gauge(:g, docstring: "x", labels: [:a, "a"]) }, ArgumentError, 'invalid label name "a": declared twice'],
    "a nil label name" => [->(r) { r.gauge(:g, docstring: "x", labels: [nil]) }, TypeError, /labels must be a String or Symbol, got NilClass/],
    "an unknown keyword" => [->(r) { r.gauge(:g, docstring: "x", buckets: [1]) }, ArgumentError, /unknown keyword: :buckets/],
  }.each do |what, (call, error, message)|
    it "refuses #{what} and registers nothing" do
      expect { call.call(registry) }.to raise_error(error, message)
      expect(registry.metrics).to be_empty
    end
  end

  describe "#export" do
    include_context "with promtool"

    it "renders Prometheus text 0.0.4 that promtool accepts" do
      c = registry.counter(:jobs_total, docstring: "Jobs \\ run\nby queue", labels: %i[queue])
      c.increment(labels: { queue: "de\"fault\\\n" })
      c.increment(by: 2.5, labels: { queue: "ünï" })
      registry.gauge(:temperature_celsius, docstring: "T").set(-3.25)
      h = registry.histogram(:latency_seconds, docstring: "L", labels: [:route], buckets: [0.1, 1])
      h.observe(0.5, labels: { route: "/" })
      text = registry.export
      expect(text).to eq(<<~'PROM')
        # HELP jobs_total Jobs \\ run\nby queue
        # TYPE jobs_total counter
        jobs_total{queue="de\"fault\\\n"} 1
        jobs_total{queue="ünï"} 2.5
        # HELP latency_seconds L
        # TYPE latency_seconds histogram
        latency_seconds_bucket{route="/",le="0.1"} 0
        latency_seconds_bucket{route="/",le="1.0"} 1
        latency_seconds_bucket{route="/",le="+Inf"} 1
        latency_seconds_sum{route="/"} 0.5
        latency_seconds_count{route="/"} 1
        # HELP temperature_celsius T
        # TYPE temperature_celsius gauge
        temperature_celsius -3.25
      PROM
      expect(text.encoding).to eq(Encoding::UTF_8)
      expect(text).to pass_promtool
    end

    it "exports unlabelled metrics as zero from the start" do
      registry.counter(:boots_total, docstring: "B")
      expect(registry.export).to include("boots_total 0\n")
    end

    it "exports an empty registry as an empty string" do
      expect(registry.export).to eq("")
    end
  end

  it "has one process-wide default registry" do
    expect(TaskerMetrics.registry).to eq(described_class.default)
    expect(TaskerMetrics.registry).not_to eq(described_class.new)
  end

  it "exports only the named families with export(names:), gzipped too" do
    registry.counter(:jobs_total, docstring: "j").increment
    registry.gauge(:depth, docstring: "d").set(1)
    expect(registry.export(names: [:depth])).to eq("# HELP depth d\n# TYPE depth gauge\ndepth 1\n")
    expect(Zlib.gunzip(registry.export_gzip(names: ["jobs"]))).to eq("# HELP jobs_total j\n# TYPE jobs_total counter\njobs_total 1\n")
    expect { registry.export(names: "depth") }.to raise_error(TypeError, /names must be an Array/)
  end
end
