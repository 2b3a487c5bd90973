# frozen_string_literal: true

require "pathname"
require "tmpdir"

RSpec.describe TaskerMetrics::Registry, "#enable_multiprocess" do
  let(:dir) { Dir.mktmpdir("tasker-metrics-mp") }
  let(:jobs) { registry.counter(:jobs_total, docstring: "Jobs", labels: %i[queue]) }

  after do
    registry.disable_multiprocess
    FileUtils.rm_rf(dir)
  end

  def value(name, **labels)
    key = labels.empty? ? name : "#{name}{#{labels.map { |k, v| %(#{k}="#{v}") }.join(",")}}"
    samples = Scrape.samples(registry.export)
    samples[key]&.then { |v| v == v.to_i ? v.to_i : v }
  end

  def children(count)
    pids = Array.new(count) do |i|
      fork do
        yield(i)
        exit!(0)
      end
    end
    expect(pids.map { |pid| Process.wait2(pid).last }).to all(be_success)
  end

  def files = Dir.children(dir).sort

  def kill(pid)
    Process.kill("KILL", pid)
    Process.wait(pid)
  end

  it "moves existing values into the shared directory and merges forked workers exactly" do
    jobs.increment(by: 5, labels: { queue: "default" })
    held = jobs.with_labels(queue: "held")
    expect(registry.enable_multiprocess(Pathname(dir))).to be(registry)
    expect(registry.multiprocess_dir).to eq(File.realpath(dir))
    children(4) do
      threads = Array.new(2) do
        Thread.new do
          1_000.times do
            jobs.increment(labels: { queue: "default" })
            held.increment
          end
        end
      end
      threads.each(&:join)
    end
    expect(value("jobs_total", queue: "default")).to eq(5 + (4 * 2_000))
    expect(value("jobs_total", queue: "held")).to eq(4 * 2_000)
    expect(jobs.get(labels: { queue: "default" })).to eq(5), "get reads this process's own share"
    expect(files.grep(/\Aproc-/).size).to eq(1)
    expect(files).to include("archive.tmm")
    expect(files.map { |f| File.stat(File.join(dir, f)).mode & 0o777 }.uniq).to eq([0o600])
    expect(value("tasker_metrics_multiprocess_files", state: "live")).to eq(1)
    expect(value("tasker_metrics_multiprocess_files", state: "archive")).to eq(1)
  end

  # A child that sets every gauge to 10 as worker "puma_7" and waits to be killed.
  def gauge_worker(gauges)
    reader, writer = IO.pipe
    pid = fork do
      reader.close
      TaskerMetrics.worker_id = "puma_7"
      gauges.each_value { |g| g.set(10) }
      writer.puts "set"
      sleep
    end
    writer.close
    expect(reader.gets).to eq("set\n")
    pid
  end

  it "combines gauges by their aggregation, names processes by worker_id, and drops an exited process's own series" do
    registry.enable_multiprocess(dir)
    gauges = %i[all liveall sum livesum max min mostrecent].to_h { |m| [m, registry.gauge(:"g_#{m}", docstring: "g", aggregation: m)] }
    gauges.each_value { |g| g.set(1) }
    pid = gauge_worker(gauges)
    expect(%w[g_sum g_livesum g_max g_min g_mostrecent].map { value(_1) }).to eq([11, 11, 10, 1, 10])
    expect(value("g_all", pid: "puma_7")).to eq(10)
    expect(value("g_all", pid: Process.pid.to_s)).to eq(1)
    kill(pid)
    expect(value("g_sum")).to eq(11), "a dead process's last value still counts"
    expect(value("g_livesum")).to eq(1)
    expect(value("g_liveall", pid: "puma_7")).to be_nil
    expect(value("g_all", pid: "puma_7")).to be_nil, "an exited process's :all series leave once its file is compacted"
    expect(value("g_max")).to eq(10), "merging modes keep its value"
  end

  it "keeps the total exact over 200 short-lived processes and keeps the directory small" do
    registry.enable_multiprocess(dir)
    jobs
    10.times do |batch|
      children(20) { jobs.increment(labels: { queue: "churn" }) }
      expect(value("jobs_total", queue: "churn")).to eq((batch + 1) * 20)
      expect(files.size).to be <= 4, files.inspect # the lock, the compaction reserve, the archive, our own file
    end
  end

  it "exports a name unregistered and registered again as another type, without a warning" do
    registry.enable_multiprocess(dir)
    jobs.increment(by: 5, labels: { queue: "q" })
    expect(value("jobs_total", queue: "q")).to eq(5)
    registry.unregister(:jobs_total)
    registry.gauge(:jobs_total, docstring: "now a gauge", aggregation: :max).set(3)
    expect { expect(value("jobs_total")).to eq(3) }.not_to output.to_stderr
    children(1) { registry.get(:jobs_total).set(7) }
    expect(value("jobs_total")).to eq(7), "a worker's value merges into the new definition"
  end

  # Runs the block in a child whose stderr is captured; returns its status and what it printed,
  # ending with this process's total of `jobs` as the child saw it.
  def child_report
    reader, writer = IO.pipe
    pid = fork do
      reader.close
      $stderr.reopen(writer)
      yield
      2.times { registry.export }
      writer.puts "total=#{jobs.values.values.sum}"
      exit!(0)
    end
    writer.close
    status = Process.wait2(pid).last
    [status, reader.read]
  end

  def expect_left_multiprocess_counting(status, report, total)
    expect(status).to be_success, "the child ended with #{status.inspect}"
    expect(report.scan("multi-process mode is off for this process").size).to eq(1), report
    expect(report).to include("total=#{total}"), "every increment counted in memory"
  end

  it "leaves multi-process mode with one warning, without raising or SIGXFSZ, when the file hits ulimit -f" do
    registry.enable_multiprocess(dir)
    jobs.increment(by: 3, labels: { queue: "before" })
    status, report = child_report do
      Process.setrlimit(:FSIZE, 256 * 1024) # the child's file starts at 64 KiB
      400.times { |i| jobs.increment(labels: { queue: "q#{i}-#{"x" * 1_000}" }) } # ~400 KiB of records
      jobs.increment(by: 2, labels: { queue: "before" })
    end
    expect_left_multiprocess_counting(status, report, 402)
    expect(report).to include("ulimit -f")
    expect(value("jobs_total", queue: "before")).to eq(5), "what the child wrote to its file before it left stays in the totals"
  end

  # Yields the path of a fresh tmpfs of `size` (a small disk that fills up), unmounted after.
  def with_small_disk(size)
    skip "mounting a small tmpfs needs root" unless Process.uid.zero?
    tiny = Dir.mktmpdir("tasker-metrics-tiny")
    skip "cannot mount a tmpfs here" unless system("mount", "-t", "tmpfs", "-o", "size=#{size}", "tmpfs", tiny, err: File::NULL)
    yield tiny
  ensure
    system("umount", "-l", tiny) if tiny
    FileUtils.rm_rf(tiny) if tiny
  end

  def fill_disk(path)
    File.open(path, "wb") { |f| loop { f.write("\0" * 4096) } }
  rescue Errno::ENOSPC
    nil
  end

  it "leaves multi-process mode with one warning, without raising, on a full disk" do
    with_small_disk("192k") do |tiny|
      status, report = child_report do
        registry.enable_multiprocess(tiny) # a 64 KiB file on a 192 KiB disk
        300.times { |i| jobs.increment(labels: { queue: "q#{i}-#{"x" * 1_000}" }) }
      end
      expect_left_multiprocess_counting(status, report, 300)
      expect(report).to match(/No space left on device|os error 28/)
    end
  end

  it "compacts exited workers' files on a full disk, freeing their space, with totals exact" do
    with_small_disk("512k") do |disk|
      tiny = File.join(disk, "metrics")
      registry.enable_multiprocess(tiny) # sets the compaction reserve aside while there is room
      jobs.increment(by: 2, labels: { queue: "parent" })
      children(3) { |i| 10.times { |k| jobs.increment(by: i + 1, labels: { queue: "w#{k}-#{"x" * 1_000}" }) } }
      fill_disk(File.join(disk, "filler"))
      expect(Dir.children(tiny).grep(/\Aproc-/).size).to eq(4)

      expect { registry.export }.not_to output.to_stderr
      expect(Dir.children(tiny).grep(/\Aproc-/).size).to eq(1), "the three exited workers' files were absorbed and deleted"
      expect(File).to exist(File.join(tiny, "archive.tmm"))
      expect((0...10).map { |k| value("jobs_total", queue: "w#{k}-#{"x" * 1_000}") }).to all(eq(1 + 2 + 3))
      expect(value("jobs_total", queue: "parent")).to eq(2)
      File.delete(File.join(disk, "filler"))
      children(1) { jobs.increment(labels: { queue: "parent" }) }
      registry.export
      expect(File.size(File.join(tiny, ".compact.reserve"))).to be >= 64 * 1024, "the reserve is set aside again once there is room"
    end
  end

  it "absorbs fewer files at a time on a full disk when the new series outgrow the reserve, never losing a count" do
    with_small_disk("512k") do |disk|
      tiny = File.join(disk, "metrics")
      registry.enable_multiprocess(tiny)
      series = ->(i, k) { { queue: "w#{i}-#{k}-#{"x" * 1_000}" } } # ~30 KiB of new series per worker
      children(3) { |i| 30.times { |k| jobs.increment(by: i + 1, labels: series.call(i, k)) } }
      fill_disk(File.join(disk, "filler"))
      totals = []
      until Dir.children(tiny).grep(/\Aproc-/).size == 1 || totals.size == 6
        exposition = nil
        expect { exposition = registry.export }.not_to output.to_stderr
        totals << Scrape.samples(exposition).select { |k, _| k.start_with?("jobs_total{") }.values.sum
      end
      expect(Dir.children(tiny).grep(/\Aproc-/).size).to eq(1), "every exited worker's file absorbed within #{totals.size} scrapes"
      expect(totals).to all(eq(30 * (1 + 2 + 3))), "no count lost or doubled at any scrape"
      expect(totals.size).to be > 1, "more new series than the reserve holds, so not all in one compaction"
    end
  end

  it "warns once about a foreign or damaged file, counts it, and never deletes it" do
    registry.enable_multiprocess(dir)
    jobs.increment(labels: { queue: "a" })
    File.write(File.join(dir, "proc-1-00000000000000ff.tmm"), "garbage" * 100)
    File.write(File.join(dir, "notes.txt"), "hello")
    expect { registry.export }.to output(/skipped multi-process file .*notes\.txt: not a tasker_metrics file/).to_stderr
    expect { registry.export }.not_to output.to_stderr
    expect(value("tasker_metrics_multiprocess_files", state: "skipped")).to eq(2)
    expect(value("jobs_total", queue: "a")).to eq(1)
    expect(File).to exist(File.join(dir, "notes.txt"))
  end

  it "refuses bad settings, naming them" do
    expect { registry.enable_multiprocess(nil) }.to raise_error(TypeError, /multiprocess_dir must be a String or Symbol, got NilClass \(nil\)/)
    file = File.join(dir, "plain")
    File.write(file, "")
    expect { registry.enable_multiprocess(file) }.to raise_error(ArgumentError, /plain is not a directory/)
    expect { registry.enable_multiprocess("#{file}/sub") }.to raise_error(TaskerMetrics::StoreError, %r{cannot create multiprocess_dir .*plain/sub})
    registry.enable_multiprocess(dir)
    expect { described_class.new.enable_multiprocess(dir) }.to raise_error(ArgumentError, /already used by another registry/)
    expect { registry.gauge(:g, docstring: "g", aggregation: :avg) }.to raise_error(ArgumentError, /aggregation must be one of :all, .*got :avg/)
    expect { registry.counter(:c, docstring: "c", aggregation: :max) }.to raise_error(ArgumentError, /unknown keyword: :aggregation/)
    expect { TaskerMetrics.worker_id = nil }.to raise_error(TypeError, /worker_id/)
    expect { TaskerMetrics.worker_id = "" }.to raise_error(ArgumentError, /worker_id/)
    expect { TaskerMetrics.configure { |c| c.multiprocess_dir = 42 } }.to raise_error(ArgumentError, /multiprocess_dir is invalid: 42/)
    expect(TaskerMetrics.configuration.multiprocess_dir).to be_nil, "a refused configure changes nothing"
  end

  describe "TASKER_METRICS_MULTIPROC_DIR" do
    let(:script) do
      <<~RUBY
        $0 = ARGV.first # the program name a server process has
        require "tasker_metrics"
        c = TaskerMetrics.registry.counter(:boot_total, docstring: "b")
        3.times { fork { c.increment; exit!(0) } }
        Process.waitall
        print TaskerMetrics.registry.multiprocess_dir.inspect, "|", TaskerMetrics.registry.export[/^boot_total .*/]
      RUBY
    end

    def run(program, env = {})
      IO.popen({ "TASKER_METRICS_MULTIPROC_DIR" => dir }.merge(env),
               [RbConfig.ruby, "-I", File.expand_path("../../lib", __dir__), "-e", script, program], &:read)
    end

    it "switches a server process's default registry on (puma, unicorn, ...)" do
      expect(run("/usr/bin/puma")).to eq("#{File.realpath(dir).inspect}|boot_total 3")
      expect(run("unicorn master -c config/unicorn.rb")).to start_with(File.realpath(dir).inspect)
    end

    it "leaves other processes (a console, a rake task) out of the server's directory" do
      expect(run("bin/rails")).to eq("nil|boot_total 0")
      expect(Dir.children(dir)).to be_empty
    end

    it "does not load net/http or the Rack classes for a process that only records" do
      probe = 'require "tasker_metrics"; print $LOADED_FEATURES.grep(%r{/net/http\\.rb|/rack/|tasker_metrics/push}).inspect'
      out = IO.popen([RbConfig.ruby, "-I", File.expand_path("../../lib", __dir__), "-e", probe], err: %i[child out], &:read)
      expect(out).to eq("[]")
    end

    it "takes them in with TASKER_METRICS_MULTIPROC_SCOPE=all" do
      expect(run("bin/rake", "TASKER_METRICS_MULTIPROC_SCOPE" => "all")).to eq("#{File.realpath(dir).inspect}|boot_total 3")
    end
  end
end
