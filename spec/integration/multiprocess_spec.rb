# frozen_string_literal: true

require "set"
require "timeout"

RSpec.describe "End to end: a Puma cluster in multi-process mode, scraped by a real Prometheus" do
  include_context "with Puma and Prometheus"

  # Runs batches until at least `workers` distinct workers have served one; returns
  # [task.completed total, pids that served]. A failed request fails the test: swallowing it
  # could lose the count of work the server did.
  def spread_work(app, workers)
    completed = 0
    pids = Set.new
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 60
    while pids.size < workers
      raise "only #{pids.size} workers served in 60s" if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline

      reply = JSON.parse(Servers.post("#{app}/run?tasks=5").body)
      completed += reply.dig("events", "task.completed")
      pids << reply.fetch("pid")
    end
    [completed, pids]
  end

  def live_files(app) = Scrape.samples(Servers.get("#{app}/metrics").body)['tasker_metrics_multiprocess_files{state="live"}']

  it "sums every worker exactly and keeps a killed worker's counts" do
    port = Servers.free_port
    app = "http://127.0.0.1:#{port}"
    env = { "DEMO_BACKGROUND" => "0", "TASKER_METRICS_MULTIPROC_DIR" => File.join(run.dir, "metrics"), "PORT" => port.to_s,
            "WEB_CONCURRENCY" => "3", "PUMA_THREADS" => "1", }
    run.puma = Servers.spawn_server(env, "puma", "-C", "demo/puma_cluster.rb", "demo/config.ru", log: run.log)
    Servers.wait_for("3 puma workers") { live_files(app) == 4 } # the master's file and one per worker

    completed, pids = spread_work(app, 2)
    run.prometheus, prometheus = Servers.start_prometheus(run.dir, "127.0.0.1:#{port}", log: run.log)
    Servers.wait_for("the target to be up") { total(prometheus, 'up{job="demo"}') == 1 }
    Servers.wait_for("task_completed_total == #{completed}") { total(prometheus, "sum(task_completed_total)") == completed }
    expect(total(prometheus, 'count(tasker_metrics_multiprocess_files{state="live"} == 4)')).to eq(1)

    Process.kill("KILL", pids.first)
    Servers.wait_for("puma to replace the killed worker") { live_files(app) == 4 && Servers.get("#{app}/metrics").is_a?(Net::HTTPOK) }
    Servers.wait_for("a scrape after the kill") { total(prometheus, 'tasker_metrics_multiprocess_files{state="archive"}') == 1 }
    expect(total(prometheus, "sum(task_completed_total)")).to eq(completed), "the killed worker's counts survive"

    more, = spread_work(app, 2)
    Servers.wait_for("the second batch") { total(prometheus, "sum(task_completed_total)") == completed + more }
    files = Dir.children(File.join(run.dir, "metrics"))
    expect(files.size).to be <= 4 + 3, files.inspect # master + 3 workers; archive, lock, compaction reserve
  rescue RuntimeError => e
    scrape = Servers.get("#{app}/metrics").body rescue "" # rubocop:disable Style/RescueModifier -- diagnostics only
    files = Dir.exist?(File.join(run.dir, "metrics")) ? Dir.children(File.join(run.dir, "metrics")).sort.join(" ") : ""
    e = RuntimeError.new("#{e.message} (expected #{completed} + #{more.inspect}; files #{files})\n#{scrape.lines.grep(/task_completed|multiprocess/).join}")
    raise "#{e.message}\n--- server log ---\n#{File.exist?(run.log) ? File.read(run.log) : ""}"
  end
end
