# frozen_string_literal: true

# client_ruby's text format (its formats/text_spec checks the same behaviours).
RSpec.describe Prometheus::Client::Formats::Text do
  include_context "with client_ruby's defaults"

  let(:registry) { Prometheus::Client::Registry.new }

  it "marshals as client_ruby does: TYPE before HELP, Ruby's Float text, escaped HELP and label values, bounds as given" do
    requests = registry.counter(:requests, docstring: "Requests to Zürich", labels: %i[city route], preset_labels: { city: "Zürich" })
    requests.increment(by: 7, labels: { route: "/" })
    requests.increment(by: 6.02e23, labels: { route: "/big" })
    requests.increment(by: 2.5e-9, labels: { route: "/tiny" })
    registry.gauge(:temperature, docstring: "two\nlines \\ here").set(-3)
    registry.counter(:quoted, docstring: "q", labels: [:text]).increment(labels: { text: "a \"b\" \\c\nd" })
    latency = registry.summary(:latency, docstring: "l", labels: [:op])
    [0, 0, 10.5].each { |v| latency.observe(v, labels: { op: "x" }) }
    sizes = registry.histogram(:sizes, docstring: "s", buckets: [1, 2.5, 100])
    [2, 50].each { |v| sizes.observe(v) }
    expect(described_class.marshal(registry)).to eq(<<~'TEXT')
      # TYPE requests counter
      # HELP requests Requests to Zürich
      requests{city="Zürich",route="/"} 7.0
      requests{city="Zürich",route="/big"} 6.02e+23
      requests{city="Zürich",route="/tiny"} 2.5e-09
      # TYPE temperature gauge
      # HELP temperature two\nlines \\ here
      temperature -3.0
      # TYPE quoted counter
      # HELP quoted q
      quoted{text="a \"b\" \\c\nd"} 1.0
      # TYPE latency summary
      # HELP latency l
      latency_sum{op="x"} 10.5
      latency_count{op="x"} 3.0
      # TYPE sizes histogram
      # HELP sizes s
      sizes_bucket{le="1"} 0.0
      sizes_bucket{le="2.5"} 1.0
      sizes_bucket{le="100"} 2.0
      sizes_bucket{le="+Inf"} 2.0
      sizes_sum 52.0
      sizes_count 2.0
    TEXT
  end

  it "is empty for an empty registry, and names its content type" do
    expect(described_class.marshal(registry)).to eq("")
    expect(Prometheus::Client::Formats::Text::CONTENT_TYPE).to eq("text/plain; version=0.0.4")
  end
end
