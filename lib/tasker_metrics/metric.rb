# frozen_string_literal: true

module TaskerMetrics
  # What Counter, Gauge and Histogram share. The reading methods below are native; the keyword
  # methods are Ruby, so that keywords reach native code without a Hash being built per call.
  #
  # @!method name
  #   @return [String] the metric name as registered
  # @!method docstring
  #   @return [String] the HELP text
  # @!method type
  #   @return [Symbol] +:counter+, +:gauge+ or +:histogram+
  # @!method labels
  #   @return [Array<Symbol>] the declared label names
  # @!method values
  #   Every series and its value.
  #   @return [Hash{Hash{Symbol=>String}=>Object}]
  # @!method with_labels(**labels)
  #   A handle bound to one label set (created now if new): the fastest way to update it.
  #   @return [Counter::Bound, Gauge::Bound, Histogram::Bound]
  #   @raise [ArgumentError, TypeError] for a label set that does not match the declared labels
  #   @example
  #     ok = requests.with_labels(status: "200")
  #     ok.increment
  # @!method clear
  #   Removes every series.
  #   @return [Integer] how many were removed
  module Metric
    # The value of one series, without creating it (zero when absent).
    #
    # @param labels [Hash{Symbol,String=>String,Symbol,Integer}, nil]
    # @return [Integer, Float, Hash] Integer for counters that only saw Integers, Float otherwise;
    #   histograms give +{buckets: {le => cumulative count}, sum:, count:}+
    # @raise [ArgumentError, TypeError] for labels that do not match the declared ones
    # @example
    #   requests.get(labels: { status: "200" }) # => 3
    def get(labels: nil) = _get(labels)

    # Removes one series. Handles bound to it keep working but are no longer exported.
    #
    # @param labels [Hash]
    # @return [Boolean] whether it existed
    # @example
    #   requests.remove(labels: { status: "500" })
    def remove(labels: nil) = _remove(labels)
  end
end
