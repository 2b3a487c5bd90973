# frozen_string_literal: true

require "socket"

module TaskerMetrics
  # What +Rails.cache+ can do for metrics coordination between processes and hosts, and the sync
  # strategy that follows, with Tasker's rules (Tasker::CacheStrategy). {MetricsBackend} uses
  # Tasker's own class when Tasker is loaded, so detectors a Tasker app registered still apply.
  #
  # @example
  #   TaskerMetrics::CacheStrategy.detect.coordination_mode # => :distributed_atomic with Redis
  class CacheStrategy
    DISTRIBUTED_CACHE_STORES = %w[ActiveSupport::Cache::RedisCacheStore ActiveSupport::Cache::MemCacheStore SolidCache::Store].freeze
    ATOMIC_INCREMENT_STORES = DISTRIBUTED_CACHE_STORES
    LOCKING_CAPABLE_STORES = %w[ActiveSupport::Cache::RedisCacheStore SolidCache::Store].freeze

    # @return [ActiveSupport::Cache::Store, nil]
    attr_reader :store
    # @return [String] the store's class name, +"Unknown"+ without a usable store
    attr_reader :store_class_name
    # @return [Hash{Symbol=>Object}] +:distributed+, +:atomic_increment+, +:locking+, +:ttl_inspection+, ...
    attr_reader :capabilities
    # @return [Symbol] +:distributed_atomic+, +:distributed_basic+ or +:local_only+
    attr_reader :coordination_mode
    # @return [String] +"<hostname>-<pid>"+
    attr_reader :instance_id

    # @return [CacheStrategy] for the current +Rails.cache+
    def self.detect = new

    # +"<hostname>-<pid>"+; the hostname from +HOSTNAME+, else the system's, else +"unknown"+.
    # @return [String]
    def self.instance_id
      hostname = begin
        ENV["HOSTNAME"] || Socket.gethostname
      rescue StandardError
        "unknown"
      end
      "#{hostname}-#{Process.pid}"
    end

    def initialize
      @instance_id = self.class.instance_id
      @store = self.class.rails_cache
      @store_class_name = @store ? @store.class.name.to_s : "Unknown"
      @capabilities = @store ? detect_capabilities : default_capabilities
      @coordination_mode = select_mode
    rescue StandardError
      @store_class_name = "Unknown"
      @capabilities = default_capabilities
      @coordination_mode = :local_only
    end

    # The app's +Rails.cache+ when it can read and write, else nil (never raises).
    # @return [ActiveSupport::Cache::Store, nil]
    def self.rails_cache
      return nil unless defined?(::Rails) && ::Rails.respond_to?(:cache)

      cache = ::Rails.cache
      cache if cache.respond_to?(:read) && cache.respond_to?(:write)
    rescue StandardError
      nil
    end

    # @param capability [Symbol]
    # @return [Boolean]
    def supports?(capability) = @capabilities[capability] || false

    # @return [Hash] a copy of {capabilities}
    def export_capabilities = @capabilities.dup

    private

    # Declared capabilities (Tasker's CacheCapabilities) first, then the known stores.
    def detect_capabilities
      known = {
        distributed: DISTRIBUTED_CACHE_STORES.include?(@store_class_name),
        atomic_increment: ATOMIC_INCREMENT_STORES.include?(@store_class_name),
        locking: LOCKING_CAPABLE_STORES.include?(@store_class_name),
        ttl_inspection: DISTRIBUTED_CACHE_STORES.include?(@store_class_name),
        namespace_support: option?(:namespace), compression_support: option?(:compress),
        key_transformation: true, store_class: @store_class_name,
      }
      known.merge(declared.slice(*known.keys))
    end

    def declared
      klass = @store.class
      return {} unless klass.respond_to?(:declared_cache_capabilities)

      klass.declared_cache_capabilities.to_h.transform_keys(&:to_sym)
    end

    def option?(name) = (@store.respond_to?(:options) && @store.options.key?(name)) || false

    def default_capabilities
      { distributed: false, atomic_increment: false, locking: false, ttl_inspection: false, namespace_support: false,
        compression_support: false, key_transformation: true, store_class: @store_class_name, }
    end

    def select_mode
      return :local_only unless supports?(:distributed)

      supports?(:atomic_increment) && supports?(:locking) ? :distributed_atomic : :distributed_basic
    end
  end
end
