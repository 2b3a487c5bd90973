# frozen_string_literal: true

# Bounded memory, measured as this process's resident set size.
RSpec.describe "Memory" do # -- process-level behaviour
  it "stays bounded: 1 000 000 increments over 200 000 label sets with the cap at 10 000" do
    counter = registry.counter(:flood_total, docstring: "f", labels: [:id])
    1_000.times { |i| counter.increment(labels: { id: i }) }
    GC.start
    before = Scrape.rss_kb
    expect { 1_000_000.times { |i| counter.increment(labels: { id: i % 200_000 }) } }.to output.to_stderr
    GC.start
    expect(counter.values.size).to eq(10_000)
    expect(Scrape.rss_kb - before).to be < 64 * 1024
  end

  it "returns to a plateau when 100 000 series are created and removed in a loop" do
    gauge = registry.gauge(:churn, docstring: "c", labels: [:id], max_series: 100_000)
    plateau = nil
    5.times do |round|
      20_000.times { |i| gauge.set(i, labels: { id: "#{round}-#{i}" }) }
      expect(gauge.clear).to eq(20_000)
      GC.start
      plateau = Scrape.rss_kb if round == 1
    end
    expect(Scrape.rss_kb - plateau).to be < 16 * 1024
  end
end
