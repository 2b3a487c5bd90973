# frozen_string_literal: true

# Tasker's real event pipeline, as a stand-in that dispatches the way
# Tasker::Events::Subscribers::MetricsSubscriber (tasker-engine at ed368972) does: the publisher
# calls handle_<event with . turned into _>, method_missing turns every _ back into . and asks the
# router, then routes the event.
RSpec.describe "Tasker's MetricsSubscriber pipeline" do
  let(:router) { TaskerMetrics::EventRouter.instance }
  let(:backend) { TaskerMetrics::MetricsBackend.instance }

  let(:subscriber_class) do
    Class.new do
      def initialize(router) = @router = router

      # What Tasker's BaseSubscriber subscribes with: one handler method name per event.
      def handler_for(event_name) = :"handle_#{event_name.tr(".", "_")}"

      def handle_event(event_name, event)
        return unless @router.routes_to_metrics?(event_name)

        @router.route_event(event_name, event.respond_to?(:payload) ? event.payload : event)
      end

      def method_missing(method_name, *args)
        return super unless method_name.to_s.start_with?("handle_")

        handle_event(method_name.to_s.delete_prefix("handle_").tr("_", "."), args.first)
      end

      def respond_to_missing?(method_name, include_private = false) = method_name.to_s.start_with?("handle_") || super
    end
  end

  # Publishes like Tasker's publisher: every event the subscriber subscribed to (the router's
  # metrics events), through its handler method.
  def publish(subscriber, event_name, payload)
    raise "not subscribed: #{event_name}" unless router.events_for_backend(:metrics).include?(event_name)

    subscriber.public_send(subscriber.handler_for(event_name), payload)
  end

  def events_total(name) = backend.all_metrics.fetch(%(tasker_events_total{event="#{name}"})).value

  it "delivers Tasker's own events with underscores, recorded under their mapped names" do
    subscriber = subscriber_class.new(router)
    %w[task.start_requested step.retry_requested step.execution_requested task.initialize_requested
       workflow.task_completed].each { |name| 2.times { publish(subscriber, name, { status: "ok" }) } }
    expect(events_total("task.start_requested")).to eq(2)
    expect(events_total("step.retry_requested")).to eq(2)
    expect(events_total("workflow.task_completed")).to eq(2)
    expect(events_total("task.initialize_requested")).to eq(2)
    expect(backend.all_metrics.keys.grep(/event="[a-z]+(\.[a-z]+){2,}"/)).to be_empty, "no dotted names recorded"
  end

  it "delivers every metrics event the router maps by default" do
    subscriber = subscriber_class.new(router)
    events = router.events_for_backend(:metrics).reject { |name| router.mapping_for(name).sampling_rate < 1.0 }
    events.each { |name| publish(subscriber, name, {}) }
    delivered = events.select { |name| backend.all_metrics.key?(%(tasker_events_total{event="#{name}"})) }
    expect(delivered).to eq(events)
    expect(events.size).to be > 30
  end
end
