# frozen_string_literal: true

module TaskerMetrics
  # Observations counted into fixed buckets. Create one with {Registry#histogram}.
  #
  # @example
  #   latency = TaskerMetrics.registry.histogram(:step_duration_seconds, docstring: "Step time",
  #                                              labels: %i[handler], buckets: [0.1, 1, 10])
  #   latency.observe(0.42, labels: { handler: "SendEmail" })
  class Histogram
    include Metric

    # Records one observation.
    #
    # @param value [Numeric] a finite number
    # @param labels [Hash, nil]
    # @param exemplar [Hash, nil] labels of an OpenMetrics exemplar for the bucket it falls in
    # @return [nil]
    # @raise [ArgumentError] for NaN or Infinity, or labels that do not match
    # @raise [TypeError] for a non-Numeric value
    # @example
    #   latency.observe(1.5, labels: { handler: "SendEmail" })
    def observe(value, labels: nil, exemplar: nil) = _observe(value, labels, exemplar)

    # A histogram series with its labels fixed, from {Metric#with_labels}.
    #
    # @!method observe(value)
    #   @return [nil]
    # @!method get
    #   @return [Hash] +{buckets: {le => cumulative count}, sum:, count:}+
    class Bound
      # Defined natively in src/ruby/histogram.rs.
    end
  end
end
