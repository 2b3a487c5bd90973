# frozen_string_literal: true

RSpec.describe TaskerMetrics::MetricTypes::Gauge do
  subject(:gauge) { described_class.new("test_gauge", labels: { service: "api" }) }

  it "sets, increments and decrements, returning Tasker's values" do
    expect(gauge.value).to eq(0)
    expect(gauge.set(25.5)).to eq(25.5)
    expect(gauge.increment).to eq(26.5)
    expect(gauge.increment(-10)).to eq(16.5)
    expect(gauge.decrement(2)).to eq(14.5)
    expect(gauge.decrement).to eq(13.5)
    expect(gauge.set(-3)).to eq(-3)
  end

  it "starts at initial_value" do
    expect(described_class.new("g", initial_value: 42).value).to eq(42)
  end

  {
    ->(g) { g.set("x") } => "Gauge value must be numeric, got: String",
    ->(g) { g.increment(:a) } => "Gauge increment amount must be numeric, got: Symbol",
    ->(g) { g.decrement([]) } => "Gauge decrement amount must be numeric, got: Array",
    ->(g) { g.decrement(-5) } => "Gauge decrement amount must be positive, got: -5",
    ->(_) { described_class.new("g", initial_value: "1") } => "Initial value must be numeric, got: String",
    ->(_) { described_class.new("g", initial_value: nil) } => "Initial value must be numeric, got: NilClass",
    ->(_) { described_class.new(nil) } => "Metric name cannot be nil or empty",
  }.each_with_index do |(call, message), i|
    it "raises #{message.inspect} (case #{i + 1}) and changes nothing" do
      gauge.set(4)
      expect { call.call(gauge) }.to raise_error(ArgumentError, message)
      expect(gauge.value).to eq(4)
    end
  end

  it "describes itself and has Tasker's to_h keys" do
    gauge.set(25.5)
    expect(gauge.description).to eq('test_gauge{:service=>"api"} = 25.5 (gauge)')
    expect(gauge.to_h.keys).to eq(%i[name labels value type created_at])
    expect(gauge.to_h[:type]).to eq(:gauge)
    expect(gauge.reset!).to eq(0)
  end

  it "ends 100 racing sets on one of the values set" do
    Array.new(100) { |i| Thread.new { gauge.set(i) } }.each(&:join)
    expect((0..99).to_a).to include(gauge.value)
  end

  it "adds 5 x 1000 increments of 0.001 to 10 within 0.001 of 15.0" do
    gauge.set(10)
    Array.new(5) { Thread.new { 1000.times { gauge.increment(0.001) } } }.each(&:join)
    expect(gauge.value).to be_within(0.001).of(15.0)
  end

  it "reads whole numbers back as Integers, as Tasker's gauges set with Integers did, and fractions as Floats" do
    depth = described_class.new("depth", labels: { q: "a" })
    expect(depth.value).to eq(0).and be_a(Integer)
    expect(depth.set(42)).to eq(42).and be_a(Integer)
    expect(depth.value).to eq(42).and be_a(Integer)
    expect(depth.description).to eq('depth{:q=>"a"} = 42 (gauge)')
    expect(depth.increment(0.5)).to eq(42.5)
    expect(depth.decrement(1.5)).to eq(41).and be_a(Integer)
    expect(depth.to_h[:value]).to eq(41).and be_a(Integer)
    depth.set(2**60)
    expect(depth.value).to(eq(2.0**60).and(be_a(Float)), "beyond 2**53 a Float is what is stored")
  end
end
