# frozen_string_literal: true

require "tasker_metrics"

# Tasker's namespaces, created if Tasker itself is not loaded (yet).
module Tasker
  # Tasker's telemetry namespace.
  module Telemetry
    # Tasker's metric types namespace.
    module MetricTypes; end
  end
end

module TaskerMetrics
  # Makes Tasker's telemetry constants resolve to the native classes, so a Tasker app gets them
  # without a line of Tasker changed. Constants Tasker already defined (or registered for
  # autoloading) are replaced, with one warning line naming them.
  module TaskerShim
    # @return [Hash{Module=>Hash{Symbol=>Module}}] Tasker namespace => constant => native class
    def self.constants
      {
        Tasker::Telemetry => { EventMapping: EventMapping, EventRouter: EventRouter, MetricsBackend: MetricsBackend,
                               PrometheusExporter: PrometheusExporter, },
        Tasker::Telemetry::MetricTypes => { Counter: MetricTypes::Counter, Gauge: MetricTypes::Gauge,
                                            Histogram: MetricTypes::Histogram, },
      }
    end

    # Installs the constants; safe to call again.
    # @return [Array<String>] the constants that were replaced
    def self.install!
      replaced = constants.flat_map do |namespace, natives|
        natives.filter_map { |name, native| install_constant(namespace, name, native) }
      end
      TaskerMetrics.log :warn, "tasker_metrics: replaced #{replaced.join(", ")} with the native implementation" unless replaced.empty?
      EventRouter.instance.tasker_installed!
      replaced
    end

    # @api private
    def self.install_constant(namespace, name, native)
      if namespace.const_defined?(name, false)
        # An autoload (Zeitwerk) is removed without loading Tasker's file.
        return if !namespace.autoload?(name, false) && namespace.const_get(name, false).equal?(native)

        namespace.__send__(:remove_const, name)
        namespace.const_set(name, native)
        return "#{namespace}::#{name}"
      end
      namespace.const_set(name, native)
      nil
    end
  end
end

TaskerMetrics::TaskerShim.install!
