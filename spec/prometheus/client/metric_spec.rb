# frozen_string_literal: true

# client_ruby's metric classes (spec/prometheus/client/{metric,counter,gauge,histogram,summary}_spec.rb
# in prometheus/client_ruby 4.2.5 check the same behaviours).
RSpec.describe Prometheus::Client::Metric do
  include_context "with client_ruby's defaults"

  let(:set_error) { Prometheus::Client::LabelSetValidator::InvalidLabelSetError }

  [Prometheus::Client::Counter, Prometheus::Client::Gauge, Prometheus::Client::Histogram, Prometheus::Client::Summary].each do |klass|
    describe "#{klass}.new" do
      it "is a Prometheus::Client::Metric with a Symbol type, and works without a registry" do
        metric = klass.new(:foo, docstring: "foo description")
        expect(metric).to be_a(described_class)
        expect(metric.type).to eq(klass.name.split("::").last.downcase.to_sym)
        expect([metric.name, metric.docstring, metric.labels, metric.preset_labels]).to eq([:foo, "foo description", [], {}])
      end

      it "refuses a reserved, blank or invalid name, a missing docstring and reserved labels" do
        expect { klass.new(:foo, docstring: "d", preset_labels: { __name__: "x" }) }
          .to raise_error(Prometheus::Client::LabelSetValidator::ReservedLabelError)
        expect { klass.new(:foo, docstring: "d", labels: [:pid]) }.to raise_error(Prometheus::Client::LabelSetValidator::ReservedLabelError, "pid is reserved")
        expect { klass.new(nil, docstring: "foo") }.to raise_error(ArgumentError, "metric name must be a symbol")
        expect { klass.new(:foo, docstring: "") }.to raise_error(ArgumentError, "docstring must be given")
        ["string", :"42startsWithNumber", :"abc def", :"abcdef ", :"abc\ndef"].each do |name|
          expect { klass.new(name, docstring: "foo") }.to raise_error(ArgumentError, /metric name must/)
        end
      end

      it "starts an unlabelled metric at zero and a labelled one empty" do
        zero = klass.new(:foo, docstring: "d").values.values.first
        expect(zero).to eq(klass == Prometheus::Client::Histogram ? described_zero_histogram : zero_of(klass))
        expect(klass.new(:bar, docstring: "d", labels: [:a]).values).to eq({})
      end
    end
  end

  def zero_of(klass) = klass == Prometheus::Client::Summary ? { "count" => 0.0, "sum" => 0.0 } : 0.0

  def described_zero_histogram = Prometheus::Client::Histogram::DEFAULT_BUCKETS.to_h { |b| [b.to_s, 0.0] }.merge("+Inf" => 0.0, "sum" => 0.0)

  describe Prometheus::Client::Counter do
    let(:counter) { described_class.new(:foo, docstring: "foo description", labels: [:test]) }

    it "counts as Floats, by 1 or by any non-negative amount, per label set" do
      counter.increment(labels: { test: "a" })
      counter.increment(by: 5, labels: { test: "a" })
      counter.increment(by: 0.5, labels: { test: "b" })
      expect(counter.get(labels: { test: "a" })).to be_a(Float).and eq(6.0)
      expect(counter.values).to eql({ test: "a" } => 6.0, { test: "b" } => 0.5)
    end

    it "refuses a negative increment, and labels other than the declared ones, changing nothing" do
      expect { counter.increment(by: -1, labels: { test: "a" }) }.to raise_error(ArgumentError, "increment must be a non-negative number")
      expect { counter.increment(labels: { other: "a" }) }
        .to raise_error(set_error, "labels must have the same signature (keys given: [:other] vs. keys expected: [:test]")
      expect { counter.increment }.to raise_error(set_error)
      expect { counter.get(labels: { test: "a", more: "b" }) }.to raise_error(set_error)
      expect(counter.values).to eq({})
    end

    it "stores label values of any type as their to_s, as client_ruby does" do
      counter.increment(labels: { test: :label })
      counter.increment(labels: { test: 1.5 })
      counter.increment(labels: { test: nil })
      expect(counter.values.keys).to eq([{ test: "label" }, { test: "1.5" }, { test: "" }])
      expect(counter.get(labels: { test: "1.5" })).to eq(1.0)
    end

    it "presets labels with with_labels (some or all) and counts into the original metric" do
      two = described_class.new(:bar, docstring: "d", labels: %i[foo bar], preset_labels: { foo: :label })
      two.increment(labels: { bar: "x" })
      view = two.with_labels(bar: "y")
      view.increment(by: 2)
      expect(two.values).to eql({ foo: "label", bar: "x" } => 1.0, { foo: "label", bar: "y" } => 2.0)
      expect(view.values).to eql(two.values)
      expect { counter.increment }.to raise_error(set_error)
      expect { counter.with_labels(test: "v").increment }.not_to raise_error
      expect(counter.get(labels: { test: "v" })).to eq(1.0)
    end

    it "returns the new value from increment, as client_ruby's in-memory store does" do
      expect(counter.increment(labels: { test: "r" })).to be_a(Float).and eq(1.0)
      expect(counter.increment(by: 2.5, labels: { test: "r" })).to eq(3.5)
    end

    it "initialises a label set at zero with init_label_set" do
      counter.init_label_set(test: "value")
      expect(counter.values).to eql({ test: "value" } => 0.0)
    end

    it "counts exactly under 10 threads x 1,000 increments" do
      Array.new(10) { Thread.new { 1000.times { counter.increment(labels: { test: "t" }) } } }.each(&:join)
      expect(counter.get(labels: { test: "t" })).to eq(10_000.0)
    end
  end

  describe Prometheus::Client::Gauge do
    let(:gauge) { described_class.new(:foo, docstring: "foo description", labels: [:test]) }

    it "sets, increments and decrements by any amount, and sets to the current time" do
      gauge.set(42, labels: { test: "a" })
      gauge.increment(labels: { test: "a" })
      gauge.increment(by: -3, labels: { test: "a" })
      gauge.decrement(by: 0.5, labels: { test: "a" })
      gauge.decrement(labels: { test: "b" })
      expect(gauge.values).to eql({ test: "a" } => 39.5, { test: "b" } => -1.0)
      gauge.set_to_current_time(labels: { test: "t" })
      expect(gauge.get(labels: { test: "t" })).to be_within(5).of(Time.now.to_f)
    end

    it "returns the new value from set, increment and decrement" do
      expect(gauge.set(3, labels: { test: "r" })).to eq(3.0)
      expect(gauge.increment(labels: { test: "r" })).to eq(4.0)
      expect(gauge.decrement(by: 5, labels: { test: "r" })).to eq(-1.0)
    end

    it "refuses a value that is not a number, and unknown labels" do
      expect { gauge.set("42", labels: { test: "a" }) }.to raise_error(ArgumentError, "value must be a number")
      expect { gauge.set(1, labels: { nope: "a" }) }.to raise_error(set_error)
      expect(gauge.values).to eq({})
    end

    it "sets init_label_set's series to zero" do
      gauge.set(5, labels: { test: "a" })
      gauge.init_label_set(test: "a")
      expect(gauge.get(labels: { test: "a" })).to eq(0.0)
    end
  end

  describe Prometheus::Client::Histogram do
    let(:histogram) { described_class.new(:bar, docstring: "bar description", labels: [:foo], buckets: [2.5, 5, 10]) }

    it "counts into cumulative buckets keyed by the bounds as given, with +Inf and sum" do
      [3, 5.2, 13, 4].each { |v| histogram.observe(v, labels: { foo: "bar" }) }
      expect(histogram.get(labels: { foo: "bar" })).to eql("2.5" => 0.0, "5" => 2.0, "10" => 3.0, "+Inf" => 4.0, "sum" => 25.2)
      expect(histogram.values).to eql({ foo: "bar" } => histogram.get(labels: { foo: "bar" }))
      expect(histogram.buckets).to eq([2.5, 5, 10])
    end

    it "refuses unsorted buckets and the le label" do
      expect { described_class.new(:b, docstring: "d", buckets: [1, 3, 2]) }.to raise_error(ArgumentError, "Unsorted buckets, typo?")
      expect { described_class.new(:b, docstring: "d", labels: [:le]) }
        .to raise_error(Prometheus::Client::LabelSetValidator::ReservedLabelError, "le is reserved")
    end

    it "builds linear and exponential buckets" do
      expect(described_class.linear_buckets(start: 1, width: 2, count: 5)).to eq([1.0, 3.0, 5.0, 7.0, 9.0])
      expect(described_class.exponential_buckets(start: 1, factor: 2, count: 5)).to eq([1.0, 2.0, 4.0, 8.0, 16.0])
    end

    it "keeps no bucket but +Inf for buckets: []" do
      bare = described_class.new(:bare, docstring: "d", buckets: [])
      bare.observe(7)
      expect(bare.get).to eql("+Inf" => 1.0, "sum" => 7.0)
      expect(bare.buckets).to eq([])
    end

    it "initialises every bucket with init_label_set, and presets labels with with_labels" do
      histogram.init_label_set(foo: "x")
      expect(histogram.values).to eql({ foo: "x" } => { "2.5" => 0.0, "5" => 0.0, "10" => 0.0, "+Inf" => 0.0, "sum" => 0.0 })
      histogram.with_labels(foo: "y").observe(1)
      expect(histogram.get(labels: { foo: "y" })["+Inf"]).to eq(1.0)
    end
  end

  describe Prometheus::Client::Summary do
    let(:summary) { described_class.new(:bar, docstring: "bar description", labels: [:foo]) }

    it "keeps the count and sum of observations" do
      [3, 5.2, 13, 4].each { |v| summary.observe(v, labels: { foo: "bar" }) }
      expect(summary.get(labels: { foo: "bar" })).to eql("count" => 4.0, "sum" => 25.2)
      expect(summary.values).to eql({ foo: "bar" } => { "count" => 4.0, "sum" => 25.2 })
    end

    it "reserves the quantile label and initialises label sets" do
      expect { described_class.new(:b, docstring: "d", labels: [:quantile]) }
        .to raise_error(Prometheus::Client::LabelSetValidator::ReservedLabelError)
      summary.init_label_set(foo: "z")
      expect(summary.get(labels: { foo: "z" })).to eql("count" => 0.0, "sum" => 0.0)
    end
  end
end
