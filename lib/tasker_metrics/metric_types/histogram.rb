# frozen_string_literal: true

module TaskerMetrics
  module MetricTypes
    # Tasker's Histogram: observations in fixed buckets. Count and buckets are read together, so
    # they always agree.
    #
    # @example
    #   h = TaskerMetrics::MetricTypes::Histogram.new("latency", buckets: [0.1, 1])
    #   h.observe(0.5)
    #   h.buckets # => {0.1=>0, 1.0=>1, Infinity=>1}
    class Histogram
      include Base

      DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0].freeze

      # @param name [String, Symbol]
      # @param labels [Hash]
      # @param buckets [Array<Numeric>] sorted and de-duplicated
      # @raise [ArgumentError] "Buckets must be an array", "Buckets cannot be empty"
      def initialize(name, labels: {}, buckets: DEFAULT_BUCKETS)
        setup(MetricTypes._standalone(:histogram, name, buckets, nil), name, labels)
      end

      # @param value [Numeric]
      # @return [Numeric] the value
      # @raise [ArgumentError] "Observed value must be numeric, got: String"
      def observe(value)
        @handle.__send__(:_tasker_observe, value)
        value
      end

      # @return [Integer]
      def count = @handle.get[:count]

      # @return [Float]
      def sum = @handle.get[:sum].to_f

      # @return [Float] 0.0 when empty
      def average
        snapshot = @handle.get
        snapshot[:count].zero? ? 0.0 : snapshot[:sum] / snapshot[:count]
      end

      # @return [Array<Float>] frozen
      def bucket_boundaries = @handle.buckets

      # @return [Hash{Float=>Integer}] cumulative counts, +Float::INFINITY+ last
      def buckets = @handle.get[:buckets]

      # @return [Symbol]
      def type = :histogram

      # @return [Hash] +{name:, labels:, buckets:, count:, sum:, average:, type: :histogram, created_at:}+
      def to_h
        snapshot = @handle.get
        count = snapshot[:count]
        { name: name, labels: labels, buckets: snapshot[:buckets], count: count, sum: snapshot[:sum].to_f,
          average: count.zero? ? 0.0 : snapshot[:sum] / count, type: :histogram, created_at: created_at, }
      end

      private

      def summary = "#{count} observations, avg: #{average.round(3)}"
    end
  end
end
