# frozen_string_literal: true

require "singleton"
require "socket"

module TaskerMetrics
  # The process-wide metrics backend (Tasker's MetricsBackend). Its metrics are series of the
  # shared default registry, so they appear once in every exposition.
  #
  # @example
  #   backend = TaskerMetrics::MetricsBackend.instance
  #   backend.counter("orders_total", region: "eu").increment
  #   backend.handle_event("task.completed", status: "complete", duration: 1.2)
  class MetricsBackend
    include Singleton

    # @return [Time] frozen
    attr_reader :created_at
    # @return [Object, nil] the router given to {#register_event_router}
    attr_reader :event_router
    # @return [String] +"<hostname>-<pid>"+, recomputed in a forked child
    attr_reader :instance_id

    def initialize
      @created_at = Time.now.freeze
      @event_router = nil
      refresh_instance_id
    end

    # Gets or creates a counter series; the same name and labels (any order, Symbol or String
    # keys) reach the same series.
    # @param name [String, Symbol] a Prometheus metric name
    # @return [MetricTypes::Counter]
    # @raise [ArgumentError] for an invalid name or one registered with another type
    def counter(name, **labels) = MetricTypes::Counter.attach(_series(:counter, name, labels, nil), name, labels)

    # @return [MetricTypes::Gauge]
    # @raise [ArgumentError] as {#counter}
    def gauge(name, **labels) = MetricTypes::Gauge.attach(_series(:gauge, name, labels, nil), name, labels)

    # A histogram series; an existing histogram keeps its buckets.
    # @param buckets [Array<Numeric>, nil] default {MetricTypes::Histogram::DEFAULT_BUCKETS}
    # @return [MetricTypes::Histogram]
    # @raise [ArgumentError] as {#counter}
    def histogram(name, buckets: nil, **labels)
      MetricTypes::Histogram.attach(_series(:histogram, name, labels, buckets), name, labels)
    end

    # Derives metrics from one event (it does not consult the router or sample).
    # @param event_name [String, Symbol]
    # @param payload [Hash]
    # @return [Boolean] false when the payload is not a Hash or deriving failed (warned, never raised)
    def handle_event(event_name, payload = {})
      return false unless payload.is_a?(Hash)

      _handle_event(event_name, payload)
      true
    rescue StandardError => e
      warn "MetricsBackend failed to handle event #{event_name}: #{e.message}"
      false
    end

    # @return [Hash{String=>MetricTypes::Counter, MetricTypes::Gauge, MetricTypes::Histogram}] a new Hash
    def all_metrics = _all_series.to_h.transform_values { |handle| MetricTypes.wrap(handle) }
    alias metrics all_metrics

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
    def clear! = _clear

    # @param router [Object]
    # @return [Object] the router
    def register_event_router(router)
      @event_router = router
    end

    # @api private
    def refresh_instance_id
      @instance_id = "#{Socket.gethostname}-#{Process.pid}".freeze
    end
  end
end
