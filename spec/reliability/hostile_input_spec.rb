# frozen_string_literal: true

require "bigdecimal"

# Every public entry point tried with hostile values. Each call either succeeds (a documented
# conversion) or raises ArgumentError/TypeError (or TaskerMetrics::Error) whose message names the
# argument; a refused call changes nothing, and the next scrape is still valid.
RSpec.describe "Hostile input" do # rubocop:disable RSpec/DescribeClass -- sweeps the whole public API
  # An object whose to_s and inspect raise.
  explosive = Object.new
  def explosive.to_s = raise("to_s exploded")
  def explosive.inspect = raise("inspect exploded")

  deep = (1..100).reduce({ leaf: 1 }) { |inner, i| { "level#{i}": inner } }
  values = {
    "nil" => nil, "true" => true, "an Object" => Object.new, "NaN" => Float::NAN, "+Infinity" => Float::INFINITY,
    "-Infinity" => -Float::INFINITY, "2**70" => 2**70, "-(2**70)" => -(2**70), "a Rational" => Rational(1, 3),
    "a BigDecimal" => BigDecimal("1.5"), "a Complex" => Complex(1, 2), "invalid UTF-8" => "\xFF\xFE".b,
    "a NUL byte" => "a\0b", "a newline" => "a\nb", "a quote" => 'a"b', "a backslash" => "a\\b",
    "1 MB" => "x" * 1_000_000, "a deep Hash" => deep, "to_s raises" => explosive, "a frozen String" => "frozen",
    "a Symbol" => :sym, "an empty String" => "", "an Array" => [1, "2"], "-1" => -1, "0" => 0, "a Time" => Time.at(0),
  }

  # target => [call, pattern the message must match (it names the argument)]
  targets = {
    "Registry#counter name" => [->(r, v) { r.counter(v, docstring: "d") }, /name|metric/],
    "Registry#counter docstring" => [->(r, v) { r.counter(:n_total, docstring: v) }, /docstring/],
    "Registry#gauge labels" => [->(r, v) { r.gauge(:g, docstring: "d", labels: [v]) }, /label/],
    "Registry#histogram buckets" => [->(r, v) { r.histogram(:h, docstring: "d", buckets: [v]) }, /bucket/],
    "Registry#gauge max_series" => [->(r, v) { r.gauge(:g2, docstring: "d", max_series: v) }, /max_series/],
    "Registry#export format" => [->(r, v) { r.export(format: v) }, /format/],
    "Counter#increment by" => [->(r, v) { r.get(:c_total).increment(by: v, labels: { k: "a" }) }, /by/],
    "Counter#increment label value" => [->(r, v) { r.get(:c_total).increment(labels: { k: v }) }, /label/],
    "Counter#increment label key" => [->(r, v) { r.get(:c_total).increment(labels: { v => "x" }) }, /label/],
    "Counter#increment labels" => [->(r, v) { r.get(:c_total).increment(labels: v) }, /label/],
    "Counter#increment exemplar" => [->(r, v) { r.get(:c_total).increment(labels: { k: "a" }, exemplar: { trace_id: v }) }, /exemplar/],
    "Counter#get labels" => [->(r, v) { r.get(:c_total).get(labels: { k: v }) }, /label/],
    "Counter#with_labels" => [->(r, v) { r.get(:c_total).with_labels(k: v) }, /label/],
    "Counter::Bound#increment" => [->(r, v) { r.get(:c_total).with_labels(k: "bound").increment(by: v) }, /by/],
    "Gauge#set" => [->(r, v) { r.get(:gauge).set(v) }, /value/],
    "Gauge#increment" => [->(r, v) { r.get(:gauge).increment(by: v) }, /by/],
    "Gauge#decrement" => [->(r, v) { r.get(:gauge).decrement(by: v) }, /by/],
    "Histogram#observe" => [->(r, v) { r.get(:hist).observe(v) }, /value/],
    "EventMapping event_name" => [->(_r, v) { TaskerMetrics::EventMapping.new(event_name: v) }, /event_name/],
    "EventMapping backends" => [->(_r, v) { TaskerMetrics::EventMapping.new(event_name: "x", backends: [v]) }, /backend/],
    "EventMapping sampling_rate" => [->(_r, v) { TaskerMetrics::EventMapping.new(event_name: "x", sampling_rate: v) }, /sampling_rate/],
    "EventMapping priority" => [->(_r, v) { TaskerMetrics::EventMapping.new(event_name: "x", priority: v) }, /priority/],
    "EventMapping metadata" => [->(_r, v) { TaskerMetrics::EventMapping.new(event_name: "x", metadata: { a: v }) }, /metadata/],
    "TaskerMetrics.record name" => [->(_r, v) { TaskerMetrics.record(v) }, /event_name/],
    "TaskerMetrics.record payload" => [->(_r, v) { TaskerMetrics.record("task.completed", v) }, /payload/],
    "TaskerMetrics.record status" => [->(_r, v) { TaskerMetrics.record("task.completed", { status: v }) }, /label|status/],
    "TaskerMetrics.record duration" => [->(_r, v) { TaskerMetrics.record("task.completed", { duration: v }) }, /Observed value|value/],
    "MetricsBackend#counter name" => [->(_r, v) { TaskerMetrics::MetricsBackend.instance.counter(v) }, /name|Metric/],
    "MetricsBackend#counter label" => [->(_r, v) { TaskerMetrics::MetricsBackend.instance.counter("hostile_total", k: v) }, /label/],
    "MetricTypes::Counter#increment" => [->(_r, v) { TaskerMetrics::MetricTypes::Counter.new("c").increment(v) }, /Counter increment amount/],
    "MetricTypes::Gauge#set" => [->(_r, v) { TaskerMetrics::MetricTypes::Gauge.new("g").set(v) }, /Gauge value/],
    "MetricTypes::Histogram#observe" => [->(_r, v) { TaskerMetrics::MetricTypes::Histogram.new("h").observe(v) }, /Observed value/],
  }

  before do
    registry.counter(:c_total, docstring: "c", labels: [:k])
    registry.gauge(:gauge, docstring: "g")
    registry.histogram(:hist, docstring: "h", buckets: [1, 10])
    registry.get(:c_total).with_labels(k: "bound")
  end

  def state(registry) = [registry.export, TaskerMetrics.registry.export]

  targets.each do |target, (call, names_argument)|
    describe target do
      values.each do |what, value|
        it "handles #{what}" do
          before = state(registry)
          begin
            call.call(registry, value)
          rescue ArgumentError, TypeError, TaskerMetrics::Error => e
            expect(e.message).to match(names_argument)
            expect(state(registry)).to eq(before), "a refused call changed state"
          end
          expect(Scrape.valid?(registry.export)).to be(true)
          expect(Scrape.valid?(TaskerMetrics.registry.export)).to be(true)
        end
      end
    end
  end

  describe "the scrape after the sweep" do
    include_context "with promtool"

    it "is accepted by promtool" do
      targets.each_value { |(call, _)| values.each_value { |v| call.call(registry, v) rescue nil } } # rubocop:disable Style/RescueModifier -- errors are the point
      expect(registry.export).to pass_promtool
      expect(TaskerMetrics.registry.export).to pass_promtool
    end
  end
end
