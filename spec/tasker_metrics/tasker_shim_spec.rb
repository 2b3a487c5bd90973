# frozen_string_literal: true

require "tasker_metrics/tasker"

RSpec.describe TaskerMetrics::TaskerShim do
  it "points Tasker's telemetry constants at the native classes" do
    expect(Tasker::Telemetry::EventMapping).to equal(TaskerMetrics::EventMapping)
    expect(Tasker::Telemetry::EventRouter).to equal(TaskerMetrics::EventRouter)
    expect(Tasker::Telemetry::MetricsBackend).to equal(TaskerMetrics::MetricsBackend)
    expect(Tasker::Telemetry::PrometheusExporter).to equal(TaskerMetrics::PrometheusExporter)
    expect(Tasker::Telemetry::MetricTypes::Counter).to equal(TaskerMetrics::MetricTypes::Counter)
    expect(Tasker::Telemetry::MetricTypes::Gauge).to equal(TaskerMetrics::MetricTypes::Gauge)
    expect(Tasker::Telemetry::MetricTypes::Histogram).to equal(TaskerMetrics::MetricTypes::Histogram)
  end

  it "replaces constants Tasker defined first, with one warning line, and is idempotent" do
    Tasker::Telemetry.__send__(:remove_const, :EventRouter)
    Tasker::Telemetry.const_set(:EventRouter, Class.new)
    Tasker::Telemetry.__send__(:remove_const, :MetricsBackend)
    Tasker::Telemetry.const_set(:MetricsBackend, Class.new)
    expect { described_class.install! }
      .to output("tasker_metrics: replaced Tasker::Telemetry::EventRouter, Tasker::Telemetry::MetricsBackend with the native implementation\n")
      .to_stderr
    expect(Tasker::Telemetry::EventRouter).to equal(TaskerMetrics::EventRouter)
    expect { expect(described_class.install!).to eq([]) }.not_to output.to_stderr
  end

  it "replaces a pending autoload without loading its file" do
    Tasker::Telemetry.__send__(:remove_const, :PrometheusExporter)
    Tasker::Telemetry.autoload(:PrometheusExporter, "/nonexistent/tasker/prometheus_exporter.rb")
    expect { described_class.install! }.to output(/Tasker::Telemetry::PrometheusExporter/).to_stderr
    expect(Tasker::Telemetry::PrometheusExporter).to equal(TaskerMetrics::PrometheusExporter)
  end
end
