# frozen_string_literal: true

module TaskerMetrics
  # Tasker's metric objects (Tasker::Telemetry::MetricTypes), each a face over one native
  # series: stand-alone when built with +new+, or a series of the shared registry when handed out
  # by {MetricsBackend}.
  module MetricTypes
    # What the three Tasker metric types share.
    module Base
      # @return [String] frozen
      attr_reader :name
      # @return [Hash] a frozen copy of the labels given
      attr_reader :labels
      # @return [Time] frozen
      attr_reader :created_at

      # @api private
      # A metric object over an existing native series handle.
      def self.included(base)
        base.define_singleton_method(:attach) do |handle, name, labels|
          allocate.tap { |metric| metric.__send__(:setup, handle, name, labels) }
        end
      end

      # Back to zero (an empty histogram).
      # @return [Integer] 0
      def reset!
        @handle.__send__(:_reset)
        0
      end

      # @return [String] e.g. +'jobs{:env=>"test"} = 7 (counter)'+
      def description = "#{name}#{MetricTypes.format_labels(labels)} = #{summary} (#{type})"

      # @api private
      # Whether this object writes the series +handle+ writes.
      def series?(handle) = @handle.__send__(:_series_id) == handle.__send__(:_series_id)

      private

      def setup(handle, name, labels)
        raise TypeError, "labels must be a Hash, got #{labels.class}" unless labels.is_a?(Hash)

        @handle = handle
        @name = name.to_s.dup.freeze
        @labels = labels.dup.freeze
        @created_at = Time.at(handle.__send__(:_created_at)).freeze
      end

      def summary = value
    end

    # Labels in Ruby 3.1's Hash#inspect style on every Ruby: +{:env=>"test"}+.
    # @api private
    def self.format_labels(labels)
      return "" if labels.empty?

      "{#{labels.map { |k, v| "#{k.inspect}=>#{v.inspect}" }.join(", ")}}"
    end

    # Counts one increment {Counter} refused softly.
    # @api private
    def self.refused(name)
      # Looked up each time (refusals are rare): a cached handle would outlive a registry clear.
      TaskerMetrics.registry.counter(:tasker_metrics_refused_increments_total, labels: [:metric],
                                                                               docstring: REFUSED_HELP,)
                   .increment(labels: { metric: name })
    end
    REFUSED_HELP = "Counter increments refused because the amount was not an Integer, by metric"
    private_constant :REFUSED_HELP

    # Wraps a native handle from the registry in the Tasker type of its kind.
    # @api private
    def self.wrap(handle)
      type = { TaskerMetrics::Counter::Bound => Counter, TaskerMetrics::Gauge::Bound => Gauge,
               TaskerMetrics::Histogram::Bound => Histogram, }.fetch(handle.class)
      type.attach(handle, handle.name, handle.labels.transform_keys(&:to_s))
    end
  end
end
