# frozen_string_literal: true

require "tmpdir"

# Process.daemon forks without Ruby's fork hooks, so the daemon keeps writing into the file of the
# process that launched it. That file must stay live (never compacted) while the daemon writes.
RSpec.describe "Process.daemon in multi-process mode" do
  def wait_for(what)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 30
    until yield
      raise "gave up waiting for #{what}" if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline

      sleep 0.01
    end
  end

  def alive?(pid)
    Process.kill(0, pid)
    true
  rescue Errno::ESRCH
    false
  end

  it "keeps every count of a daemon whose launcher exited before it wrote" do
    Dir.mktmpdir do |tmp|
      dir = File.join(tmp, "metrics")
      registry = TaskerMetrics::Registry.new
      jobs = registry.counter(:daemon_jobs_total, docstring: "j")
      registry.enable_multiprocess(dir)
      # Signals between the test and the daemon live outside the metrics directory.
      go = File.join(tmp, "go")
      done = File.join(tmp, "daemon.pid")
      launcher = fork do
        jobs.increment(by: 100)
        Process.daemon(true, true)
        sleep 0.01 until File.exist?(go)
        jobs.increment(by: 11)
        File.write(done, Process.pid.to_s)
        exit!(0)
      end
      Process.wait(launcher)
      # The launcher is gone; this scrape compacts what it may while the daemon still lives.
      expect(Scrape.samples(registry.export)["daemon_jobs_total"]).to eq(100)
      File.write(go, "")
      wait_for("the daemon to write") { File.exist?(done) && !File.read(done).empty? }
      daemon = Integer(File.read(done))
      wait_for("the daemon to exit") { !alive?(daemon) }
      expect(Scrape.samples(registry.export)["daemon_jobs_total"]).to eq(111)
    ensure
      registry&.send(:_disable_multiprocess)
    end
  end
end
