# frozen_string_literal: true

require "singleton"

module TaskerMetrics
  # The process-wide event router (Tasker's EventRouter). Mappings live in one native snapshot
  # that readers use without locks; each change swaps it atomically.
  #
  # @example
  #   TaskerMetrics::EventRouter.configure do |router|
  #     router.map("order.shipped", backends: %i[trace metrics], sampling_rate: 0.5)
  #   end
  #
  # @!method mapping_for(event_name)
  #   @return [EventMapping, nil]
  # @!method mapping_exists?(event_name)
  #   @return [Boolean]
  # @!method routes_to_traces?(event_name)
  #   Deterministic: mapped, enabled, sampling_rate > 0 and the backend included.
  #   @return [Boolean]
  # @!method routes_to_metrics?(event_name)
  #   @return [Boolean]
  # @!method routes_to_logs?(event_name)
  #   @return [Boolean]
  # @!method events_for_backend(backend)
  #   @param backend [Symbol] +:trace/:traces+, +:metric/:metrics+, +:log/:logs+
  #   @return [Array<String>] frozen
  #   @raise [ArgumentError] for an unknown backend
  # @!method routing_stats
  #   @return [Hash{Symbol=>Integer}]
  # @!method configured_events
  #   @return [Array<String>] in registration order
  # @!method mappings
  #   @return [Hash{String=>EventMapping}] frozen
  class EventRouter
    include Singleton

    TRACE = 1
    METRICS = 2
    LOGS = 4
    MAPPED_ELSEWHERE = 8
    OPTIONS = %i[backends enabled sampling_rate priority metadata].freeze
    private_constant :TRACE, :METRICS, :LOGS, :MAPPED_ELSEWHERE, :OPTIONS

    # Registers itself with the metrics backend, as Tasker's router does.
    def initialize
      super
      MetricsBackend.instance.register_event_router(self)
    end

    # Yields the router and returns it.
    # @yieldparam router [EventRouter]
    # @return [EventRouter]
    def self.configure
      yield instance if block_given?
      instance
    end

    # Registers (or replaces) the mapping of one event.
    #
    # @param event_name [String, Symbol, Hash] a name, or a one-pair Hash +{name => backends}+
    # @return [EventMapping]
    # @raise [ArgumentError] for a nil name or any invalid field
    # @example
    #   router.map("task.completed", backends: %i[trace metrics])
    #   router.map("task.failed" => [:metrics])
    def map(event_name = nil, **options)
      event_name, options = split_mapping_arguments(event_name, options)
      raise ArgumentError, "event_name cannot be nil" if event_name.nil?

      fields = EventMapping::DEFAULTS.merge(options)
      _map(event_name, *fields.values_at(*OPTIONS)).tap { Subscriber.router_changed }
    end

    # Maps many events at once.
    #
    # @param config [Hash{String=>Array, Hash, Symbol}, nil]
    # @return [Array<EventMapping>]
    # @raise [ArgumentError] for a config that is not an Array, Hash or Symbol
    def bulk_configure(config)
      (config || {}).map do |name, value|
        case value
        when Array then map(name, backends: value)
        when Hash then map(name, **value.transform_keys(&:to_sym))
        when Symbol, String then map(name, backends: [value])
        else raise ArgumentError, "Invalid config for #{name}: #{value.inspect}. Must be Array, Hash, or Symbol"
        end
      end
    end

    # @return [Array<String>] the events mapped to traces (enabled or not), in mapping order
    def trace_events = events_for_backend(:trace)

    # @return [Array<String>] the events mapped to metrics
    def metrics_events = events_for_backend(:metrics)

    # @return [Array<String>] the events mapped to logs
    def log_events = events_for_backend(:logs)

    # Routes one event: one sampling draw, then each backend it maps to, in Tasker's order:
    # metrics ({MetricsBackend#handle_event}), traces, logs. Traces and logs go to the handler
    # registered with {#register_trace_handler}/{#register_log_handler}, else to Tasker's
    # +Tasker::Telemetry::TraceBackend+/+LogBackend+ when they exist. A name as Tasker's subscriber
    # passes it on (+task.start.requested+) reaches every backend as the mapped name.
    #
    # @param event_name [String, Symbol]
    # @param payload [Hash]
    # @return [Hash] +{}+ when unmapped, disabled or not sampled; else +:metrics+, +:traces+,
    #   +:logs+ entries for the backends it went to (+true+ where nothing handles them)
    def route_event(event_name, payload = {}) # rubocop:disable Metrics/CyclomaticComplexity, Metrics/PerceivedComplexity -- the hot path, kept in one method on purpose (each extra call cost ~5% of it)
      mask = _decide(event_name)
      return {} unless mask

      # Bit tests with `&` (VM instructions), not Integer#anybits? (a method call each).
      event_name = mapping_for(event_name)&.event_name || event_name if mask >= MAPPED_ELSEWHERE
      result = {}
      result[:metrics] = MetricsBackend.instance.handle_event(event_name, payload) if mask & METRICS != 0
      # Without a handler or Tasker there is nothing to call: no method call on the hot path.
      if mask & TRACE != 0
        result[:traces] = @trace_handler || @tasker_installed ? deliver(@trace_handler, :TraceBackend, event_name, payload) : true
      end
      result[:logs] = deliver(@log_handler, :LogBackend, event_name, payload) if mask & LOGS != 0
      result
    end

    # Sets what {#route_event} calls for events routed to traces.
    # @param handler [#call, nil] called with +(event_name, payload)+; nil removes it
    # @return [#call, nil]
    def register_trace_handler(handler = nil, &block)
      @trace_handler = callable(handler || block)
    end

    # Sets what {#route_event} calls for events routed to logs.
    # @param handler [#call, nil]
    # @return [#call, nil]
    def register_log_handler(handler = nil, &block)
      @log_handler = callable(handler || block)
    end

    # Called when the Tasker constants are installed (see TaskerShim): from then on {#route_event}
    # hands events to Tasker's own TraceBackend and LogBackend where they exist.
    # @api private
    # @return [true]
    def tasker_installed!
      @tasker_installed = true
    end

    # Back to the default mappings.
    # @return [EventRouter]
    def reset!
      _reset
      Subscriber.router_changed
      self
    end

    private

    # `map({"x" => [:metrics]})` arrives as a Hash; `map("x" => [:metrics])` as keywords on Ruby 3.
    def split_mapping_arguments(event_name, options)
      return [event_name, options] unless event_name.nil? || event_name.is_a?(Hash)

      pair = event_name || options.except(*OPTIONS)
      return [nil, options] if pair.empty?
      raise ArgumentError, "map takes one {event_name => backends} pair, got #{pair.size}" unless pair.size == 1

      name, backends = pair.first
      [name, { backends: Array(backends) }.merge(options.slice(*OPTIONS))]
    end

    # Tasker's backends are looked up only once the Tasker constants are installed (an undefined
    # constant costs a full lookup on every check, which was a fifth of route_event's time).
    def deliver(handler, tasker_backend, event_name, payload)
      return handler.call(event_name, payload) if handler
      return true unless @tasker_installed && ::Tasker::Telemetry.const_defined?(tasker_backend, false)

      ::Tasker::Telemetry.const_get(tasker_backend, false).instance.handle_event(event_name, payload)
    end

    def callable(handler)
      raise ArgumentError, "handler must respond to #call, got #{handler.class}" unless handler.nil? || handler.respond_to?(:call)

      handler
    end
  end
end
