# frozen_string_literal: true

require "active_support/cache"

RSpec.describe TaskerMetrics::CacheStrategy do
  # Rails with `cache` answering the given store (or raising what the block raises).
  def with_rails_cache(store = nil, &raising)
    rails = stub_const("Rails", Module.new)
    rails.define_singleton_method(:cache) { raising ? yield : store }
  end

  # A store of the given class name, with options.
  def store_named(name, options = {}, declared: nil)
    klass = Class.new(ActiveSupport::Cache::MemoryStore)
    klass.define_singleton_method(:name) { name }
    klass.define_singleton_method(:declared_cache_capabilities) { declared } if declared
    klass.new(**options)
  end

  {
    "ActiveSupport::Cache::RedisCacheStore" => [:distributed_atomic, { distributed: true, atomic_increment: true, locking: true, ttl_inspection: true }],
    "SolidCache::Store" => [:distributed_atomic, { distributed: true, atomic_increment: true, locking: true }],
    "ActiveSupport::Cache::MemCacheStore" => [:distributed_basic, { distributed: true, atomic_increment: true, locking: false, ttl_inspection: true }],
    "ActiveSupport::Cache::MemoryStore" => [:local_only, { distributed: false, atomic_increment: false, locking: false, ttl_inspection: false }],
    "ActiveSupport::Cache::FileStore" => [:local_only, { distributed: false }],
  }.each do |store_class, (mode, capabilities)|
    it "chooses #{mode} for #{store_class}, with Tasker's capabilities" do
      with_rails_cache(store_named(store_class))
      strategy = described_class.detect
      expect(strategy.coordination_mode).to eq(mode)
      expect(strategy.capabilities).to include(capabilities.merge(store_class: store_class, key_transformation: true))
      expect(strategy.export_capabilities).to eq(strategy.capabilities)
      expect(strategy.export_capabilities).not_to equal(strategy.capabilities)
    end
  end

  it "lets a store declare its capabilities, as Tasker's CacheCapabilities does" do
    with_rails_cache(store_named("MyCache", declared: { "distributed" => true, atomic_increment: false }))
    strategy = described_class.detect
    expect(strategy.coordination_mode).to eq(:distributed_basic)
    expect(strategy.supports?(:distributed)).to be(true)
    expect(strategy.supports?(:locking)).to be(false)
  end

  it "notices namespace and compression options" do
    with_rails_cache(store_named("ActiveSupport::Cache::MemoryStore", { namespace: "app", compress: true }))
    expect(described_class.detect.capabilities).to include(namespace_support: true, compression_support: true)
  end

  it "falls back to local-only with store class Unknown when Rails.cache raises or there is no Rails" do
    with_rails_cache { raise "no cache configured" }
    expect(described_class.detect).to have_attributes(coordination_mode: :local_only, store_class_name: "Unknown", store: nil)
    hide_const("Rails")
    expect(described_class.detect.capabilities).to include(distributed: false, store_class: "Unknown")
  end

  describe ".instance_id" do
    around do |example|
      saved = ENV.delete("HOSTNAME")
      example.run
    ensure
      ENV["HOSTNAME"] = saved
    end

    it "is HOSTNAME-pid, else hostname-pid, else unknown-pid" do
      expect(described_class.instance_id).to eq("#{Socket.gethostname}-#{Process.pid}")
      ENV["HOSTNAME"] = "web-1"
      expect(described_class.instance_id).to eq("web-1-#{Process.pid}")
      ENV.delete("HOSTNAME")
      allow(Socket).to receive(:gethostname).and_raise(SocketError)
      expect(described_class.instance_id).to eq("unknown-#{Process.pid}")
    end
  end
end
