# frozen_string_literal: true

# client_ruby's Registry (its registry_spec checks the same behaviours).
RSpec.describe Prometheus::Client::Registry do
  include_context "with client_ruby's defaults"

  let(:registry) { described_class.new }

  it "registers metrics by name, refuses a second of the same name, and unregisters" do
    counter = Prometheus::Client::Counter.new(:jobs_total, docstring: "Jobs")
    expect(registry.register(counter)).to be(counter)
    expect { registry.register(Prometheus::Client::Gauge.new(:jobs_total, docstring: "x")) }
      .to raise_error(Prometheus::Client::Registry::AlreadyRegisteredError, "jobs_total has already been registered")
    expect(registry.exist?(:jobs_total)).to be(true)
    expect(registry.exist?("jobs_total")).to be(false), "exist? takes the name as registered, as client_ruby's"
    expect(registry.get("jobs_total")).to be(counter)
    expect(registry.metrics).to eq([counter])
    registry.unregister(:jobs_total)
    expect([registry.exist?(:jobs_total), registry.get(:jobs_total), registry.metrics]).to eq([false, nil, []])
  end

  it "builds and registers each type with its options" do
    c = registry.counter(:c, docstring: "c", labels: [:a], preset_labels: { a: "x" })
    g = registry.gauge(:g, docstring: "g")
    h = registry.histogram(:h, docstring: "h", buckets: [1, 2])
    s = registry.summary(:s, docstring: "s")
    expect([c, g, h, s].map(&:class)).to eq([Prometheus::Client::Counter, Prometheus::Client::Gauge, Prometheus::Client::Histogram, Prometheus::Client::Summary])
    expect([c.preset_labels, h.buckets, registry.metrics.size]).to eq([{ a: "x" }, [1, 2], 4])
  end

  it "is safe under 10 threads registering 100 metrics each" do
    Array.new(10) { |t| Thread.new { 100.times { |i| registry.counter(:"m_#{t}_#{i}", docstring: "d") } } }.each(&:join)
    expect(registry.metrics.size).to eq(1000)
  end

  it "has a default registry and configuration" do
    default = Prometheus::Client.registry
    expect(default).to be_a(described_class)
    expect(Prometheus::Client.registry).to be(default)
    expect(Prometheus::Client.config.data_store).to be_a(Prometheus::Client::DataStores::Synchronized)
  end
end
