# frozen_string_literal: true

# Issue 12: what a Rails request pays for its metrics (rails_requests_total, request duration,
# view and DB time), on top of ActiveSupport's dispatch of process_action.action_controller to
# a subscriber that does nothing; against the same metrics recorded by a Ruby block through
# the registry API (the way a pure-Ruby integration subscribes).
require_relative "support/harness"
require "tasker_metrics"

TaskerMetrics::Subscriber.monotonic_ready
notifications = ActiveSupport::Notifications
# What ActionController's payload holds (the listener reads six of these keys).
payload = { controller: "OrdersController", action: "show", method: "GET", status: 200, view_runtime: 4.2, db_runtime: 1.3,
            path: "/orders/42", format: :html, params: { "id" => "42" }, request: nil, headers: nil, }
notifications.monotonic_subscribe("noop.action_controller") { |*| nil }
TaskerMetrics::RailsMetrics.install!(jobs: false)

ruby_registry = TaskerMetrics::Registry.new
labels = %i[controller action method status]
requests = ruby_registry.counter(:ruby_requests_total, docstring: "r", labels: labels)
duration = ruby_registry.histogram(:ruby_request_duration_seconds, docstring: "r", labels: labels)
view = ruby_registry.histogram(:ruby_view_runtime_seconds, docstring: "r", labels: %i[controller action])
db = ruby_registry.histogram(:ruby_db_runtime_seconds, docstring: "r", labels: %i[controller action])
notifications.monotonic_subscribe("ruby.action_controller") do |_name, started, finished, _id, p|
  request_labels = { controller: p[:controller], action: p[:action], method: p[:method], status: p[:status] }
  requests.increment(labels: request_labels)
  duration.observe(finished - started, labels: request_labels)
  short = { controller: p[:controller], action: p[:action] }
  view.observe(p[:view_runtime] / 1000.0, labels: short) if p[:view_runtime]
  db.observe(p[:db_runtime] / 1000.0, labels: short) if p[:db_runtime]
end

cases = {
  "instrument, no-op subscriber (AS dispatch)" => "noop.action_controller",
  "instrument, tasker_metrics request listener" => "process_action.action_controller",
  "instrument, Ruby block over the registry API" => "ruby.action_controller",
}
batches = Harness.alternating_batches(cases) { |name| notifications.instrument(name, payload) }
results = batches.transform_values(&:min)
base = results.fetch("instrument, no-op subscriber (AS dispatch)")
ours = results.fetch("instrument, tasker_metrics request listener") - base
ruby = results.fetch("instrument, Ruby block over the registry API") - base
Harness.table(
  "Rails request metrics, per request (#{Harness.machine})", results,
  reference: "instrument, no-op subscriber (AS dispatch)",
  checks: {
    "instrument, tasker_metrics request listener" => [
      "our part #{format("%.0f", ours)} ns per request (Ruby block: #{format("%.0f", ruby)} ns)", ours < ruby,
    ],
  },
)
