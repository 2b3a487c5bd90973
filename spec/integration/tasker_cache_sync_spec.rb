# frozen_string_literal: true

require "tmpdir"

# Tasker's cache coordination (MetricsBackend#sync_to_cache! and #export_distributed_metrics)
# through real ActiveSupport cache stores, each process a forked child with its own Rails.cache:
# a real Redis (Debian redis-server on 127.0.0.1), a FileStore two processes share, and MemoryStore.
RSpec.describe "Tasker cache coordination across processes" do
  # Runs the block in a child whose Rails.cache is the store built by `store`, with an empty
  # registry, and returns what the block returns.
  def in_process(store)
    ForkHelper.in_child do
      require "rails"
      Rails.cache = store.call
      TaskerMetrics.registry.clear
      backend = TaskerMetrics::MetricsBackend.instance
      backend.refresh_cache_strategy!
      yield backend
    end
  end

  # What each worker records: together 7 completed tasks, 3 step durations, two depths.
  def record_a(backend)
    backend.counter("task_completed_total", status: "ok").increment(3)
    backend.gauge("queue_depth").set(5)
    h = backend.histogram("step_duration_seconds", buckets: [0.25, 1])
    h.observe(0.2)
    h.observe(2.0)
  end

  def record_b(backend)
    backend.counter("task_completed_total", status: "ok").increment(4)
    backend.gauge("queue_depth").set(7)
    backend.histogram("step_duration_seconds", buckets: [0.25, 1]).observe(0.5)
  end

  def merged_view(result)
    metrics = result[:metrics]
    {
      counter: metrics['task_completed_total{status="ok"}'][:value],
      histogram: metrics["step_duration_seconds"].slice(:count, :sum, :buckets),
      gauges: metrics.values.select { |m| m[:name] == "queue_depth" }.to_h { |m| [m[:labels]["instance_id"], m[:value]] },
    }
  end

  shared_examples "a distributed cache" do |strategy|
    it "syncs each process under its own keys and merges every live instance: counters and histograms summed, gauges per instance" do
      a = in_process(store) do |backend|
        record_a(backend)
        first = backend.sync_to_cache!
        [first, backend.sync_to_cache!, backend.instance_id]
      end
      b = in_process(store) do |backend|
        record_b(backend)
        [backend.sync_to_cache!, backend.instance_id]
      end
      (first, again, id_a) = a
      (synced_b, id_b) = b
      expect(first).to include(success: true, strategy: strategy, synced_metrics: 3, instance_id: id_a)
      expect(first[:performance]).to include(counters: 1, gauges: 1, histograms: 1)
      expect(first.keys).to include(:duration_ms, :duration, :timestamp)
      expect([again[:success], synced_b[:success], synced_b[:instance_id]]).to eq([true, true, id_b])

      view, instances, raw = in_process(store) do |backend|
        result = backend.export_distributed_metrics
        key = ["tasker", "metrics", id_a, 'task_completed_total{status="ok"}']
        [merged_view(result), result[:instances], [result[:distributed], result[:sync_strategy], Rails.cache.read(key)&.slice(:value, :instance_id)]]
      end
      expect(view[:counter]).to eq(7), "3 + 4, though the first process synced twice"
      expect(view[:histogram]).to eq(count: 3, sum: 2.7, buckets: { 0.25 => 1, 1.0 => 2, Float::INFINITY => 3 })
      expect(view[:gauges]).to eq(id_a => 5.0, id_b => 7.0)
      expect(instances).to include(id_a, id_b)
      expect(raw).to eq([true, strategy, { value: 3, instance_id: id_a }])
    end

    it "leaves out an instance whose index entry expired" do
      id_a = in_process(store) do |backend|
        record_a(backend)
        backend.sync_to_cache!
        backend.instance_id
      end
      counter = in_process(store) do |backend|
        forget(id_a)
        backend.export_distributed_metrics[:metrics]['task_completed_total{status="ok"}']
      end
      expect(counter).to be_nil
    end
  end

  context "with a real Redis (RedisCacheStore)" do
    include_context "with redis-server"

    let(:store) do
      url = redis_url
      namespace = "spec-#{SecureRandom.hex(4)}"
      -> { ActiveSupport::Cache::RedisCacheStore.new(url: url, namespace: namespace) }
    end

    def forget(id)
      slots = (1..20).map { |slot| ["tasker", "metrics", "instances", slot] }
      Rails.cache.read_multi(*slots).each { |slot, owner| Rails.cache.delete(slot) if owner == id }
    end

    it "detects Redis as distributed, atomic and locking" do
      capabilities = in_process(store) { |backend| [backend.sync_strategy, backend.cache_capabilities] }
      expect(capabilities.first).to eq(:distributed_atomic)
      expect(capabilities.last).to include(distributed: true, atomic_increment: true, locking: true,
                                           store_class: "ActiveSupport::Cache::RedisCacheStore",)
    end

    it_behaves_like "a distributed cache", :distributed_atomic
  end

  context "with a FileStore that declares itself distributed (no atomic increment): read-modify-write index" do
    let(:dir) { Dir.mktmpdir("tasker-cache") }
    let(:store) do
      path = dir
      lambda do
        klass = Class.new(ActiveSupport::Cache::FileStore) do
          def self.name = "SharedFileStore"
          def self.declared_cache_capabilities = { distributed: true, atomic_increment: false, locking: false }
        end
        klass.new(path)
      end
    end

    after { FileUtils.rm_rf(dir) }

    def forget(id)
      index = Rails.cache.read(%w[tasker metrics instances])
      Rails.cache.write(%w[tasker metrics instances], index.except(id))
    end

    it_behaves_like "a distributed cache", :distributed_basic
  end

  context "with MemoryStore (local only)" do
    let(:store) { -> { ActiveSupport::Cache::MemoryStore.new } }

    it "writes Tasker's snapshot and history keys and exports local metrics with Tasker's warning" do
      result, snapshot, exported = in_process(store) do |backend|
        record_a(backend)
        synced = backend.sync_to_cache!
        [synced, Rails.cache.read(["tasker", "metrics", "snapshot", backend.instance_id]), backend.export_distributed_metrics]
      end
      expect(result).to include(success: true, strategy: :local_only, synced_metrics: 3)
      expect(result[:performance]).to include(snapshots: 2, metrics_serialized: 3)
      expect(result[:performance][:size_bytes]).to be_positive
      expect(snapshot).to include(total_metrics: 3, cache_strategy: :local_only, metrics_by_type: { counter: 1, gauge: 1, histogram: 1 })
      expect(snapshot[:metrics]['task_completed_total{status="ok"}']).to include(value: 3)
      expect(exported).to include(distributed: false, sync_strategy: :local_only, total_metrics: 3)
    end
  end

  it "answers Tasker's failure Hash when Rails.cache raises, never raising" do
    result = ForkHelper.in_child do
      require "rails"
      Rails.singleton_class.define_method(:cache) { raise "cache down" }
      backend = TaskerMetrics::MetricsBackend.instance
      [backend.refresh_cache_strategy!, backend.sync_to_cache!]
    end
    expect(result).to eq([:local_only, { success: false, error: "Rails.cache not available" }])
  end
end
