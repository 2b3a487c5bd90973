# frozen_string_literal: true

module TaskerMetrics
  # A set of metrics exported together. Registration and rendering are native.
  #
  # @example
  #   registry = TaskerMetrics::Registry.new
  #   jobs = registry.counter(:jobs_total, docstring: "Jobs run", labels: %i[queue])
  #   registry.export(format: :openmetrics)
  #
  # @!method counter(name, docstring:, labels: [], unit: nil, max_series: nil, expires_after: nil)
  #   Registers a counter, or returns the one registered with the same labels.
  #   @param max_series [Integer, nil] most label sets kept (default 10 000, see {Configuration#max_series});
  #     updates with new label sets beyond it are dropped and counted in
  #     +tasker_metrics_series_dropped_total{metric}+, with one warning per metric
  #   @param expires_after [Numeric, nil] seconds without an update after which a series leaves the exposition
  #   @return [Counter]
  #   @raise [ArgumentError] for an invalid name or labels, or a name taken by another metric
  # @!method gauge(name, docstring:, labels: [], unit: nil, max_series: nil, expires_after: nil)
  #   @return [Gauge]
  # @!method histogram(name, docstring:, labels: [], unit: nil, max_series: nil, expires_after: nil, buckets: Histogram::DEFAULT_BUCKETS)
  #   @return [Histogram]
  # @!method get(name)
  #   @return [Counter, Gauge, Histogram, nil]
  # @!method exist?(name)
  #   @return [Boolean]
  # @!method unregister(name)
  #   @return [Boolean] whether it was registered
  # @!method metrics
  #   @return [Array<Counter, Gauge, Histogram>] sorted by name
  # @!method clear
  #   @return [Integer] how many metrics were removed
  class Registry
    FORMATS = %i[prometheus openmetrics].freeze

    # The exposition text, rendered without holding the GVL.
    #
    # @param format [Symbol] +:prometheus+ (text 0.0.4) or +:openmetrics+ (1.0.0, ends in +# EOF+)
    # @param created [Boolean] OpenMetrics only: add +_created+ samples
    # @return [String]
    # @raise [ArgumentError] for an unknown format
    # @example
    #   puts TaskerMetrics.registry.export
    def export(format: :prometheus, created: false) = _render(format, false, created)

    # The exposition gzipped (level 1) as a binary String, for HTTP responses.
    # @return [String]
    def export_gzip(format: :prometheus, created: false) = _render(format, true, created)
  end
end
