# frozen_string_literal: true

module TaskerMetrics
  # Request and ActiveJob metrics from Rails' own instrumentation, recorded by native listeners
  # that ActiveSupport::Notifications calls directly (see +src/ruby/rails.rs+):
  #
  # - +rails_requests_total+ and +rails_request_duration_seconds+ by controller, action, method
  #   and status (never by path, so the series stay bounded);
  #   +rails_view_runtime_seconds+ and +rails_db_runtime_seconds+ by controller and action;
  # - +active_job_enqueued_total+ and +active_job_duration_seconds+ by job class and queue,
  #   +active_job_performed_total+ by job class, queue and outcome (+success+ or +error+).
  #
  # The Railtie installs them (settings +rails_metrics+ and +active_job_metrics+).
  #
  # @example
  #   TaskerMetrics::RailsMetrics.install!(requests: true, jobs: false)
  module RailsMetrics
    REQUEST_EVENT = "process_action.action_controller"
    JOB_EVENTS = /\A(?:enqueue|perform)\.active_job\z/

    @handles = []
    @warned = {}

    class << self
      # Subscribes (again: replacing the earlier subscriptions).
      # @param requests [Boolean] controller requests
      # @param jobs [Boolean] ActiveJob jobs
      # @param registry [Registry]
      # @return [Integer] how many subscriptions there are
      # @raise [ArgumentError] when a metric of the same name is registered otherwise
      def install!(requests: true, jobs: true, registry: TaskerMetrics.registry)
        Subscriber.monotonic_ready
        uninstall!
        notifications = ActiveSupport::Notifications
        @handles << notifications.monotonic_subscribe(REQUEST_EVENT, RequestListener.new(registry)) if requests
        @handles << notifications.monotonic_subscribe(JOB_EVENTS, JobListener.new(registry)) if jobs
        @handles.size
      end

      # @return [Boolean] whether anything was unsubscribed
      def uninstall!
        removed = @handles.each { |handle| ActiveSupport::Notifications.unsubscribe(handle) }
        @handles = []
        !removed.empty?
      end

      # The status of a request that raised: ActionDispatch's mapping of the exception (404
      # for a missing record, ...), else 500.
      # @api private
      def status_for(payload)
        name = Array(payload[:exception]).first
        return 500 unless name && defined?(::ActionDispatch::ExceptionWrapper)

        ::ActionDispatch::ExceptionWrapper.status_code_for_exception(name)
      end

      # A listener failed: counted in +tasker_metrics_subscriber_errors_total{event}+ and logged
      # once per event name; the request or job never sees it.
      # @api private
      def failed(name, message)
        TaskerMetrics.registry.counter(:tasker_metrics_subscriber_errors_total, docstring: "Events the subscriber failed to record",
                                                                                labels: [:event],)
                     .increment(labels: { event: name })
        return if @warned[name]

        @warned[name] = true
        TaskerMetrics.log(:warn, "tasker_metrics: failed to record #{name}: #{message} (further failures are only counted)")
      end
    end
  end
end
