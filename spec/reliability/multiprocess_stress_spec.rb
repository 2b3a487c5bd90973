# frozen_string_literal: true

require "tmpdir"

# Several processes scrape one multi-process directory continuously (each compacting the files
# of exited workers it finds) while short-lived workers start, count and exit. Before scrapes and
# compaction shared a lock, scrapers saw counters fall (84–92 times in 40 s): a dead worker's file
# read both as itself and inside an archive written meanwhile.
RSpec.describe "Multi-process stress" do # rubocop:disable RSpec/DescribeClass -- the shared directory under churn
  let(:dir) { Dir.mktmpdir("tasker-metrics-mp-stress") }
  let(:signals) { Dir.mktmpdir("tasker-metrics-mp-signals") }
  let(:jobs) { registry.counter(:jobs_total, docstring: "Jobs", labels: %i[queue]) }

  after do
    registry.disable_multiprocess
    FileUtils.rm_rf([dir, signals])
  end

  def total(text) = Scrape.samples(text)['jobs_total{queue="q"}'].to_i

  # Scrapes until told to stop; returns [scrapes, decreases, highest, last] through a pipe.
  def scraper(stop)
    reader, writer = IO.pipe
    pid = fork do
      reader.close
      scrapes = decreases = highest = last = 0
      loop do
        done = File.exist?(stop)
        value = total(registry.export)
        decreases += 1 if value < last
        highest = [highest, value].max
        last = value
        scrapes += 1
        break if done
      end
      writer.puts [scrapes, decreases, highest, last].join(" ")
      exit!(0)
    end
    writer.close
    [pid, reader]
  end

  # `count` workers, two at a time, each counting `per_worker` and exiting.
  def short_lived_workers(count, per_worker)
    count.times.each_slice(2) do |pair|
      pids = pair.map do
        fork do
          per_worker.times { jobs.increment(labels: { queue: "q" }) }
          exit!(0)
        end
      end
      pids.each { |pid| Process.wait(pid) }
    end
  end

  it "never shows a counter decrease or a count above the truth, and ends exact, with 3 scrapers and 240 short-lived workers" do
    jobs # registered before the forks
    registry.enable_multiprocess(dir)
    stop = File.join(signals, "stop")
    scrapers = Array.new(3) { scraper(stop) }
    workers = 240
    per_worker = 50
    short_lived_workers(workers, per_worker)
    File.write(stop, "")
    results = scrapers.map do |pid, reader|
      line = reader.read
      Process.wait(pid)
      line.split.map(&:to_i)
    end
    truth = workers * per_worker
    results.each do |scrapes, decreases, highest, last|
      expect([decreases, highest <= truth, last]).to eq([0, true, truth]), "scrapes=#{scrapes} decreases=#{decreases} highest=#{highest} last=#{last}"
    end
    expect(total(registry.export)).to eq(truth)
    expect(Dir.children(dir).grep(/\Aproc-/).size).to be <= 4, "exited workers' files were compacted"
  end
end
