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

      # Tasker's contract: an Integer counts, a negative one raises, anything else (a String,
      # nil, a Float) is refused softly, returning +false+; the refusal is counted in
      # +tasker_metrics_refused_increments_total{metric=...}+. (The native API raises instead.)
      # @param amount [Integer] >= 0
      # @return [Integer, false] the new value, or false for an amount that is not an Integer
      # @raise [ArgumentError] "Counter increment amount must be positive, got: -1"
      def increment(amount = 1)
        return @handle.__send__(:_tasker_increment, amount) if amount.is_a?(Integer)

        MetricTypes.refused(name)
        false
      end

      # @return [Integer, Float]
      def value = @handle.get

      # @return [Symbol]
      def type = :counter

      # @return [Hash] +{name:, labels:, value:, type: :counter, created_at:}+
      def to_h = { name: name, labels: labels, value: value, type: :counter, created_at: created_at }
    end
  end
end
