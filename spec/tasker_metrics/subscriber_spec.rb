# frozen_string_literal: true

require "active_support/notifications"

RSpec.describe TaskerMetrics::Subscriber do
  let(:backend) { TaskerMetrics::MetricsBackend.instance }

  def instrument(name, payload = {}, &) = ActiveSupport::Notifications.instrument(name, payload, &)
  def value(key) = backend.all_metrics[key]&.value

  after { described_class.unsubscribe! }

  it "subscribes once per pattern and unsubscribes" do
    first = described_class.subscribe!
    expect(described_class.subscribe!).to equal(first)
    instrument("task.completed")
    expect(value("task_completed_total")).to eq(1)
    expect(described_class.unsubscribe!(nil)).to be(true)
    expect(described_class.subscribed?).to be(false)
    instrument("task.completed")
    expect(value("task_completed_total")).to eq(1)
    expect(described_class.unsubscribe!(nil)).to be(false)
  end

  it "records events with and without the .tasker suffix, with the event's duration when the payload has none" do
    described_class.subscribe!
    instrument("step.completed.tasker", status: "ok") { sleep 0.02 }
    instrument("step.completed", status: "ok", duration: 5)
    expect(value('step_completed_total{status="ok"}')).to eq(2)
    hist = backend.all_metrics['step_duration_seconds{status="ok"}']
    expect(hist.count).to eq(2)
    expect(hist.sum).to be_between(5.02, 6)
  end

  it "ignores unmapped events and hears events mapped after subscribing" do
    described_class.subscribe!
    instrument("sql.active_record", sql: "SELECT 1")
    instrument("order.shipped")
    TaskerMetrics::EventRouter.instance.map("order.shipped", backends: [:metrics])
    instrument("order.shipped")
    expect(value('tasker_events_total{event="order.shipped"}')).to eq(1)
    expect(backend.all_metrics.keys.grep(/sql/)).to be_empty
  end

  it "takes an explicit pattern and suffix" do
    described_class.subscribe!(/\.done\z/, suffix: ".done")
    TaskerMetrics::EventRouter.instance.map("job.completed", backends: [:metrics])
    instrument("job.completed.done")
    expect(value("job_completed_total")).to eq(1)
  end

  it "never raises into instrumented code: counts and warns once per event" do
    described_class.subscribe!
    expect do
      3.times { expect(instrument("task.completed", duration: "slow") { :result }).to eq(:result) }
    end.to output(/failed to record task.completed: ArgumentError: Observed value must be numeric, got: String/).to_stderr
    errors = TaskerMetrics.registry.get(:tasker_metrics_subscriber_errors_total)
    expect(errors.get(labels: { event: "task.completed" })).to eq(3)
  end

  it "counts an error raised by a payload value's own Ruby code, but lets non-StandardErrors through" do
    described_class.subscribe!
    broken = Class.new { def self.name = raise(KeyError, "no name") }
    expect { instrument("step.completed", handler_class: broken) }.to output(/KeyError: no name/).to_stderr
    expect(TaskerMetrics.registry.get(:tasker_metrics_subscriber_errors_total).get(labels: { event: "step.completed" })).to eq(1)
    interrupting = Class.new { def self.name = raise(Interrupt) }
    expect { instrument("step.completed", handler_class: interrupting) }.to raise_error(Interrupt)
  end

  it "passes the instrumented block's exception through untouched" do
    described_class.subscribe!
    expect { instrument("task.failed") { raise KeyError, "boom" } }.to raise_error(KeyError, "boom")
    expect(value("task_failed_total")).to eq(1)
  end
end
