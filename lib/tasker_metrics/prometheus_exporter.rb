# frozen_string_literal: true

require "time"

module TaskerMetrics
  # Tasker's PrometheusExporter: the backend's metrics as Prometheus text, with Tasker's header
  # comments and HELP texts. Rendered natively without the GVL.
  #
  # @example
  #   TaskerMetrics::PrometheusExporter.new.export
  class PrometheusExporter
    # @param backend [MetricsBackend]
    def initialize(backend = MetricsBackend.instance)
      @backend = backend
    end

    # @return [String] Prometheus text 0.0.4, or "" when there are no metrics
    def export = @backend.__send__(:_export, Time.now.utc.iso8601)

    # {#export} that never raises.
    # @return [Hash] +{success: true, data:, timestamp:, total_metrics:}+ or
    #   +{success: false, error:, timestamp:, total_metrics: 0}+
    def safe_export
      data = export
      total = data[/^# TOTAL_METRICS (\d+)$/, 1].to_i
      { success: true, data: data, timestamp: Time.now.utc.iso8601, total_metrics: total }
    rescue StandardError => e
      { success: false, error: e.message, timestamp: Time.now.utc.iso8601, total_metrics: 0 }
    end
  end
end
