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
# Our part is a difference of two ~2 µs measurements, and noise between rounds swamps it: take
# the difference within each round (both cases run back to back) and report the median.
rounds = Harness.measure_rounds(cases, binding, rounds: [Harness::ROUNDS, 7].max)
ActiveSupport::Notifications.unsubscribe(noop)
results = rounds.transform_values(&:min)
pairs = rounds.fetch("instrument, tasker_metrics subscriber").zip(rounds.fetch("instrument, no-op subscriber (AS dispatch)"))
part = Harness.median(pairs.map { |ours, base| ours - base })
target = "our part #{format("%.0f", part)} ns (median of #{pairs.size} paired rounds) ≤ 500 ns"
Harness.table(
  "ActiveSupport::Notifications subscriber (#{Harness.machine})", results,
  reference: "instrument, no-op subscriber (AS dispatch)",
  checks: {
    "instrument, tasker_metrics subscriber" => [target, part <= 500],
  },
)
