# frozen_string_literal: true

RSpec.describe TaskerMetrics::MetricTypes::Histogram do
  subject(:histogram) { described_class.new("test_histogram", labels: { method: "POST" }, buckets: [5, 1, 2, 5]) }

  it "has Tasker's default buckets, frozen" do
    expect(described_class::DEFAULT_BUCKETS).to eq([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]).and be_frozen
    expect(described_class.new("h").bucket_boundaries).to eq(described_class::DEFAULT_BUCKETS)
  end

  it "sorts and de-duplicates buckets, and freezes the boundaries" do
    expect(histogram.bucket_boundaries).to eq([1.0, 2.0, 5.0]).and be_frozen
  end

  it "observes, returning the value, and keeps cumulative buckets, count, sum and average" do
    expect(histogram.average).to eq(0.0)
    expect(histogram.observe(1)).to eq(1)
    histogram.observe(2)
    histogram.observe(3)
    expect(histogram.count).to eq(3)
    expect(histogram.sum).to eq(6.0).and be_a(Float)
    expect(histogram.average).to eq(2.0)
    expect(histogram.buckets).to eq(1.0 => 1, 2.0 => 2, 5.0 => 3, Float::INFINITY => 3)
    expect(histogram.description).to eq('test_histogram{:method=>"POST"} = 3 observations, avg: 2.0 (histogram)')
  end

  {
    "a non-array" => [-> { described_class.new("h", buckets: "1") }, "Buckets must be an array"],
    "nil" => [-> { described_class.new("h", buckets: nil) }, "Buckets must be an array"],
    "an empty array" => [-> { described_class.new("h", buckets: []) }, "Buckets cannot be empty"],
  }.each do |what, (call, message)|
    it "refuses #{what} as buckets" do
      expect(&call).to raise_error(ArgumentError, message)
    end
  end

  it "refuses non-numeric observations" do
    expect { histogram.observe("1") }.to raise_error(ArgumentError, "Observed value must be numeric, got: String")
    expect(histogram.count).to eq(0)
  end

  it "resets and has Tasker's to_h keys" do
    histogram.observe(1)
    expect(histogram.to_h.keys).to eq(%i[name labels buckets count sum average type created_at])
    expect(histogram.reset!).to eq(0)
    expect(histogram.count).to eq(0)
  end

  it "keeps count and +Inf equal under 5 threads x 1000 observations" do
    Array.new(5) { |t| Thread.new { 1000.times { |i| histogram.observe((t + i) % 7) } } }.each(&:join)
    expect(histogram.count).to eq(5000)
    expect(histogram.buckets[Float::INFINITY]).to eq(5000)
  end
end
