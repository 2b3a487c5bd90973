# frozen_string_literal: true

RSpec.describe TaskerMetrics::Gauge do
  subject(:metric) { registry.gauge(:queue_size, docstring: "Queued jobs", labels: %i[service status]) }

  let(:update) { ->(**kw) { metric.set(1, **kw) } }
  let(:zero) { 0.0 }
  let(:labels) { { service: "api", status: "ok" } }

  it_behaves_like "a labelled metric"

  it "sets, increments and decrements" do
    metric.set(10, labels: labels)
    metric.increment(labels: labels)
    metric.increment(by: 2.5, labels: labels)
    metric.decrement(by: 20, labels: labels)
    metric.increment(by: -1, labels: labels)
    expect(metric.get(labels: labels)).to eq(-7.5)
    expect(metric.type).to eq(:gauge)
  end

  {
    Float::NAN => [ArgumentError, "invalid value: NaN (must be a finite number)"],
    Float::INFINITY => [ArgumentError, "invalid value: Infinity (must be a finite number)"],
    nil => [TypeError, "value must be a Numeric, got NilClass (nil)"],
    "3" => [TypeError, 'value must be a Numeric, got String ("3")'],
  }.each do |bad, (error, message)|
    it "refuses set(#{bad.inspect}) and changes nothing" do
      metric.set(4, labels: labels)
      expect { metric.set(bad, labels: labels) }.to raise_error(error, message)
      expect(metric.get(labels: labels)).to eq(4.0)
    end
  end

  it "refuses bad increments and decrements" do
    expect { metric.increment(by: Float::NAN, labels: labels) }.to raise_error(ArgumentError, /invalid by: NaN/)
    expect { metric.decrement(by: "1", labels: labels) }.to raise_error(TypeError, /by must be a Numeric/)
    expect { metric.set(labels: labels) }.to raise_error(ArgumentError, /wrong number of arguments \(given 0, expected 1\)/)
    expect(metric.values).to be_empty
  end

  it "binds a handle" do
    bound = metric.with_labels(**labels)
    bound.set(3)
    bound.increment(by: 2)
    bound.decrement
    expect(bound.get).to eq(4.0)
    expect { bound.set(Float::INFINITY) }.to raise_error(ArgumentError)
  end

  it "ends 100 racing sets on one of the values set" do
    Array.new(100) { |i| Thread.new { metric.set(i, labels: labels) } }.each(&:join)
    expect((0..99).map(&:to_f)).to include(metric.get(labels: labels))
  end

  it "adds 5 x 1000 increments of 0.001 to 10 within 0.001 of 15.0" do
    metric.set(10, labels: labels)
    Array.new(5) { Thread.new { 1000.times { metric.increment(by: 0.001, labels: labels) } } }.each(&:join)
    expect(metric.get(labels: labels)).to be_within(0.001).of(15.0)
  end
end
