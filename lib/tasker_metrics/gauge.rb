# frozen_string_literal: true

module TaskerMetrics
  # A value that goes up and down. Create one with {Registry#gauge}.
  #
  # @example
  #   depth = TaskerMetrics.registry.gauge(:queue_depth, docstring: "Queued jobs", labels: %i[queue])
  #   depth.set(12, labels: { queue: "default" })
  class Gauge
    include Metric

    # Sets one series.
    #
    # @param value [Numeric] a finite number
    # @param labels [Hash, nil]
    # @return [nil]
    # @raise [ArgumentError] for NaN or Infinity, or labels that do not match
    # @raise [TypeError] for a non-Numeric value
    # @example
    #   depth.set(3, labels: { queue: "default" })
    def set(value, labels: nil) = _set(value, labels)

    # Adds to one series (a negative amount subtracts).
    #
    # @param by [Numeric] a finite number
    # @param labels [Hash, nil]
    # @return [nil]
    # @raise [ArgumentError, TypeError] as {#set}
    # @example
    #   depth.increment(labels: { queue: "default" })
    def increment(by: 1, labels: nil) = _increment(by, labels)

    # Subtracts from one series.
    #
    # @param by [Numeric] a finite number
    # @param labels [Hash, nil]
    # @return [nil]
    # @raise [ArgumentError, TypeError] as {#set}
    # @example
    #   depth.decrement(by: 2, labels: { queue: "default" })
    def decrement(by: 1, labels: nil) = _decrement(by, labels)

    # A gauge series with its labels fixed, from {Metric#with_labels}.
    #
    # @!method set(value)
    #   @return [nil]
    # @!method increment(by: 1)
    #   @return [nil]
    # @!method decrement(by: 1)
    #   @return [nil]
    # @!method get
    #   @return [Float]
    class Bound
      # Defined natively in src/ruby/gauge.rs.
    end
  end
end
