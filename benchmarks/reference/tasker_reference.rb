# frozen_string_literal: true

require "concurrent"

# The baseline users run today: a pure-Ruby telemetry backend with Tasker's design (a
# Concurrent::Hash registry keyed by name and labels, concurrent-ruby atomics, a mapping lookup
# plus random draw per event, and the same derivation rules). Used only by the benchmarks.
module TaskerReference
  # Counter over an AtomicFixnum.
  class Counter
    def initialize = @value = Concurrent::AtomicFixnum.new(0)
    def increment(amount = 1) = @value.increment(amount)
    def value = @value.value
  end

  # Gauge over an AtomicReference.
  class Gauge
    def initialize = @value = Concurrent::AtomicReference.new(0)
    def set(value) = @value.set(value)
  end

  # Histogram with one AtomicFixnum per bucket, a sum and a count.
  class Histogram
    BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0].freeze

    def initialize
      @buckets = BUCKETS.to_h { |b| [b, Concurrent::AtomicFixnum.new(0)] }
      @sum = Concurrent::AtomicReference.new(0.0)
      @count = Concurrent::AtomicFixnum.new(0)
    end

    def observe(value)
      @buckets.each { |bound, count| count.increment if value <= bound }
      @sum.update { |s| s + value }
      @count.increment
      value
    end
  end

  # Registry and derivation, as Tasker's MetricsBackend does them.
  class Backend
    def initialize = @metrics = Concurrent::Hash.new

    def counter(name, **labels) = fetch(Counter, name, labels)
    def gauge(name, **labels) = fetch(Gauge, name, labels)
    def histogram(name, **labels) = fetch(Histogram, name, labels)

    def handle_event(event_name, payload = {}) # rubocop:disable Metrics/AbcSize -- mirrors the shape of Tasker's method
      return false unless payload.is_a?(Hash)

      entity = event_name.to_s.split(".").first
      labels = extract_labels(payload)
      duration = payload[:duration] || payload[:execution_duration]
      case event_name.to_s
      when /\.started$/ then counter("#{entity}_started_total", **labels).increment
      when /\.completed$/, /\.failed$/
        counter("#{entity}_#{event_name.to_s.split(".").last}_total", **labels).increment
        histogram("#{entity}_duration_seconds", **labels).observe(duration) if duration
      when /\.cancelled$/ then counter("#{entity}_cancelled_total", **labels).increment
      end
      counter("tasker_events_total", event: event_name.to_s).increment
      true
    end

    private

    def fetch(type, name, labels)
      key = "#{name}#{labels.empty? ? "" : labels.sort.to_h}"
      @metrics[key] ||= type.new
    end

    def extract_labels(payload)
      labels = {}
      labels["status"] = payload[:status].to_s if payload[:status]
      labels["handler"] = payload[:handler_class].to_s if payload[:handler_class]
      labels["namespace"] = payload[:namespace].to_s if payload[:namespace]
      labels.transform_keys(&:to_sym)
    end
  end

  # Tasker's router: a mapping lookup and one random draw, then the backends.
  class Router
    Mapping = Struct.new(:backends, :enabled, :sampling_rate)

    def initialize(backend)
      @backend = backend
      @mappings = Concurrent::Hash.new
      @mappings["step.completed"] = Mapping.new(%i[trace metrics], true, 1.0)
    end

    def route_event(event_name, payload = {})
      mapping = @mappings[event_name.to_s]
      return {} unless mapping&.enabled && (mapping.sampling_rate >= 1.0 || rand < mapping.sampling_rate)

      results = {}
      results[:traces] = true if mapping.backends.include?(:trace)
      results[:metrics] = @backend.handle_event(event_name, payload) if mapping.backends.include?(:metrics)
      results
    end
  end
end
