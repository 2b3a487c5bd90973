# frozen_string_literal: true

# What every metric type does with labels and bad input. Expects `metric` (declared with labels
# `%i[service status]`) and `update` (a lambda taking labels:) in the including group.
RSpec.shared_examples "a labelled metric" do
  let(:labels) { { service: "api", status: "ok" } }

  it "treats Symbol and String keys in any order as the same series" do
    update.call(labels: { service: "api", status: "ok" })
    update.call(labels: { "status" => "ok", "service" => "api" })
    update.call(labels: { status: "ok", "service" => "api" })
    expect(metric.values.keys).to eq([{ service: "api", status: "ok" }])
  end

  it "accepts Symbol and Integer label values as their text" do
    update.call(labels: { service: :api, status: 200 })
    expect(metric.values.keys).to eq([{ service: "api", status: "200" }])
  end

  it "keeps unicode, quotes, backslashes and newlines in label values" do
    update.call(labels: { service: "ünï \"q\" \\ \n", status: "" })
    expect(metric.values.keys).to eq([{ service: "ünï \"q\" \\ \n", status: "" }])
  end

  {
    "a missing label" => [{ service: "api" }, ArgumentError, /missing label "status"/],
    "an unknown label" => [{ service: "api", status: "ok", zone: "x" }, ArgumentError, /unknown label "zone"/],
    "no labels at all" => [nil, ArgumentError, /no labels given/],
    "labels that are not a Hash" => [[1], TypeError, /labels must be a Hash, got Array/],
    "a nil label value" => [{ service: nil, status: "ok" }, TypeError, /label "service" value must be a String, Symbol, Integer, true, false or a named Class, got NilClass/],
    "a Float label value" => [{ service: 1.5, status: "ok" }, TypeError, /got Float \(1\.5\)/],
    "a label value that is not UTF-8" => [{ service: "\xFF".b, status: "ok" }, ArgumentError, /label "service": not valid UTF-8/],
    "a label key that is not a name" => [{ 1 => "x", status: "ok" }, TypeError, /label name must be a String or Symbol, got Integer/],
    "the same label twice" => [{ service: "a", "service" => "b" }, ArgumentError, /given twice/],
  }.each do |what, (bad, error, message)|
    it "refuses #{what} and creates nothing" do
      call = bad.nil? ? -> { update.call } : -> { update.call(labels: bad) }
      expect(&call).to raise_error(error, message)
      expect(metric.values).to be_empty
    end
  end

  it "refuses unknown keywords" do
    expect { update.call(labels: labels, bogus: 1) }.to raise_error(ArgumentError, "unknown keyword: :bogus")
  end

  it "reads a missing series as zero without creating it" do
    expect(metric.get(labels: labels)).to eq(zero)
    expect(metric.values).to be_empty
  end

  it "hands out a bound handle per label set" do
    bound = metric.with_labels(**labels)
    expect(bound.labels).to eq(labels)
    expect(bound.name).to eq(metric.name)
    expect(metric.values.keys).to eq([labels])
  end

  it "removes one series or all of them" do
    update.call(labels: labels)
    update.call(labels: { service: "b", status: "c" })
    expect(metric.remove(labels: labels)).to be(true)
    expect(metric.remove(labels: labels)).to be(false)
    expect(metric.values.size).to eq(1)
    expect(metric.clear).to eq(1)
    expect(metric.values).to be_empty
  end

  it "brings a removed or cleared label set back on its next update" do
    2.times { update.call(labels: labels) } # the second update takes the repeated-label-set path
    metric.remove(labels: labels)
    update.call(labels: labels)
    expect(metric.values.keys).to eq([labels])
    expect(registry.export).to include(metric.name.to_s)
    metric.clear
    update.call(labels: labels)
    expect(metric.values.keys).to eq([labels])
  end

  it "cannot be instantiated directly" do
    expect { metric.class.new }.to raise_error(TypeError, /allocator undefined/)
  end
end
