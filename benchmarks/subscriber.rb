# frozen_string_literal: true

# Issue 4: what an ActiveSupport::Notifications.instrument call pays for our subscriber, on top
# of ActiveSupport's own dispatch to a subscriber that does nothing (monotonic, as ours is).
require_relative "support/harness"
require "active_support/notifications"
require "tasker_metrics"
require "concurrent/utility/monotonic_time" # ActiveSupport 6.1's monotonic subscribers need it loaded

payload = { status: "complete", handler_class: "Orders::ShipHandler", namespace: "orders" }
noop = ActiveSupport::Notifications.monotonic_subscribe("noop.completed.tasker") { |_name, _start, _finish, _id, _payload| nil }
TaskerMetrics::Subscriber.subscribe!

cases = {
  "instrument, no-op subscriber (AS dispatch)" => "ActiveSupport::Notifications.instrument('noop.completed.tasker', payload)",
  "instrument, tasker_metrics subscriber" => "ActiveSupport::Notifications.instrument('step.completed.tasker', payload)",
}
results = Harness.measure(cases, binding)
ActiveSupport::Notifications.unsubscribe(noop)
base = results.fetch("instrument, no-op subscriber (AS dispatch)")
ours = results.fetch("instrument, tasker_metrics subscriber")
Harness.table(
  "ActiveSupport::Notifications subscriber (#{Harness.machine})", results,
  reference: "instrument, no-op subscriber (AS dispatch)",
  checks: { "instrument, tasker_metrics subscriber" => ["our part #{format("%.0f", ours - base)} ns ≤ 500 ns", ours - base <= 500] },
)
