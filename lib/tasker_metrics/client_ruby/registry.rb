# frozen_string_literal: true

module Prometheus
  # client_ruby's namespace (see tasker_metrics/client_ruby).
  module Client
    # The metrics an exporter or a push sends, by name.
    class Registry
      class AlreadyRegisteredError < StandardError; end

      def initialize
        @metrics = {}
        @mutex = Mutex.new
      end

      # @raise [AlreadyRegisteredError] when a metric of that name is registered
      def register(metric)
        key = metric.name.to_sym
        @mutex.synchronize do
          raise AlreadyRegisteredError, "#{metric.name} has already been registered" if @metrics.key?(key)

          @metrics[key] = metric
        end
      end

      def unregister(name)
        @mutex.synchronize { @metrics.delete(name.to_sym) }
      end

      def counter(name, docstring:, labels: [], preset_labels: {}, store_settings: {})
        register(Counter.new(name, docstring: docstring, labels: labels, preset_labels: preset_labels, store_settings: store_settings))
      end

      def summary(name, docstring:, labels: [], preset_labels: {}, store_settings: {})
        register(Summary.new(name, docstring: docstring, labels: labels, preset_labels: preset_labels, store_settings: store_settings))
      end

      def gauge(name, docstring:, labels: [], preset_labels: {}, store_settings: {})
        register(Gauge.new(name, docstring: docstring, labels: labels, preset_labels: preset_labels, store_settings: store_settings))
      end

      def histogram(name, docstring:, labels: [], preset_labels: {}, buckets: Histogram::DEFAULT_BUCKETS, store_settings: {})
        register(Histogram.new(name, docstring: docstring, labels: labels, preset_labels: preset_labels, buckets: buckets,
                                     store_settings: store_settings,))
      end

      # As client_ruby: the name as given (a String does not find a Symbol's metric).
      def exist?(name) = @mutex.synchronize { @metrics.key?(name) }

      def get(name) = @mutex.synchronize { @metrics[name.to_sym] }

      def metrics = @mutex.synchronize { @metrics.values }
    end

    # Settings: where metric values are kept.
    class Config
      attr_reader :data_store

      def initialize
        @data_store = DataStores::Synchronized.new
      end

      # Any of {DataStores}: DirectFileStore puts the values in multi-process mode on its
      # directory; the in-memory ones take it out again. Set it before creating metrics.
      def data_store=(store)
        unless store.respond_to?(:aggregation_for)
          raise ArgumentError,
                "data_store must be one of Prometheus::Client::DataStores (a custom store cannot back native metrics), got #{store.inspect}"
        end

        store.__send__(:apply, TaskerMetrics::ClientRuby.registry)
        @data_store = store
      end
    end

    class << self
      # The default registry.
      def registry = @registry ||= Registry.new

      def config = @config ||= Config.new
    end
  end
end
