# frozen_string_literal: true

module TaskerMetrics
  # Forwards ActiveSupport::Notifications events to {TaskerMetrics.record}.
  #
  # By default it listens to every event the EventRouter maps, including events mapped later:
  # the matcher asks the router, and any change to the mappings clears ActiveSupport's per-name
  # listener cache. +task.completed+ and +task.completed.tasker+ both record +task.completed+.
  # Errors never reach the instrumented code: they are counted in
  # +tasker_metrics_subscriber_errors_total{event=...}+ and warned once per event name.
  #
  # @example
  #   TaskerMetrics::Subscriber.subscribe!
  #   ActiveSupport::Notifications.instrument("step.completed.tasker", status: "complete") { work }
  class Subscriber
    DEFAULT_SUFFIX = ".tasker"

    # Matches the event names the router maps (after removing the suffix).
    class RoutedEvents
      def initialize(subscriber) = @subscriber = subscriber

      # @return [Boolean]
      def ===(name) = EventRouter.instance.mapping_exists?(@subscriber.event_name(name))
    end

    @subscribers = {}
    @lock = Mutex.new

    class << self
      # Subscribes once per pattern (again is a no-op).
      # @param pattern [String, Regexp, nil] nil: every event the router maps
      # @param suffix [String] removed from event names before recording
      # @return [Subscriber]
      def subscribe!(pattern = nil, suffix: DEFAULT_SUFFIX)
        require "active_support/notifications"
        @lock.synchronize { @subscribers[pattern] ||= new(pattern, suffix).tap(&:attach) }
      end

      # @param pattern [String, Regexp, nil, :all] the pattern given to {subscribe!}; +:all+ removes every one
      # @return [Boolean] whether anything was unsubscribed
      def unsubscribe!(pattern = :all)
        @lock.synchronize do
          removed = pattern == :all ? @subscribers.values.tap { @subscribers.clear } : [@subscribers.delete(pattern)].compact
          removed.each(&:detach)
          !removed.empty?
        end
      end

      # @return [Boolean]
      def subscribed?(pattern = nil) = @subscribers.key?(pattern)

      # ActiveSupport's monotonic subscribers call Concurrent.monotonic_time without loading it.
      # @api private
      def monotonic_ready
        require "active_support/notifications"
        require "concurrent/utility/monotonic_time" unless Concurrent.respond_to?(:monotonic_time)
      end

      # Called when the router's mappings change, so events mapped later are heard too.
      # @api private
      def router_changed
        return unless defined?(ActiveSupport::Notifications) && @subscribers.key?(nil)

        # (Un)subscribing a non-String pattern clears the notifier's per-name listener cache
        # (ActiveSupport 6.1 to 7.x); this one never matches anything.
        notifier = ActiveSupport::Notifications.notifier
        notifier.unsubscribe(notifier.subscribe(/(?!)/) { nil })
      end
    end

    def initialize(pattern, suffix)
      @pattern = pattern || RoutedEvents.new(self)
      @suffix = suffix
      @names = {}
      @warned = {}
    end

    # @api private
    # Monotonic: ActiveSupport then hands over two clock readings (Floats) rather than building
    # two Time objects, which is cheaper for it and for the subtraction here.
    def attach
      Subscriber.monotonic_ready
      # A native callable (src/ruby/metrics_backend.rs): ActiveSupport calls its C method
      # `call(name, started, finished, id, payload)` directly, which takes the suffix off, ignores
      # a non-Hash payload, computes the duration and records, then hands a StandardError to
      # {#failed} instead of raising it into the instrumented code.
      @handle = ActiveSupport::Notifications.monotonic_subscribe(@pattern, Listener.new(self, @suffix))
    end

    # @api private
    def detach = ActiveSupport::Notifications.unsubscribe(@handle)

    # The name recorded for an instrumented event name (suffix removed), cached.
    # @return [String]
    def event_name(name)
      @names[name] ||= (!@suffix.empty? && name.end_with?(@suffix) ? name.delete_suffix(@suffix) : name).freeze
    end

    # Counts a failed event and warns once per event name; never raises.
    # @api private
    def failed(name, error)
      errors = TaskerMetrics.registry.counter(:tasker_metrics_subscriber_errors_total,
                                              docstring: "Events the subscriber failed to record", labels: [:event],)
      errors.increment(labels: { event: event_name(name) })
      return if @warned[name]

      @warned[name] = true
      TaskerMetrics.log(:warn, "tasker_metrics: failed to record #{name}: #{error.class}: #{error.message} " \
                               "(further failures of this event are only counted)",)
    rescue StandardError
      nil
    end
  end
end
