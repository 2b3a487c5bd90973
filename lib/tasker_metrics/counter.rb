# frozen_string_literal: true

module TaskerMetrics
  # A value that only goes up. Create one with {Registry#counter}.
  #
  # @example
  #   jobs = TaskerMetrics.registry.counter(:jobs_total, docstring: "Jobs run", labels: %i[queue])
  #   jobs.increment(labels: { queue: "default" })
  #   jobs.increment(by: 5, labels: { queue: "mailers" })
  class Counter
    include Metric

    # Adds to one series (created on first use).
    #
    # @param by [Numeric] a finite amount >= 0; Integers stay exact, other Numerics become Float
    # @param labels [Hash{Symbol,String=>String,Symbol,Integer}, nil] one value per declared label
    # @param exemplar [Hash, nil] labels of an OpenMetrics exemplar, e.g. +{trace_id: "4bf92f35"}+
    # @return [nil]
    # @raise [ArgumentError] for a negative or non-finite amount, or labels that do not match
    # @raise [TypeError] for a non-Numeric amount or a label value of another type
    # @example
    #   jobs.increment(by: 2, labels: { queue: "default" })
    def increment(by: 1, labels: nil, exemplar: nil) = _increment(by, labels, exemplar)

    # A counter series with its labels fixed, from {Metric#with_labels}.
    #
    # @!method increment(by: 1)
    #   @param by [Numeric] a finite amount >= 0
    #   @return [nil]
    #   @example
    #     jobs.with_labels(queue: "default").increment
    # @!method get
    #   @return [Integer, Float]
    # @!method labels
    #   @return [Hash{Symbol=>String}]
    class Bound
      # Defined natively in src/ruby/counter.rs.
    end
  end
end
