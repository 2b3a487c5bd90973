# frozen_string_literal: true

require "timeout"

RSpec.describe "End to end: Puma serving the demo, scraped by a real Prometheus" do
  include_context "with Puma and Prometheus"

  it "exposes exactly the recorded workload to Prometheus" do
    port = Servers.free_port
    app = "http://127.0.0.1:#{port}"
    run.puma = Servers.spawn_server({ "DEMO_BACKGROUND" => "0" }, "puma", "-q", "-b", "tcp://127.0.0.1:#{port}", "demo/config.ru", log: run.log)
    Servers.wait_for("puma") { Servers.get("#{app}/metrics").is_a?(Net::HTTPOK) }

    events = JSON.parse(Servers.post("#{app}/run?tasks=40").body).fetch("events")
    completed = events.fetch("task.completed")
    expect(completed).to be > 30

    run.prometheus, prometheus = Servers.start_prometheus(run.dir, "127.0.0.1:#{port}", log: run.log)
    Servers.wait_for("the target to be up") { total(prometheus, 'up{job="demo"}') == 1 }
    Servers.wait_for("task_completed_total == #{completed}") { total(prometheus, "sum(task_completed_total)") == completed }
    expect(total(prometheus, "sum(step_completed_total)")).to eq(events.fetch("step.completed"))
    expect(total(prometheus, "sum(step_duration_seconds_count)")).to eq(events.fetch("step.completed") + events.fetch("step.failed"))

    more = JSON.parse(Servers.post("#{app}/run?tasks=10").body).dig("events", "task.completed")
    Servers.wait_for("the second batch") { total(prometheus, "sum(task_completed_total)") == completed + more }
    scrape = Servers.get("#{app}/metrics", "Accept" => "application/openmetrics-text; version=1.0.0")
    expect(scrape["content-type"]).to eq("application/openmetrics-text; version=1.0.0; charset=utf-8")
  rescue RuntimeError => e
    raise "#{e.message}\n--- server log ---\n#{File.exist?(run.log) ? File.read(run.log) : ""}"
  end
end
