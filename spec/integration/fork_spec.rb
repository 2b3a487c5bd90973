# frozen_string_literal: true

RSpec.describe "Forking" do
  let(:backend) { TaskerMetrics::MetricsBackend.instance }

  def in_child(&) = ForkHelper.in_child(&)

  it "gives the child its own instance_id and leaves the parent's metrics alone" do
    backend.counter("forked_total").increment(3)
    parent_id = backend.instance_id
    child = in_child do
      backend.counter("forked_total").increment(10)
      TaskerMetrics.record("task.completed")
      [backend.instance_id, Process.pid, backend.counter("forked_total").value]
    end
    child_id, child_pid, child_value = child
    expect(child_id).to eq("#{Socket.gethostname}-#{child_pid}")
    expect(child_id).not_to eq(parent_id)
    expect(child_value).to eq(13)
    expect(backend.instance_id).to eq(parent_id)
    expect(backend.counter("forked_total").value).to eq(3)
    expect(backend.all_metrics).not_to include("task_completed_total")
  end

  it "reseeds sampling in the child so it does not replay the parent's draws" do
    TaskerMetrics::EventRouter.instance.map("coin.completed", backends: [:metrics], sampling_rate: 0.5)
    draws = -> { Array.new(64) { TaskerMetrics.record("coin.completed") } }
    child = in_child { draws.call }
    expect(draws.call).not_to eq(child)
  end

  it "runs on_fork callbacks in the child" do
    ran = in_child { $tasker_metrics_fork_spec } # rubocop:disable Style/GlobalVars -- set by the hook below
    expect(ran).to be_nil
    TaskerMetrics.on_fork { $tasker_metrics_fork_spec = Process.pid } # rubocop:disable Style/GlobalVars
    child_pid, ran = in_child { [Process.pid, $tasker_metrics_fork_spec] } # rubocop:disable Style/GlobalVars
    expect(ran).to eq(child_pid)
  end

  describe "while another thread scrapes" do
    it "never leaves the child waiting on a lock the scraping thread held" do
      registry = TaskerMetrics::Registry.new
      jobs = registry.counter(:jobs_total, docstring: "Jobs", labels: %i[k])
      8_000.times { |i| jobs.increment(labels: { k: i.to_s }) }
      scraping = true
      scraper = Thread.new { registry.export while scraping }
      # Without the fork gate about one child in eight hung here, forever.
      statuses = Array.new(100) do |i|
        pid = fork do
          jobs.increment(labels: { k: "child-#{i}" }) # creates a series: needs the family's locks
          exit!(registry.export.include?(%(k="child-#{i}")) ? 0 : 1)
        end
        deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 10
        until (status = Process.wait2(pid, Process::WNOHANG)&.last)
          if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
            Process.kill("KILL", pid)
            Process.wait(pid)
            break
          end
          sleep 0.01
        end
        status
      end
      scraping = false
      scraper.join
      expect(statuses).to all(be_a(Process::Status).and(be_success))
    end

    # The exclusive directory lock a compaction would hold, taken as an open-file-description
    # lock (F_OFD_SETLK = 37; struct flock: type, whence, start, len, pid).
    def hold_directory_lock(dir)
      file = File.open(File.join(dir, ".compact.lock"), File::RDWR | File::CREAT, 0o600)
      file.fcntl(37, [Fcntl::F_WRLCK, IO::SEEK_SET, 0, 0, 0].pack("s!s!q!q!i!x4"))
      file
    end

    it "lets other Ruby threads run while a fork waits for a scrape to finish" do
      require "fcntl"
      require "tmpdir"
      dir = Dir.mktmpdir("tasker-metrics-gate")
      registry = TaskerMetrics::Registry.new.enable_multiprocess(dir)
      lock = hold_directory_lock(dir)
      scraper = Thread.new { registry.export } # waits for the lock without the GVL, holding the gate
      Thread.pass until scraper.status == "sleep" || !scraper.alive?
      forker = Thread.new { Process.wait2(fork { exit!(0) }).last }
      # Only runs while the fork waits if that wait released the GVL; bounded so a regression
      # fails instead of hanging.
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + 15
      seen = false
      until seen || Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
        seen = TaskerMetrics._fork_gate_waiters.positive?
        Thread.pass
      end
      lock.close # the "compaction" ends: the scrape, then the fork, go on
      expect(seen).to be(true), "the main thread never ran while the fork waited at the gate"
      expect(forker.value).to be_success
      expect(scraper.value).to include("tasker_metrics_multiprocess_files")
    ensure
      lock&.close unless lock&.closed?
      registry&.disable_multiprocess
      FileUtils.rm_rf(dir) if dir
    end
  end
end
