# frozen_string_literal: true

module TaskerMetrics
  # How {MetricsBackend}'s instances find each other in +Rails.cache+, and the merged export that
  # reads them all ({CacheSync} writes each one's snapshot). An instance takes a slot with the
  # store's atomic increment and refreshes it at every sync; a store without one keeps a Hash that
  # each instance re-reads after writing. Index entries expire with the retention window.
  module CacheIndex
    SEQUENCE = %w[tasker metrics instances sequence].freeze
    INDEX = %w[tasker metrics instances].freeze
    private_constant :SEQUENCE, :INDEX

    # The metrics of every instance that synced within the retention window, merged by
    # {DistributedMerge}: counters and histograms summed per key, gauges kept per instance (an
    # +instance_id+ label added). This instance contributes its current values. With a
    # local-only store: this instance's export, with Tasker's warning.
    #
    # @param include_instances [Boolean] add +instance_metrics: {instance_id => {key => data}}+
    # @return [Hash] {MetricsBackend#export}'s shape plus +distributed:+, +sync_strategy:+, +instances:+
    def export_distributed_metrics(include_instances: false)
      case @sync_strategy
      when :distributed_atomic, :distributed_basic then aggregate_from_distributed_cache(include_instances: include_instances)
      when :local_only then export_local_metrics_with_warning
      else export
      end
    end

    private

    # Puts this instance in the index, so other instances' exports read its snapshot.
    def register_instance
      return 3.times { break if add_to_index } unless @cache_capabilities[:atomic_increment]

      @instance_slot = nil unless @instance_slot_owner == instance_id
      @instance_slot ||= take_instance_slot
      @instance_slot_owner = instance_id
      cache.write([*INDEX, @instance_slot], instance_id, expires_in: retention)
    end

    def take_instance_slot
      slot = cache.increment(SEQUENCE, 1)
      return slot if slot

      # Stores whose increment does not create a missing key (memcached on Rails 6.1).
      cache.write(SEQUENCE, "0", raw: true, unless_exist: true)
      cache.increment(SEQUENCE, 1) || raise(StoreError, "Rails.cache could not increment the instance sequence")
    end

    # Read-modify-write of the index; true once this instance reads itself back.
    def add_to_index
      oldest = Time.now.to_f - retention
      index = (cache.read(INDEX) || {}).reject { |_, seen| seen < oldest }
      cache.write(INDEX, index.merge(instance_id => Time.now.to_f))
      cache.read(INDEX)&.key?(instance_id)
    end

    def instance_ids
      return (cache.read(INDEX) || {}).keys unless @cache_capabilities[:atomic_increment]

      slots = (1..cache.read(SEQUENCE, raw: true).to_s.to_i).map { |slot| [*INDEX, slot] }
      slots.empty? ? [] : cache.read_multi(*slots).values.uniq
    end

    def aggregate_from_distributed_cache(include_instances: false)
      local = export
      per_instance = other_snapshots.transform_values { |s| s[:metrics] }.merge(instance_id => local[:metrics])
      merged = DistributedMerge.merge(per_instance)
      result = local.merge(metrics: merged, total_metrics: merged.size, distributed: true, sync_strategy: @sync_strategy,
                           instances: per_instance.keys.sort,)
      include_instances ? result.merge(instance_metrics: per_instance) : result
    end

    def other_snapshots
      keys = (instance_ids - [instance_id]).map { |id| snapshot_key(id) }
      keys.empty? ? {} : cache.read_multi(*keys).compact.transform_keys(&:last)
    end

    def export_local_metrics_with_warning
      export.merge(distributed: false, sync_strategy: @sync_strategy,
                   warning: "Cache store doesn't support distribution - metrics are local-only",)
    end
  end
end
