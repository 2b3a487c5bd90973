# frozen_string_literal: true

require "singleton"
require "concurrent/hash"

module TaskerMetrics
  # The process-wide metrics backend (Tasker's MetricsBackend). Its metrics are series of the
  # shared default registry, so they appear once in every exposition; {#metrics} is Tasker's live
  # +Concurrent::Hash+ of metric objects, one object per series.
  #
  # @example
  #   backend = TaskerMetrics::MetricsBackend.instance
  #   backend.counter("orders_total", region: "eu").increment
  #   backend.handle_event("task.completed", status: "complete", duration: 1.2)
  class MetricsBackend
    include Singleton
    include CacheSync
    include CacheIndex

    # @return [Time] frozen
    attr_reader :created_at
    # @return [Object, nil] the router given to {#register_event_router}
    attr_reader :event_router
    # @return [String] +"<hostname>-<pid>"+ (+"unknown-<pid>"+ without a hostname), recomputed in a forked child
    attr_reader :instance_id
    # @return [CacheStrategy, Tasker::CacheStrategy] what +Rails.cache+ can do
    attr_reader :cache_strategy
    # @return [Hash] the cache's capabilities (+:distributed+, +:atomic_increment+, +:locking+, ...)
    attr_reader :cache_capabilities
    # @return [Symbol] +:distributed_atomic+, +:distributed_basic+ or +:local_only+
    attr_reader :sync_strategy
    # @return [Hash] +:retention_window+, +:export_safety_margin+, +:sync_interval+, +:export_interval+ (seconds)
    attr_reader :sync_config

    TYPES = { counter: MetricTypes::Counter, gauge: MetricTypes::Gauge, histogram: MetricTypes::Histogram }.freeze
    private_constant :TYPES

    def initialize
      @created_at = Time.now.freeze
      @event_router = nil
      @metrics = Concurrent::Hash.new
      @metric_creation_lock = Mutex.new
      refresh_instance_id
      refresh_cache_strategy!
      notice_replaced_methods
    end

    # Gets or creates a counter series; the same name and labels (any order, Symbol or String
    # keys) return the same object.
    # @param name [String, Symbol] a Prometheus metric name
    # @return [MetricTypes::Counter]
    # @raise [ArgumentError] for an invalid name or one registered with another type
    def counter(name, **labels) = metric_object(:counter, name, labels, nil)

    # @return [MetricTypes::Gauge]
    # @raise [ArgumentError] as {#counter}
    def gauge(name, **labels) = metric_object(:gauge, name, labels, nil)

    # A histogram series; an existing histogram keeps its buckets.
    # @param buckets [Array<Numeric>, nil] default {MetricTypes::Histogram::DEFAULT_BUCKETS}
    # @return [MetricTypes::Histogram]
    # @raise [ArgumentError] as {#counter}
    def histogram(name, buckets: nil, **labels) = metric_object(:histogram, name, labels, buckets)

    # Derives metrics from one event (it does not consult the router or sample). Natively; when
    # {#counter}, {#gauge} or {#histogram} are replaced (on this object or in a subclass), through
    # them instead, as Tasker's backend does.
    # @param event_name [String, Symbol]
    # @param payload [Hash]
    # @return [Boolean] false when the payload is not a Hash or deriving failed (warned, never raised)
    def handle_event(event_name, payload = {})
      return false unless payload.is_a?(Hash)

      if @derive_through_methods
        _derivation(event_name, payload).each { |type, name, labels, op, arg| public_send(type, name, **labels).public_send(op, *arg) }
      else
        _handle_event(event_name, payload)
      end
      true
    rescue StandardError => e
      warn "MetricsBackend failed to handle event #{event_name}: #{e.message}"
      false
    end

    # Tasker's live registry: every series of the default registry as a metric object, by stable
    # key (+name{a="x",b="y"}+, label names sorted). The same Hash on every call, brought up to
    # date first.
    # @return [Concurrent::Hash{String=>MetricTypes::Counter, MetricTypes::Gauge, MetricTypes::Histogram}]
    def metrics
      live = _all_series
      @metric_creation_lock.synchronize do
        keys = live.to_h do |key, handle|
          @metrics[key] = MetricTypes.wrap(handle) unless @metrics[key]&.series?(handle)
          [key, true]
        end
        @metrics.select! { |key, _| keys.key?(key) }
      end
      @metrics
    end

    # @return [Hash] a new Hash with {#metrics}' entries
    def all_metrics = metrics.to_h

    # @return [Hash] +{timestamp:, backend_created_at:, total_metrics:, metrics: {key => to_h}}+
    def export
      metrics = all_metrics
      { timestamp: Time.now, backend_created_at: created_at, total_metrics: metrics.size, metrics: metrics.transform_values(&:to_h) }
    end

    # @return [Hash] counts by type, +backend_uptime+ in seconds and +created_at+
    def stats
      types = all_metrics.values.map(&:type).tally
      { total_metrics: types.values.sum, counter_metrics: types.fetch(:counter, 0), gauge_metrics: types.fetch(:gauge, 0),
        histogram_metrics: types.fetch(:histogram, 0), backend_uptime: Time.now - created_at, created_at: created_at, }
    end

    # Removes every metric (every series of the default registry).
    # @return [Integer] how many there were
    def clear!
      @metric_creation_lock.synchronize do
        @metrics.clear
        _clear
      end
    end

    # @param router [Object]
    # @return [Object] the router
    def register_event_router(router)
      @event_router = router
    end

    # Detects +Rails.cache+'s capabilities again (with Tasker's own CacheStrategy when Tasker is
    # loaded). The Railtie calls it once the app's cache is configured.
    # @return [Symbol] the sync strategy
    def refresh_cache_strategy!
      @cache_strategy = defined?(::Tasker::CacheStrategy) ? ::Tasker::CacheStrategy.detect : CacheStrategy.detect
      @cache_capabilities = @cache_strategy.export_capabilities
      @sync_config = sync_parameters
      @sync_strategy = @cache_strategy.coordination_mode
    end

    # @api private
    def refresh_instance_id
      @instance_id = CacheStrategy.instance_id.freeze
    end

    private

    # Tasker's backend warns through Kernel#warn on itself; here that goes to Rails.logger when
    # there is one.
    def warn(message) = TaskerMetrics.log(:warn, message)

    # Keeps {#handle_event} on the native path unless a getter is replaced: checked when this
    # object is made (a subclass) and whenever a singleton method comes or goes.
    def notice_replaced_methods(*)
      @derive_through_methods = TYPES.keys.any? { |name| method(name).owner != MetricsBackend }
    end
    alias singleton_method_added notice_replaced_methods
    alias singleton_method_removed notice_replaced_methods
    alias singleton_method_undefined notice_replaced_methods

    def metric_object(type, name, labels, buckets)
      key, handle = _series(type, name, labels, buckets)
      existing = @metrics[key]
      return existing if existing&.series?(handle)

      @metric_creation_lock.synchronize do
        existing = @metrics[key]
        existing&.series?(handle) ? existing : (@metrics[key] = TYPES.fetch(type).attach(handle, name, labels))
      end
    end

    # Tasker's sync parameters, in seconds; the retention follows Tasker's
    # +telemetry.metrics_retention_hours+ when Tasker is configured.
    def sync_parameters
      hours = defined?(::Tasker::Configuration) ? ::Tasker::Configuration.configuration.telemetry.metrics_retention_hours : nil
      retention = (hours || 1) * 3600
      { retention_window: retention, export_safety_margin: 60, sync_interval: 30, export_interval: retention - 60 }
    rescue StandardError
      { retention_window: 3600, export_safety_margin: 60, sync_interval: 30, export_interval: 3540 }
    end
  end
end
