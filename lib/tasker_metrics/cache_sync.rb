# frozen_string_literal: true

require "json"
require "time"

module TaskerMetrics
  # Tasker's cache coordination for {MetricsBackend}: +sync_to_cache!+ writes this instance's
  # metrics to +Rails.cache+ with the strategy its store allows, and +export_distributed_metrics+
  # reads every live instance back and merges them. Key layout, strategies and result Hashes are
  # Tasker's; the private method names too, since Tasker's code and specs address them.
  #
  # Every sync writes absolute values under keys of this instance only, so repeating a sync never
  # counts anything twice, and an instance whose keys expire (it stopped syncing) leaves the
  # merged view. Instances find each other through an index: slots taken with the store's atomic
  # increment, or, without one, a Hash that each instance re-reads after writing.
  module CacheSync
    INSTANCE_SEQUENCE = %w[tasker metrics instances sequence].freeze
    INSTANCE_INDEX = %w[tasker metrics instances].freeze
    private_constant :INSTANCE_SEQUENCE, :INSTANCE_INDEX

    # Writes this instance's metrics to +Rails.cache+.
    # @return [Hash] +{success:, strategy:, synced_metrics:, duration_ms:, performance:, timestamp:,
    #   duration:, instance_id:}+, or +{success: false, error:, ...}+; never raises
    def sync_to_cache!
      return { success: false, error: "Rails.cache not available" } unless rails_cache_available?

      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      result = case @sync_strategy
               when :distributed_atomic then sync_with_atomic_operations
               when :distributed_basic then sync_with_read_modify_write
               when :local_only then sync_to_local_cache
               else return { success: false, error: "Unknown sync strategy: #{@sync_strategy}" }
               end
      result = result.merge(duration: Process.clock_gettime(Process::CLOCK_MONOTONIC) - started,
                            timestamp: Time.now.utc.iso8601, instance_id: instance_id,)
      coordinate_cache_sync(result)
      result
    rescue StandardError => e
      log_sync_error(e)
      { success: false, error: e.message, timestamp: Time.now.utc.iso8601 }
    end

    # The metrics of every instance that synced within the retention window, merged: counters and
    # histograms summed per key, gauges kept per instance (an +instance_id+ label added). This
    # instance contributes its current values. With a local-only store: this instance's export.
    #
    # @param include_instances [Boolean] add +instance_metrics: {instance_id => {key => data}}+
    # @return [Hash] {#export}'s shape plus +distributed:+, +sync_strategy:+, +instances:+
    def export_distributed_metrics(include_instances: false)
      case @sync_strategy
      when :distributed_atomic, :distributed_basic then aggregate_from_distributed_cache(include_instances: include_instances)
      when :local_only then export_local_metrics_with_warning
      else export
      end
    end

    private

    def rails_cache_available? = !CacheStrategy.rails_cache.nil?

    def cache = CacheStrategy.rails_cache

    def sync_with_atomic_operations = sync_distributed(:distributed_atomic, conflicts: 0, batches: 0)

    def sync_with_read_modify_write = sync_distributed(:distributed_basic, retries: 0, conflicts: 0, batches: 0, failed: 0)

    # One write of every metric under this instance's keys, the snapshot, and the index entry.
    def sync_distributed(strategy, **stats)
      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      grouped = group_metrics_by_type
      entries = grouped.values.flatten(1).to_h { |key, data| [build_cache_key(key), data.merge(last_update: Time.now.to_f, instance_id: instance_id)] }
      cache.write_multi(entries, expires_in: retention) unless entries.empty?
      write_snapshot
      register_instance
      stats.update(counters: grouped[:counter].size, gauges: grouped[:gauge].size, histograms: grouped[:histogram].size,
                   batches: entries.empty? ? 0 : 1,)
      log_info(strategy == :distributed_atomic ? "Atomic sync completed" : "Read-modify-write sync completed", stats)
      { success: true, strategy: strategy, synced_metrics: entries.size, duration_ms: milliseconds_since(started),
        performance: stats, timestamp: Time.now.utc.iso8601, }
    end

    # Tasker's local-only sync: the snapshot plus a timestamped copy.
    def sync_to_local_cache
      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      snapshot = create_versioned_snapshot
      written = write_snapshot(snapshot)
      stats = { snapshots: 0, metrics_serialized: snapshot[:total_metrics], size_bytes: estimate_snapshot_size(snapshot) }
      if written
        stats[:snapshots] = 1
        history = ["tasker", "metrics", "history", instance_id, Time.now.to_i]
        stats[:snapshots] += 1 if cache.write(history, snapshot, expires_in: retention / 2)
      end
      log_info("Local snapshot sync completed", stats)
      { success: written ? true : false, strategy: :local_only, synced_metrics: snapshot[:total_metrics],
        duration_ms: milliseconds_since(started), performance: stats, snapshot_key: snapshot_key(instance_id),
        timestamp: Time.now.utc.iso8601, }
    end

    def milliseconds_since(started) = ((Process.clock_gettime(Process::CLOCK_MONOTONIC) - started) * 1000).round(3)

    def write_snapshot(snapshot = create_versioned_snapshot) = cache.write(snapshot_key(instance_id), snapshot, expires_in: retention)

    def snapshot_key(id) = ["tasker", "metrics", "snapshot", id]

    def build_cache_key(metric_key) = ["tasker", "metrics", instance_id, metric_key]

    def retention = @sync_config.fetch(:retention_window)

    # @return [Hash{Symbol=>Array<(String, Hash)>}] +[key, to_h]+ pairs by type
    def group_metrics_by_type
      grouped = { counter: [], gauge: [], histogram: [] }
      all_metrics.each { |key, metric| grouped[metric.type] << [key, metric.to_h] }
      grouped
    end

    def create_versioned_snapshot
      metrics = all_metrics.transform_values(&:to_h)
      { version: defined?(::Tasker::Version) ? ::Tasker::Version : TaskerMetrics::VERSION, timestamp: Time.now.utc.iso8601,
        instance_id: instance_id, cache_strategy: @sync_strategy, cache_capabilities: @cache_capabilities,
        total_metrics: metrics.size, metrics_by_type: metrics.values.map { |m| m[:type] }.tally, metrics: metrics,
        sync_config: @sync_config.slice(:retention_window, :batch_size), hostname: instance_id.rpartition("-").first, }
    end

    def estimate_snapshot_size(snapshot)
      snapshot.to_json.bytesize
    rescue StandardError
      0
    end

    # Puts this instance in the index, so other instances' exports read its snapshot.
    def register_instance
      if @cache_capabilities[:atomic_increment]
        @instance_slot = nil unless @instance_slot_owner == instance_id
        @instance_slot ||= take_instance_slot
        @instance_slot_owner = instance_id
        cache.write([*INSTANCE_INDEX, @instance_slot], instance_id, expires_in: retention)
      else
        3.times { break if add_to_index }
      end
    end

    def take_instance_slot
      slot = cache.increment(INSTANCE_SEQUENCE, 1)
      return slot if slot

      # Stores whose increment does not create a missing key (memcached on Rails 6.1).
      cache.write(INSTANCE_SEQUENCE, "0", raw: true, unless_exist: true)
      cache.increment(INSTANCE_SEQUENCE, 1) || raise(StoreError, "Rails.cache could not increment the instance sequence")
    end

    # Read-modify-write of the index; true once this instance reads itself back.
    def add_to_index
      index = (cache.read(INSTANCE_INDEX) || {}).reject { |_, seen| seen < Time.now.to_f - retention }
      cache.write(INSTANCE_INDEX, index.merge(instance_id => Time.now.to_f))
      cache.read(INSTANCE_INDEX)&.key?(instance_id)
    end

    def instance_ids
      if @cache_capabilities[:atomic_increment]
        count = cache.read(INSTANCE_SEQUENCE, raw: true).to_s.to_i
        slots = (1..count).map { |slot| [*INSTANCE_INDEX, slot] }
        slots.empty? ? [] : cache.read_multi(*slots).values.uniq
      else
        (cache.read(INSTANCE_INDEX) || {}).keys
      end
    end

    def aggregate_from_distributed_cache(include_instances: false)
      others = (instance_ids - [instance_id]).map { |id| snapshot_key(id) }
      snapshots = others.empty? ? {} : cache.read_multi(*others).transform_keys(&:last)
      local = export
      per_instance = snapshots.compact.transform_values { |s| s[:metrics] }.merge(instance_id => local[:metrics])
      merged = DistributedMerge.merge(per_instance)
      result = local.merge(metrics: merged, total_metrics: merged.size, distributed: true, sync_strategy: @sync_strategy,
                            instances: per_instance.keys.sort,)
      include_instances ? result.merge(instance_metrics: per_instance) : result
    end

    def export_local_metrics_with_warning
      export.merge(distributed: false, sync_strategy: @sync_strategy,
                   warning: "Cache store doesn't support distribution - metrics are local-only",)
    end

    def coordinate_cache_sync(result)
      return unless defined?(::Tasker::Telemetry::ExportCoordinator)

      ::Tasker::Telemetry::ExportCoordinator.instance.coordinate_cache_sync(result)
    rescue StandardError => e
      TaskerMetrics.log(:warn, "Export coordination failed: #{e.message}")
    end

    def log_info(what, stats) = TaskerMetrics.log(:info, "[Tasker::Telemetry] #{what}: #{stats.map { |k, v| "#{k}=#{v}" }.join(" ")}")

    def log_sync_error(error) = TaskerMetrics.log(:error, "[Tasker::MetricsBackend] Cache sync failed: #{error.message}")
  end
end
