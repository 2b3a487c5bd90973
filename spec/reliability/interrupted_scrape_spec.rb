# frozen_string_literal: true

require "timeout"

# A scrape renders without the GVL; an interrupt (Timeout, Thread#raise, Rack::Timeout) that
# arrives meanwhile must come back as an ordinary exception after the Rust side dropped the
# body it was building. Before, it longjmp'd over the Rust frames and each such scrape leaked
# its whole body (3,000 scrapes of 20,000 series grew RSS by 322-351 MiB).
RSpec.describe "A scrape interrupted during GVL-free rendering" do # rubocop:disable RSpec/DescribeClass -- the native render, through Registry#export
  let(:registry) do
    TaskerMetrics::Registry.new.tap do |r|
      c = r.counter(:interrupted_total, docstring: "i", labels: [:k], max_series: 30_000)
      20_000.times { |i| c.increment(labels: { k: "value-number-#{i}" }) }
    end
  end

  # Scrapes under a Timeout too short for them; returns how many were interrupted.
  def interrupted_scrapes(count)
    count.times.count do
      Timeout.timeout(0.0008) { registry.export }
      false
    rescue Timeout::Error
      true
    end
  end

  # Each leaked body would be ~1.1 MiB. The first rounds let the allocator reach its working
  # size (freed 1 MiB bodies fragment its heap for a while); after that a leak keeps growing
  # with every interrupt, while a correct build stays where it is.
  it "raises the interrupt and keeps memory flat over thousands of interrupted scrapes" do
    2.times { interrupted_scrapes(1_500) }
    GC.start
    before = Scrape.rss_kb
    interrupted = interrupted_scrapes(3_000)
    GC.start
    grown_mib = (Scrape.rss_kb - before) / 1024.0
    expect(interrupted).to be > 200, "only #{interrupted} of 3000 scrapes were interrupted: the test proves nothing"
    expect(grown_mib).to be < [48, interrupted * 0.1].max, "RSS grew #{grown_mib.round(1)} MiB over #{interrupted} interrupted scrapes"
    expect(registry.export.lines.size).to eq(20_002), "the registry still renders whole"
  end
end
