# frozen_string_literal: true

module Prometheus
  module Client
    # What Histogram and Summary share: observations.
    module Observing
      def observe(value, labels: Metric::EMPTY)
        _observe(value, @presets ? label_set(labels) : labels, nil)
      rescue ArgumentError, TypeError => e
        _observe(value, TaskerMetrics::ClientRuby.relabel(self, e, label_set(labels)), nil)
      end

      def init_label_set(labels)
        TaskerMetrics::Histogram.instance_method(:with_labels).bind_call(self, **label_set(labels))
        nil
      end
    end

    # A value that only goes up.
    class Counter < TaskerMetrics::Counter
      include Metric

      TYPE = :counter
      RESERVED_LABELS = [].freeze

      # The label set goes straight to the core unless labels are preset (the hot path).
      def increment(by: 1, labels: EMPTY)
        raise ArgumentError, "increment must be a non-negative number" if by < 0 # rubocop:disable Style/NumericPredicate -- an operator, not a call

        _increment_value(by, @presets ? label_set(labels) : labels)
      rescue ArgumentError, TypeError => e
        _increment_value(by, TaskerMetrics::ClientRuby.relabel(self, e, label_set(labels)))
      end

      def init_label_set(labels)
        _increment(0, label_set(labels), nil)
      end

      private

      def from_native(value) = value.to_f
    end

    # A value that goes up and down.
    class Gauge < TaskerMetrics::Gauge
      include Metric

      TYPE = :gauge
      RESERVED_LABELS = [].freeze

      def set(value, labels: {})
        raise ArgumentError, "value must be a number" unless value.is_a?(Numeric)

        set = label_set(labels)
        _set_value(value, set)
      rescue ArgumentError, TypeError => e
        _set_value(value, TaskerMetrics::ClientRuby.relabel(self, e, set))
      end

      def set_to_current_time(labels: {}) = set(Time.now.to_f, labels: labels)

      # Adds `by` (a negative amount subtracts).
      def increment(by: 1, labels: {})
        refuse_increments if @aggregation == :most_recent
        set = label_set(labels)
        _increment_value(by, set)
      rescue ArgumentError, TypeError => e
        _increment_value(by, TaskerMetrics::ClientRuby.relabel(self, e, set))
      end

      # Subtracts `by` (a negative amount adds).
      def decrement(by: 1, labels: {})
        refuse_increments if @aggregation == :most_recent
        set = label_set(labels)
        _decrement_value(by, set)
      rescue ArgumentError, TypeError => e
        _decrement_value(by, TaskerMetrics::ClientRuby.relabel(self, e, set))
      end

      def init_label_set(labels)
        _set(0, label_set(labels))
      end

      private

      def from_native(value) = value.to_f

      def refuse_increments
        raise DataStores::DirectFileStore::InvalidStoreSettingsError,
              "The :most_recent aggregation does not support the use of increment/decrement"
      end
    end

    # Observations counted into buckets, with their count and sum.
    class Histogram < TaskerMetrics::Histogram
      include Metric
      include Observing

      TYPE = :histogram
      DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10].freeze
      RESERVED_LABELS = [:le].freeze
      # Stands in for "no bucket but +Inf", which the core's classic histograms do not have.
      TOP = Float::MAX
      private_constant :TOP

      def self.new(name, docstring:, labels: [], preset_labels: {}, buckets: DEFAULT_BUCKETS, store_settings: {})
        raise ArgumentError, "Unsorted buckets, typo?" unless buckets.each_cons(2).all? { |a, b| a <= b }

        native = buckets.empty? ? [TOP] : buckets.uniq
        TaskerMetrics::ClientRuby.build(self, name, docstring: docstring, labels: labels, preset_labels: preset_labels,
                                                    store_settings: store_settings, buckets: native,)
      end

      def self.linear_buckets(start:, width:, count:) = Array.new(count) { |i| start.to_f + (i * width) }

      def self.exponential_buckets(start:, count:, factor: 2) = Array.new(count) { |i| start.to_f * (factor**i) }

      # The bucket bounds as given.
      def buckets = @buckets == [TOP] ? [] : @buckets

      private

      # client_ruby's Hash: each bound's text => cumulative count, "+Inf" => count, "sum" => sum.
      def from_native(value)
        out = {}
        buckets.zip(value[:buckets].each_value) { |bound, count| out[bound.to_s] = count.to_f }
        out["+Inf"] = value[:count].to_f
        out["sum"] = value[:sum].to_f
        out
      end
    end

    # The count and sum of observations (client_ruby's Summary has no quantiles either).
    class Summary < TaskerMetrics::Histogram
      include Metric
      include Observing

      TYPE = :summary
      RESERVED_LABELS = [:quantile].freeze
      # Kept as a histogram with one bucket above every value: its count and sum.
      NATIVE_BUCKETS = [Float::MAX].freeze

      private

      def from_native(value) = { "count" => value[:count].to_f, "sum" => value[:sum].to_f }
    end
  end
end
