# frozen_string_literal: true

module TaskerMetrics
  module MetricTypes
    # Tasker's Counter: only goes up; Integer while only Integers were added.
    #
    # @example
    #   c = TaskerMetrics::MetricTypes::Counter.new("jobs", labels: { env: "test" })
    #   c.increment(2) # => 2
    class Counter
      include Base

      # @param name [String, Symbol]
      # @param labels [Hash]
      # @raise [ArgumentError] "Metric name cannot be nil or empty"
      def initialize(name, labels: {})
        setup(MetricTypes._standalone(:counter, name, nil, nil), name, labels)
      end

      # @param amount [Numeric] finite, >= 0
      # @return [Integer, Float] the new value
      # @raise [ArgumentError] "Counter increment amount must be positive, got: -1" and the like
      def increment(amount = 1) = @handle.__send__(:_tasker_increment, amount)

      # @return [Integer, Float]
      def value = @handle.get

      # @return [Symbol]
      def type = :counter

      # @return [Hash] +{name:, labels:, value:, type: :counter, created_at:}+
      def to_h = { name: name, labels: labels, value: value, type: :counter, created_at: created_at }
    end
  end
end
