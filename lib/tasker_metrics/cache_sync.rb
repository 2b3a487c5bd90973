# frozen_string_literal: true

require "json"
require "time"

module TaskerMetrics
  # Tasker's cache coordination for {MetricsBackend}: +sync_to_cache!+ writes this instance's
  # metrics to +Rails.cache+ with the strategy its store allows ({CacheIndex} reads every instance
  # back). Key layout, strategies and result Hashes are Tasker's; the private method names too,
  # since Tasker's code and specs address them.
  #
  # Every sync writes absolute values under keys of this instance only, so repeating a sync never
  # counts anything twice, and an instance that stops syncing leaves the merged view when its
  # keys expire (the retention window).
  module CacheSync
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

    private

    def rails_cache_available? = !CacheStrategy.rails_cache.nil?

    def cache = CacheStrategy.rails_cache

    def sync_with_atomic_operations = sync_distributed(:distributed_atomic, "Atomic sync completed", conflicts: 0, batches: 0)

    def sync_with_read_modify_write
      sync_distributed(:distributed_basic, "Read-modify-write sync completed", retries: 0, conflicts: 0, batches: 0, failed: 0)
    end

    # One write of every metric under this instance's keys, the snapshot, and the index entry.
    def sync_distributed(strategy, message, **stats)
      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      grouped = group_metrics_by_type
      count = write_metric_entries(grouped)
      write_snapshot
      register_instance
      stats.update(grouped.to_h { |type, pairs| [:"#{type}s", pairs.size] }, batches: count.zero? ? 0 : 1)
      synced(strategy, message, started, count, stats)
    rescue StandardError => e
      sync_error(strategy, e, stats)
    end

    # Each metric under +[tasker, metrics, instance_id, key]+, in one batch.
    def write_metric_entries(grouped)
      stamp = { last_update: Time.now.to_f, instance_id: instance_id }
      entries = grouped.values.flatten(1).to_h { |key, data| [build_cache_key(key), data.merge(stamp)] }
      cache.write_multi(entries, expires_in: retention) unless entries.empty?
      entries.size
    end

    # Tasker's local-only sync: the snapshot plus a timestamped copy.
    def sync_to_local_cache
      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      snapshot = create_versioned_snapshot
      stats = { snapshots: write_snapshots(snapshot), metrics_serialized: snapshot[:total_metrics],
                size_bytes: estimate_snapshot_size(snapshot), }
      synced(:local_only, "Local snapshot sync completed", started, snapshot[:total_metrics], stats)
        .merge(success: stats[:snapshots].positive?, snapshot_key: snapshot_key(instance_id))
    rescue StandardError => e
      sync_error(:local_only, e, {})
    end

    # The snapshot, then a timestamped copy for history; how many were written.
    def write_snapshots(snapshot)
      return 0 unless write_snapshot(snapshot)

      history = ["tasker", "metrics", "history", instance_id, Time.now.to_i]
      cache.write(history, snapshot, expires_in: retention / 2) ? 2 : 1
    end

    def synced(strategy, message, started, count, stats)
      TaskerMetrics.log(:info, "[Tasker::Telemetry] #{message}: #{stats.map { |k, v| "#{k}=#{v}" }.join(" ")}")
      { success: true, strategy: strategy, synced_metrics: count,
        duration_ms: ((Process.clock_gettime(Process::CLOCK_MONOTONIC) - started) * 1000).round(3),
        performance: stats, timestamp: Time.now.utc.iso8601, }
    end

    # Tasker's answer for a strategy that failed part way.
    def sync_error(strategy, error, partial)
      log_sync_error(error)
      { success: false, strategy: strategy, error: error.message, partial_results: partial, timestamp: Time.now.utc.iso8601 }
    end

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

    def coordinate_cache_sync(result)
      return unless defined?(::Tasker::Telemetry::ExportCoordinator)

      ::Tasker::Telemetry::ExportCoordinator.instance.coordinate_cache_sync(result)
    rescue StandardError => e
      TaskerMetrics.log(:warn, "Export coordination failed: #{e.message}")
    end

    def log_sync_error(error) = TaskerMetrics.log(:error, "[Tasker::MetricsBackend] Cache sync failed: #{error.message}")
  end
end
