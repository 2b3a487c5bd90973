# frozen_string_literal: true

module TaskerMetrics
  # The glue between client_ruby's classes and the native core.
  module ClientRuby
    # Message start of the core's label-set errors.
    LABEL_MISMATCH = "invalid labels for metric"
    # Message start of the glue's label-value type errors.
    LABEL_TYPE = "label "
    # client_ruby's aggregation names to the core's gauge aggregations.
    AGGREGATIONS = { sum: :sum, max: :max, min: :min, all: :all, most_recent: :mostrecent }.freeze
    MUTEX = Mutex.new
    private_constant :LABEL_MISMATCH, :LABEL_TYPE, :MUTEX

    @registry = TaskerMetrics::Registry.new

    class << self
      # The native registry holding every Prometheus::Client metric's values; the data store
      # setting puts it in multi-process mode.
      # @return [TaskerMetrics::Registry]
      attr_reader :registry

      # A new metric of `klass`: client_ruby's checks, then a native family of that name in
      # {registry} (a later metric of the same name takes the name over; the earlier keeps
      # counting on its own).
      # @api private
      def build(klass, name, docstring:, labels:, preset_labels:, store_settings:, buckets: nil)
        check_name(name)
        raise ArgumentError, "docstring must be given" unless docstring.respond_to?(:empty?) && !docstring.empty?

        validator = Prometheus::Client::LabelSetValidator.new(expected_labels: labels, reserved_labels: klass::RESERVED_LABELS)
        validator.validate_symbols!(labels)
        validator.validate_symbols!(preset_labels)
        aggregation = Prometheus::Client.config.data_store.aggregation_for(klass::TYPE, store_settings)
        native = MUTEX.synchronize do
          register(klass, name, docstring: docstring.to_s, labels: labels, aggregation: aggregation, buckets: buckets)
        end
        metric = native.__send__(:_wrap_as, klass)
        metric.__send__(:setup, name: name, docstring: docstring, labels: labels, preset_labels: preset_labels,
                                store_settings: store_settings, validator: validator, aggregation: aggregation, buckets: buckets,)
        metric
      end

      # Retries a call whose label set the core refused: values of other types become their
      # `to_s` as client_ruby stores them; a set with other keys raises client_ruby's error.
      # Any other error is raised again.
      # @api private
      def relabel(metric, error, set)
        message = error.message
        unless set.is_a?(Hash) && (message.start_with?(LABEL_MISMATCH) || (error.is_a?(TypeError) && message.start_with?(LABEL_TYPE)))
          raise error
        end

        validator = metric.__send__(:validator)
        validator.validate_labelset!(set)
        raise error if message.start_with?(LABEL_MISMATCH)

        validator.validate_labelset!(set.transform_values(&:to_s))
      end

      # @return [Boolean] whether the values are shared between processes (DirectFileStore)
      def multiprocess? = !registry.multiprocess_dir.nil?

      # Every process's series of the named metrics, merged: `{name => {labels => value}}`.
      # @api private
      def merged_values(names)
        values, problems = registry.__send__(:_merged_values, names.map(&:to_s))
        TaskerMetrics::Multiprocess.report(problems)
        values
      end

      private

      def check_name(name)
        raise ArgumentError, "metric name must be a symbol" unless name.is_a?(Symbol)
        raise ArgumentError, "metric name must match /[a-zA-Z_:][a-zA-Z0-9_:]*/" unless /\A[a-zA-Z_:][a-zA-Z0-9_:]*\z/.match?(name)
      end

      def register(klass, name, docstring:, labels:, aggregation:, buckets:)
        registry.unregister(name) if registry.exist?(name)
        case klass::TYPE
        when :counter then registry.counter(name, docstring: docstring, labels: labels)
        when :gauge then registry.gauge(name, docstring: docstring, labels: labels, aggregation: AGGREGATIONS.fetch(aggregation, :all))
        else registry.histogram(name, docstring: docstring, labels: labels, buckets: buckets)
        end
      end
    end
  end
end

module Prometheus
  module Client
    # What client_ruby's metrics share. Here a module (client_ruby has a class), included in
    # Counter, Gauge, Histogram and Summary, whose values live in the native core.
    module Metric
      # The default label set, shared (never modified).
      EMPTY = {}.freeze

      def self.included(base) = base.extend(ClassMethods)

      # `new` as client_ruby's metrics take it (Histogram adds `buckets:`).
      module ClassMethods
        def new(name, docstring:, labels: [], preset_labels: {}, store_settings: {})
          TaskerMetrics::ClientRuby.build(self, name, docstring: docstring, labels: labels, preset_labels: preset_labels,
                                                      store_settings: store_settings, buckets: const_get(:NATIVE_BUCKETS),)
        end
      end

      # Histogram and Summary keep their values as native histograms; the others need no buckets.
      NATIVE_BUCKETS = nil

      attr_reader :name, :docstring, :labels, :preset_labels

      # :counter, :gauge, :histogram or :summary.
      def type = self.class::TYPE

      # The value of one label set (client_ruby keeps Floats: so does this).
      def get(labels: {})
        set = label_set(labels)
        from_native(_get(set))
      rescue ArgumentError, TypeError => e
        from_native(_get(TaskerMetrics::ClientRuby.relabel(self, e, set)))
      end

      # A view of this metric with more labels preset (all of them, or some).
      def with_labels(labels)
        @validator.validate_symbols!(labels)
        view = _wrap_as(self.class)
        view.__send__(:setup, name: @name, docstring: @docstring, labels: @labels, preset_labels: @preset_labels.merge(labels),
                              store_settings: @store_settings, validator: @validator, aggregation: @aggregation, buckets: @buckets,)
        view
      end

      # Every label set and its value; with DirectFileStore, every process's, merged.
      def values
        raw = if TaskerMetrics::ClientRuby.multiprocess?
                TaskerMetrics::ClientRuby.merged_values([@name]).fetch(@name.to_s, {})
              else
                super
              end
        raw.transform_values { |v| from_native(v) }
      end

      def inspect = "#<#{self.class.name} #{@name}>"

      private

      attr_reader :validator

      def setup(name:, docstring:, labels:, preset_labels:, store_settings:, validator:, aggregation:, buckets:)
        @name = name
        @docstring = docstring
        @labels = labels
        @store_settings = store_settings
        @validator = validator
        @aggregation = aggregation
        @buckets = buckets
        @preset_labels = preset_labels.transform_values(&:to_s)
        @presets = @preset_labels.empty? ? nil : @preset_labels
        validator.validate_labelset!(@preset_labels) if @preset_labels.size == labels.size
      end

      def label_set(labels)
        return @presets || labels if labels.empty?

        @presets ? @presets.merge(labels) : labels
      end
    end
  end
end
