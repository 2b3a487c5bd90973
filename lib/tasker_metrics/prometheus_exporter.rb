# frozen_string_literal: true

require "json"
require "time"

module TaskerMetrics
  # Tasker's PrometheusExporter: a backend's {MetricsBackend#export} as Prometheus text, with
  # Tasker's header comments and HELP texts. Any object with Tasker's +export+ works as backend;
  # the native backend itself is rendered straight from the registry without the GVL (the same
  # text, merged across processes in multi-process mode).
  #
  # Honours +Tasker::Configuration.configuration.telemetry.metrics_enabled+ when Tasker is loaded.
  # A failing export is logged and answered with a one-metric fallback exposition.
  #
  # @example
  #   TaskerMetrics::PrometheusExporter.new.export
  class PrometheusExporter
    # @param backend [#export, nil] nil: {MetricsBackend.instance}
    def initialize(backend = nil)
      @backend = backend || MetricsBackend.instance
    end

    # @return [String] Prometheus text 0.0.4; "" when there are no metrics or Tasker's telemetry
    #   has metrics turned off; the fallback exposition when the export failed
    def export
      render.first
    rescue StandardError => e
      export_error_metric(e)
    end

    # {#export} that reports a failure instead of the fallback exposition. Never raises.
    # @return [Hash] +{success: true, data:, timestamp:, total_metrics:}+ or
    #   +{success: false, error:, timestamp:, total_metrics: 0}+
    def safe_export
      data, total = render
      { success: true, data: data, timestamp: Time.now.utc.iso8601, total_metrics: total }
    rescue StandardError => e
      count_error(e)
      { success: false, error: e.message, timestamp: Time.now.utc.iso8601, total_metrics: 0 }
    end

    private

    # @return [Array(String, Integer)] the text and the number of metrics
    def render
      return ["", 0] unless telemetry_enabled?
      return native_render if native_backend?

      data = @backend.export
      metrics = data.fetch(:metrics)
      total = data[:total_metrics] || metrics.size
      return ["", total] if metrics.empty?

      [_render(metrics, generated_at(data[:timestamp]), total), total]
    end

    def native_render
      text = @backend.__send__(:_export, Time.now.utc.iso8601)
      [text, text[/^# TOTAL_METRICS (\d+)$/, 1].to_i]
    end

    # The native backend, with its own +export+ (not one replaced on the instance).
    def native_backend? = @backend.instance_of?(MetricsBackend) && @backend.method(:export).owner == MetricsBackend

    def generated_at(timestamp) = timestamp.respond_to?(:iso8601) ? timestamp.iso8601 : timestamp.to_s

    def telemetry_enabled?
      return true unless defined?(::Tasker::Configuration) && ::Tasker::Configuration.respond_to?(:configuration)

      ::Tasker::Configuration.configuration.telemetry.metrics_enabled ? true : false
    end

    def count_error(error)
      errors.increment(labels: { error: error.class.name.to_s })
      TaskerMetrics.log(:error, { message: "Prometheus export failed", error: error.message, backtrace: error.backtrace&.first(5),
                                  timestamp: Time.now.utc.iso8601, component: "prometheus_exporter", }.to_json,)
    end

    def errors
      TaskerMetrics.registry.counter(:tasker_metrics_export_errors_total, labels: [:error],
                                                                          docstring: "Tasker metrics exports that failed, by error class",)
    end

    # Tasker's fallback: the export-error counter alone, as valid text.
    def export_error_metric(error)
      count_error(error)
      label = error.class.name.to_s
      count = errors.get(labels: { error: label })
      "# Export error fallback metric\n# HELP tasker_metrics_export_errors_total #{errors.docstring}\n" \
        "# TYPE tasker_metrics_export_errors_total counter\n" \
        "tasker_metrics_export_errors_total{error=\"#{label}\"} #{count}\n"
    end
  end
end
