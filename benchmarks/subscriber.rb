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
  "instrument, no-op subscriber (AS dispatch)" => "noop.completed.tasker",
  "instrument, tasker_metrics subscriber" => "step.completed.tasker",
}
# Our part is the difference of two ~2 µs costs, and this machine's speed drifts by half and
# more from one second to the next, so one-second rounds mostly compare slow moments. Instead
# both cases run in many short batches, alternating, and each keeps its fastest batch: noise
# only ever adds time. The median of the paired batch differences is printed alongside.
BATCHES = Integer(ENV.fetch("BENCH_BATCHES", "300"))
batches = Harness.alternating_batches(cases, batches: BATCHES) { |name| ActiveSupport::Notifications.instrument(name, payload) }
ActiveSupport::Notifications.unsubscribe(noop)

results = batches.transform_values(&:min)
ours, base = batches.values_at("instrument, tasker_metrics subscriber", "instrument, no-op subscriber (AS dispatch)")
part = results.fetch("instrument, tasker_metrics subscriber") - results.fetch("instrument, no-op subscriber (AS dispatch)")
paired = Harness.median(ours.zip(base).map { |o, b| o - b })
target = "our part #{format("%.0f", part)} ns (fastest of #{BATCHES} batches each; median paired difference " \
         "#{format("%.0f", paired)} ns) ≤ 500 ns"
Harness.table(
  "ActiveSupport::Notifications subscriber (#{Harness.machine})", results,
  reference: "instrument, no-op subscriber (AS dispatch)",
  checks: {
    "instrument, tasker_metrics subscriber" => [target, part <= 500],
  },
)
