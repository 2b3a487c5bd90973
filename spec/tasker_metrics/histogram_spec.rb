# frozen_string_literal: true

RSpec.describe TaskerMetrics::Histogram do
  subject(:metric) { registry.histogram(:duration_seconds, docstring: "Durations", labels: %i[service status], buckets: [0.1, 1, 10]) }

  let(:update) { ->(**kw) { metric.observe(0.5, **kw) } }
  let(:zero) { { buckets: { 0.1 => 0, 1.0 => 0, 10.0 => 0, Float::INFINITY => 0 }, sum: 0.0, count: 0 } }
  let(:labels) { { service: "api", status: "ok" } }

  it_behaves_like "a labelled metric"

  it "counts observations into cumulative buckets, upper bounds inclusive" do
    [0.05, 0.1, 0.5, 1, 10, 11, -2].each { |v| metric.observe(v, labels: labels) }
    value = metric.get(labels: labels)
    expect(value).to include(buckets: { 0.1 => 3, 1.0 => 5, 10.0 => 6, Float::INFINITY => 7 }, count: 7)
    expect(value[:sum]).to be_within(1e-9).of(20.65)
  end

  it "has Tasker's default buckets, frozen" do
    expect(described_class::DEFAULT_BUCKETS).to eq([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
    expect(described_class::DEFAULT_BUCKETS).to be_frozen
    expect(registry.histogram(:h, docstring: "h").buckets).to eq(described_class::DEFAULT_BUCKETS)
  end

  {
    [] => "invalid buckets []: must not be empty",
    [1, 1] => "invalid buckets [1.0, 1.0]: must be strictly increasing",
    [2, 1] => "invalid buckets [2.0, 1.0]: must be strictly increasing",
    [1, Float::INFINITY] => "invalid buckets [1.0, Infinity]: must be finite numbers (+Inf is implicit)",
  }.each do |bad, message|
    it "refuses buckets #{bad.inspect}" do
      expect { registry.histogram(:bad, docstring: "b", buckets: bad) }.to raise_error(ArgumentError, message)
      expect(registry.exist?(:bad)).to be(false)
    end
  end

  it "refuses non-numeric buckets and le as a label" do
    expect { registry.histogram(:bad, docstring: "b", buckets: "1") }.to raise_error(TypeError, /buckets must be an Array/)
    expect { registry.histogram(:bad, docstring: "b", buckets: [1, "2"]) }.to raise_error(TypeError, /bucket must be a Numeric/)
    expect { registry.histogram(:bad, docstring: "b", labels: [:le]) }.to raise_error(ArgumentError, 'invalid label name "le": reserved for this metric type')
  end

  it "refuses non-finite and non-numeric observations" do
    expect { metric.observe(Float::NAN, labels: labels) }.to raise_error(ArgumentError, "invalid value: NaN (must be a finite number)")
    expect { metric.observe(nil, labels: labels) }.to raise_error(TypeError, "value must be a Numeric, got NilClass (nil)")
    expect(metric.values).to be_empty
  end

  it "binds a handle" do
    bound = metric.with_labels(**labels)
    bound.observe(2)
    expect(bound.get[:count]).to eq(1)
    expect(bound.get[:sum]).to eq(2.0)
  end

  it "keeps count and +Inf equal under 5 threads x 1000 observations" do
    Array.new(5) { |t| Thread.new { 1000.times { |i| metric.observe((t * i) % 13, labels: labels) } } }.each(&:join)
    value = metric.get(labels: labels)
    expect(value[:count]).to eq(5000)
    expect(value[:buckets][Float::INFINITY]).to eq(5000)
  end
end
