# frozen_string_literal: true

# The live demo: simulated Tasker workflows publish their lifecycle events through
# ActiveSupport::Notifications; the gem's subscriber records them natively and /metrics serves
# them (OpenMetrics or Prometheus text, by Accept). POST /run?tasks=N runs N more workflows and
# answers with the number of events of each kind it published. DEMO_BACKGROUND=0 turns off the
# steady background load (the end-to-end tests use exact workloads).
$LOAD_PATH.unshift File.expand_path("../lib", __dir__)
require "json"
require "active_support/notifications"
require "tasker_metrics"
require_relative "workflow_simulator"

TaskerMetrics.install!(subscribe: true)
publish = ->(name, payload) { ActiveSupport::Notifications.instrument("#{name}.tasker", payload) }
lock = Mutex.new

if ENV.fetch("DEMO_BACKGROUND", "1") == "1"
  Thread.new do
    simulator = WorkflowSimulator.new(seed: Process.pid, publish: publish)
    loop do
      lock.synchronize { simulator.run(5) }
      sleep 0.5
    end
  end
end

app = lambda do |env|
  request = Rack::Request.new(env)
  case [request.request_method, request.path_info]
  in ["POST", "/run"]
    tasks = Integer(request.params.fetch("tasks", "10"))
    simulator = WorkflowSimulator.new(seed: tasks, publish: publish)
    completed = lock.synchronize { simulator.run(tasks) }
    body = JSON.generate(completed: completed, events: simulator.published, pid: Process.pid)
    [200, { "content-type" => "application/json" }, [body]]
  in ["GET", "/"]
    [200, { "content-type" => "text/plain" }, ["tasker_metrics demo: GET /metrics, POST /run?tasks=N\n"]]
  else
    [404, { "content-type" => "text/plain" }, ["not found\n"]]
  end
end

# The demo is a plain Rack app; it reports each request the way a Rails controller does
# (process_action.action_controller), so the request metrics and their dashboard panels have data.
TaskerMetrics::RailsMetrics.install!(jobs: false)
report_requests = lambda do |inner|
  lambda do |env|
    payload = { controller: "DemoController", action: env["PATH_INFO"] == "/run" ? "run" : "show", method: env["REQUEST_METHOD"],
                view_runtime: nil, db_runtime: nil, }
    ActiveSupport::Notifications.instrument("process_action.action_controller", payload) do
      inner.call(env).tap { |status, _headers, _body| payload[:status] = status }
    end
  end
end

use TaskerMetrics::Rack::Exporter, path: "/metrics"
run report_requests.call(app)
