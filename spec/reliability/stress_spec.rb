# frozen_string_literal: true

# Writers through every API and a scraper at once: every scrape parses, counters never go
# backwards between scrapes, and the final totals are exact.
RSpec.describe "Stress" do # -- the whole gem under load
  let(:backend) { TaskerMetrics::MetricsBackend.instance }

  # Each writer does `rounds` rounds; each round adds exactly 1 to every counter it touches. At
  # each eighth of its rounds it waits for the scraper to finish one more scrape, so scrapes
  # interleave with writes however fast or slow the machine is.
  def writer(registry, id, rounds, &checkpoint)
    counter = registry.get(:stress_total)
    bound = counter.with_labels(writer: "bound#{id}")
    gauge = registry.get(:stress_gauge)
    histogram = registry.get(:stress_seconds)
    tasker = backend.counter("stress_tasker_total", writer: id.to_s)
    rounds.times do |i|
      counter.increment(labels: { writer: "w#{id}" })
      bound.increment
      gauge.set(i, labels: { writer: "w#{id}" })
      histogram.observe(i % 10 / 10.0, labels: { writer: "w#{id}" })
      tasker.increment
      TaskerMetrics.record("step.completed", status: "ok", handler_class: "W#{id}", duration: 0.01)
      Thread.pass if (i % 500).zero? # let the scraper interleave, as request threads would
      checkpoint&.call if rounds >= 8 && (i % (rounds / 8)).zero?
    end
  end

  def run(registry, writers:, rounds:)
    scrapes = 0
    stop = false
    last = {}
    scraper = Thread.new do
      until stop
        monotonic!(last, :mine, registry.export)
        monotonic!(last, :global, TaskerMetrics.registry.export)
        scrapes += 1
      end
    end
    one_more_scrape = lambda do
      target = scrapes + 1
      Thread.pass until scrapes >= target
    end
    Array.new(writers) { |id| Thread.new { writer(registry, id, rounds, &one_more_scrape) } }.each(&:join)
    stop = true
    scraper.join
    scrapes
  end

  # Parses a scrape (raising on a malformed line) and checks no counter went backwards.
  def monotonic!(last, source, text)
    Scrape.samples(text).each do |key, value|
      next unless key.include?("_total") || key.include?("_count")

      previous = last.fetch([source, key], 0)
      raise "#{key} went from #{previous} to #{value}" if value < previous

      last[[source, key]] = value
    end
  end

  def expect_exact(registry, writers:, rounds:)
    samples = Scrape.samples(registry.export)
    global = Scrape.samples(TaskerMetrics.registry.export)
    writers.times do |id|
      expect(samples[%(stress_total{writer="w#{id}"})]).to eq(rounds)
      expect(samples[%(stress_total{writer="bound#{id}"})]).to eq(rounds)
      expect(samples[%(stress_seconds_count{writer="w#{id}"})]).to eq(rounds)
      expect(global[%(stress_tasker_total{writer="#{id}"})]).to eq(rounds)
      expect(global[%(step_completed_total{handler="W#{id}",status="ok"})]).to eq(rounds)
    end
  end

  before do
    registry.counter(:stress_total, docstring: "s", labels: [:writer])
    registry.gauge(:stress_gauge, docstring: "s", labels: [:writer])
    registry.histogram(:stress_seconds, docstring: "s", labels: [:writer])
  end

  it "keeps every scrape valid and monotonic, and totals exact, with 4 writers and a scraper" do
    scrapes = run(registry, writers: 4, rounds: 20_000)
    expect(scrapes).to be >= 8
    expect_exact(registry, writers: 4, rounds: 20_000)
  end

  it "holds under GC.stress" do
    GC.stress = true
    run(registry, writers: 4, rounds: 5)
  ensure
    GC.stress = false
    expect_exact(registry, writers: 4, rounds: 5)
  end

  it "holds with a fork in the middle: the child writes to its own copy" do
    threads = Array.new(4) { |id| Thread.new { writer(registry, id, 5_000) } }
    sleep 0.01
    child_total = ForkHelper.in_child do
      registry.get(:stress_total).increment(by: 1_000_000, labels: { writer: "w0" })
      Scrape.samples(registry.export)[%(stress_total{writer="w0"})]
    end
    threads.each(&:join)
    expect(child_total).to be >= 1_000_000
    expect_exact(registry, writers: 4, rounds: 5_000)
    expect(Scrape.valid?(registry.export)).to be(true)
  end
end
