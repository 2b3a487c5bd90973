# frozen_string_literal: true

# DirectFileStore: tasker_metrics' multi-process mode on the directory (client_ruby's
# data_stores/direct_file_store_spec checks settings and aggregation the same way).
RSpec.describe Prometheus::Client::DataStores::DirectFileStore do
  include_context "with client_ruby's defaults"

  let(:dir) { Dir.mktmpdir("client-ruby-dfs") }
  let(:registry) { Prometheus::Client::Registry.new }

  before { Prometheus::Client.config.data_store = described_class.new(dir: dir) }
  after { FileUtils.rm_rf(dir) }

  # Runs the block in `count` forked processes that exit normally, and waits for them.
  def in_children(count)
    pids = Array.new(count) { |i| fork { yield(i) || exit!(0) } }
    pids.each { |pid| Process.wait(pid) }
    expect(pids.size).to eq(count)
  end

  it "switches the metrics' values to multi-process mode on its directory, and back with Synchronized" do
    expect(TaskerMetrics::ClientRuby.registry.multiprocess_dir).to eq(dir)
    Prometheus::Client.config.data_store = Prometheus::Client::DataStores::Synchronized.new
    expect(TaskerMetrics::ClientRuby.registry.multiprocess_dir).to be_nil
  end

  it "sums counters, histograms and summaries of forked processes exactly, and keeps an exited one's counts" do
    jobs = registry.counter(:jobs_total, docstring: "Jobs", labels: [:queue])
    sizes = registry.histogram(:sizes, docstring: "Sizes", buckets: [10])
    times = registry.summary(:times, docstring: "Times")
    jobs.increment(labels: { queue: "a" })
    in_children(4) do |i|
      (i + 1).times { jobs.increment(labels: { queue: "a" }) }
      jobs.increment(by: 2, labels: { queue: "b" })
      sizes.observe(i * 5)
      times.observe(1.5)
    end
    expect(jobs.values).to eq({ queue: "a" } => 11.0, { queue: "b" } => 8.0)
    expect(jobs.get(labels: { queue: "a" })).to eq(1.0), "get is this process's value, as client_ruby's"
    expect(sizes.values).to eq({} => { "10" => 3.0, "+Inf" => 4.0, "sum" => 30.0 })
    expect(times.values).to eq({} => { "count" => 4.0, "sum" => 6.0 })
    text = Prometheus::Client::Formats::Text.marshal(registry)
    expect(text).to include("jobs_total{queue=\"a\"} 11.0\n", "sizes_bucket{le=\"+Inf\"} 4.0\n", "times_count 4.0\n")
  end

  # Forks `count` children that run the block and stay alive until the parent's block is done.
  def with_live_children(count, work)
    release_r, release_w = IO.pipe
    ready_r, ready_w = IO.pipe
    pids = Array.new(count) do |i|
      fork do
        work.call(i)
        ready_w.write("x")
        release_r.read(1)
        exit!(0)
      end
    end
    ready_r.read(count)
    yield
  ensure
    release_w&.write("x" * count)
    pids&.each { |pid| Process.wait(pid) }
  end

  it "aggregates gauges as store_settings say: per live process (pid label) by default, or sum, max, min, most recent" do
    gauges = %i[all sum max min most_recent].to_h do |mode|
      settings = mode == :all ? {} : { aggregation: mode }
      [mode, registry.gauge(:"g_#{mode}", docstring: "g", store_settings: settings)]
    end
    gauges.each_value { |g| g.set(1) }
    with_live_children(2, ->(i) { gauges.each_value { |g| g.set(10 + i) } }) do
      expect(gauges[:all].values.size).to eq(3)
      expect(gauges[:all].values).to include({ pid: Process.pid.to_s } => 1.0)
    end
    expect(gauges[:sum].values).to eq({} => 22.0)
    expect(gauges[:max].values).to eq({} => 11.0)
    expect(gauges[:min].values).to eq({} => 1.0)
    expect(gauges[:most_recent].values.values.first).to be_between(10.0, 11.0)
    expect(gauges[:all].values).to eq({ pid: Process.pid.to_s } => 1.0), "exited processes' per-process values leave"
  end

  it "refuses invalid store settings as client_ruby does, and increments on a :most_recent gauge" do
    error = described_class::InvalidStoreSettingsError
    expect { registry.counter(:a, docstring: "a", store_settings: { aggregation: :nope }) }.to raise_error(error, "Metrics need a valid :aggregation key")
    expect { registry.counter(:b, docstring: "b", store_settings: { aggregation: :sum, x: 1 }) }
      .to raise_error(error, "Only :aggregation setting can be specified")
    expect { registry.counter(:c, docstring: "c", store_settings: { aggregation: :most_recent }) }
      .to raise_error(error, "Only :gauge metrics support :most_recent aggregation")
    recent = registry.gauge(:d, docstring: "d", store_settings: { aggregation: :most_recent })
    expect { recent.increment }.to raise_error(error, /does not support the use of increment/)
    expect { Prometheus::Client::Gauge.new(:e, docstring: "e", store_settings: { aggregation: :sum }) }.not_to raise_error
  end
end
