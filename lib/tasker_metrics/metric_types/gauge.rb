# frozen_string_literal: true

module TaskerMetrics
  module MetricTypes
    # Tasker's Gauge: a value that goes up and down.
    #
    # @example
    #   g = TaskerMetrics::MetricTypes::Gauge.new("queue_size", initial_value: 3)
    #   g.decrement # => 2.0
    class Gauge
      include Base

      # @param name [String, Symbol]
      # @param labels [Hash]
      # @param initial_value [Numeric]
      # @raise [ArgumentError] for a blank name or "Initial value must be numeric, got: String"
      def initialize(name, labels: {}, initial_value: 0)
        setup(MetricTypes._standalone(:gauge, name, nil, initial_value), name, labels)
      end

      # @param value [Numeric]
      # @return [Numeric] the value
      # @raise [ArgumentError] "Gauge value must be numeric, got: String"
      def set(value)
        @handle.__send__(:_tasker_set, value)
        value
      end

      # @param amount [Numeric] may be negative
      # @return [Numeric] the new value (see {#value})
      def increment(amount = 1) = Gauge.number(@handle.__send__(:_tasker_increment, amount))

      # @param amount [Numeric] >= 0
      # @return [Numeric] the new value (see {#value})
      # @raise [ArgumentError] "Gauge decrement amount must be positive, got: -5"
      def decrement(amount = 1) = Gauge.number(@handle.__send__(:_tasker_decrement, amount))

      # The value is stored as a Float; a whole number reads back as an Integer, as the Integers
      # a Tasker app sets its gauges with did in Tasker.
      # @return [Integer, Float]
      def value = Gauge.number(@handle.get)

      # @api private
      def self.number(value) = value.finite? && (value % 1).zero? && value.abs < 2**53 ? value.to_i : value

      # @return [Symbol]
      def type = :gauge

      # @return [Hash] +{name:, labels:, value:, type: :gauge, created_at:}+
      def to_h = { name: name, labels: labels, value: value, type: :gauge, created_at: created_at }
    end
  end
end
