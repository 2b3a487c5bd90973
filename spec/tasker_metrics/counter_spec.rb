# frozen_string_literal: true

RSpec.describe TaskerMetrics::Counter do
  subject(:metric) { registry.counter(:jobs_total, docstring: "Jobs run", labels: %i[service status]) }

  let(:update) { ->(**kw) { metric.increment(**kw) } }
  let(:zero) { 0 }

  it_behaves_like "a labelled metric"

  it "describes itself" do
    expect(metric.name).to eq("jobs_total")
    expect(metric.docstring).to eq("Jobs run")
    expect(metric.type).to eq(:counter)
    expect(metric.labels).to eq(%i[service status])
    expect(metric.inspect).to eq('#<TaskerMetrics::Counter name="jobs_total" labels="service", "status" series=0>')
  end

  it "counts by one, by integers exactly and by floats" do
    labels = { service: "api", status: "ok" }
    expect(metric.increment(labels: labels)).to be_nil
    metric.increment(by: 2**40, labels: labels)
    expect(metric.get(labels: labels)).to eq((2**40) + 1)
    metric.increment(by: 0.5, labels: labels)
    expect(metric.get(labels: labels)).to eq((2**40) + 1.5)
  end

  it "stays an Integer while only Integers are added" do
    metric.increment(by: 3, labels: { service: "a", status: "b" })
    expect(metric.get(labels: { service: "a", status: "b" })).to be_a(Integer)
  end

  it "converts Rationals and BigDecimals, and Bignums beyond 64 bits, to Float" do
    require "bigdecimal"
    labels = { service: "a", status: "b" }
    metric.increment(by: Rational(1, 2), labels: labels)
    metric.increment(by: BigDecimal("0.25"), labels: labels)
    expect(metric.get(labels: labels)).to eq(0.75)
    metric.increment(by: 2**70, labels: labels)
    expect(metric.get(labels: labels)).to eq((2**70).to_f + 0.75)
  end

  {
    -1 => [ArgumentError, "invalid by: -1 (counters can only increase)"],
    -0.5 => [ArgumentError, "invalid by: -0.5 (counters can only increase)"],
    Float::NAN => [ArgumentError, "invalid by: NaN (must be a finite number)"],
    Float::INFINITY => [ArgumentError, "invalid by: Infinity (must be a finite number)"],
    -Float::INFINITY => [ArgumentError, "invalid by: -Infinity (must be a finite number)"],
    nil => [TypeError, "by must be a Numeric, got NilClass (nil)"],
    "1" => [TypeError, 'by must be a Numeric, got String ("1")'],
    true => [TypeError, "by must be a Numeric, got TrueClass (true)"],
    Complex(1, 1) => [TypeError, /by must be a Numeric, got Complex/],
  }.each do |bad, (error, message)|
    it "refuses by: #{bad.inspect} and changes nothing" do
      labels = { service: "a", status: "b" }
      metric.increment(labels: labels)
      expect { metric.increment(by: bad, labels: labels) }.to raise_error(error, message)
      expect(metric.get(labels: labels)).to eq(1)
    end
  end

  it "has no decrement" do
    expect(metric).not_to respond_to(:decrement)
  end

  describe "bound handle" do
    let(:bound) { metric.with_labels(service: "api", status: "ok") }

    it "increments the same series as the labelled call" do
      bound.increment
      bound.increment(by: 4)
      metric.increment(labels: { service: "api", status: "ok" })
      expect(bound.get).to eq(6)
      expect(metric.get(labels: { service: "api", status: "ok" })).to eq(6)
    end

    it "refuses bad amounts and unknown keywords" do
      expect { bound.increment(by: -1) }.to raise_error(ArgumentError, /counters can only increase/)
      expect { bound.increment(labels: {}) }.to raise_error(ArgumentError, "unknown keyword: :labels")
      expect { bound.increment(1) }.to raise_error(ArgumentError, /wrong number of arguments/)
      expect(bound.get).to eq(0)
    end

    it "keeps counting into a detached series after removal, without exporting it" do
      bound.increment
      metric.remove(labels: { service: "api", status: "ok" })
      bound.increment
      expect(bound.get).to eq(2)
      expect(metric.values).to be_empty
    end
  end

  # A metric remembers the label value objects of its last update when none can change (frozen
  # Strings, Symbols, Integers) and reuses the series when the same objects come again.
  describe "repeated label values" do
    it "counts a String mutated between updates under its new text" do
      status = +"ok"
      metric.increment(labels: { service: "api", status: status })
      status.replace("error")
      metric.increment(labels: { service: "api", status: status })
      expect(metric.values).to eq({ service: "api", status: "ok" } => 1, { service: "api", status: "error" } => 1)
    end

    it "starts a new series when the same objects come after the series was removed" do
      labels = { service: "api", status: :ok }
      2.times { metric.increment(labels: labels) }
      metric.remove(labels: labels)
      metric.increment(labels: labels)
      expect(metric.get(labels: labels)).to eq(1)
    end

    it "keeps values apart when fresh objects of other text appear where old ones were freed" do
      200.times do |i|
        metric.increment(labels: { service: "s#{i % 4}".freeze, status: :"d#{i % 5}" })
        GC.start if (i % 50).zero?
      end
      GC.compact if GC.respond_to?(:compact)
      expected = (0...20).to_h { |i| [{ service: "s#{i % 4}", status: "d#{i % 5}" }, 10] }
      expect(metric.values).to eq(expected)
    end
  end

  describe "under threads" do
    it "counts 10 threads x 1000 increments exactly" do
      labels = { service: "api", status: "ok" }
      Array.new(10) { Thread.new { 1000.times { metric.increment(labels: labels) } } }.each(&:join)
      expect(metric.get(labels: labels)).to eq(10_000)
    end

    it "counts exactly while other threads create new series" do
      writers = Array.new(5) { Thread.new { 1000.times { metric.increment(labels: { service: "s", status: "ok" }) } } }
      creators = Array.new(10) do |t|
        Thread.new { 100.times { |i| metric.increment(labels: { service: "t#{t}", status: "n#{i}" }) } }
      end
      (writers + creators).each(&:join)
      expect(metric.get(labels: { service: "s", status: "ok" })).to eq(5000)
      expect(metric.values.size).to eq(1 + 1000)
    end
  end

  it "saturates into a Float past 2**64 instead of wrapping to zero (Prometheus counters are floats)" do
    big = registry.counter(:big_total, docstring: "b")
    big.increment(by: 2**63)
    big.increment(by: 2**63)
    big.increment(by: 5)
    expect(big.get).to be_a(Float).and(be >= 2.0**64)
    expect(registry.export).to include("big_total 1.8446744073709552e19\n")
  end
end
