# frozen_string_literal: true

RSpec.describe TaskerMetrics::MetricTypes::Counter do
  subject(:counter) { described_class.new("test_counter", labels: labels) }

  let(:labels) { { env: "test" } }

  it "has a frozen name, a frozen copy of the labels and a frozen created_at" do
    expect(counter.name).to eq("test_counter").and be_frozen
    expect(counter.labels).to eq(labels).and be_frozen
    expect(labels).not_to be_frozen
    expect(counter.created_at).to be_a(Time).and be_frozen
    expect(described_class.new(:sym).name).to eq("sym")
  end

  [nil, "", "   "].each do |bad|
    it "refuses the name #{bad.inspect}" do
      expect { described_class.new(bad) }.to raise_error(ArgumentError, "Metric name cannot be nil or empty")
    end
  end

  it "increments by 1 or an Integer amount (0 included) and returns the new value" do
    expect(counter.increment).to eq(1)
    expect(counter.increment(5)).to eq(6)
    expect(counter.increment(0)).to eq(6)
    expect(counter.value).to eq(6).and be_a(Integer)
  end

  it "raises for a negative Integer, changing nothing" do
    counter.increment(2)
    expect { counter.increment(-1) }.to raise_error(ArgumentError, "Counter increment amount must be positive, got: -1")
    expect(counter.value).to eq(2)
  end

  it "returns false for an amount that is not an Integer, changes nothing and counts the refusal" do
    refused = -> { TaskerMetrics.registry.get(:tasker_metrics_refused_increments_total)&.get(labels: { metric: "test_counter" }) || 0 }
    before = refused.call
    counter.increment(2)
    ["1", nil, 1.5, Float::NAN, Rational(1, 2), :one].each { |amount| expect(counter.increment(amount)).to be(false) }
    expect(counter.value).to eq(2)
    expect(refused.call - before).to eq(6)
  end

  it "resets, has no decrement, and describes itself" do
    counter.increment(7)
    expect(counter.description).to eq('test_counter{:env=>"test"} = 7 (counter)')
    expect(described_class.new("simple").tap { |c| c.increment(3) }.description).to eq("simple = 3 (counter)")
    expect(counter.reset!).to eq(0)
    expect(counter.value).to eq(0)
    expect(counter).not_to respond_to(:decrement)
  end

  it "has exactly Tasker's to_h keys" do
    expect(counter.to_h).to eq(name: "test_counter", labels: labels, value: 0, type: :counter, created_at: counter.created_at)
  end

  it "counts 10 threads x 1000 increments exactly" do
    Array.new(10) { Thread.new { 1000.times { counter.increment } } }.each(&:join)
    expect(counter.value).to eq(10_000)
  end
end
