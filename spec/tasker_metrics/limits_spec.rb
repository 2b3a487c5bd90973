# frozen_string_literal: true

RSpec.describe "Series limits and expiry" do # rubocop:disable RSpec/DescribeClass -- a behaviour of every metric type
  it "drops new label sets past max_series, counts them per metric and warns once" do
    capped = registry.counter(:capped_total, docstring: "c", labels: [:k], max_series: 3)
    expect { 10.times { |i| capped.increment(labels: { k: i }) } }
      .to output(/metric "capped_total" reached its limit of 3 series/).to_stderr
    expect { capped.increment(labels: { k: "again" }) }.not_to output.to_stderr
    capped.increment(labels: { k: 0 })
    expect(capped.values.size).to eq(3)
    expect(capped.get(labels: { k: 0 })).to eq(2)
    expect(registry.export).to include('tasker_metrics_series_dropped_total{metric="capped_total"} 8')
  end

  it "raises CardinalityError when a handle is asked for past the limit" do
    capped = registry.gauge(:capped, docstring: "c", labels: [:k], max_series: 1)
    capped.with_labels(k: "a")
    expect { capped.with_labels(k: "b") }.to raise_error(TaskerMetrics::CardinalityError, /reached its limit of 1 series/)
  end

  it "keeps memory bounded: 200 000 distinct label sets into a capped metric keep 10 000 series" do
    capped = registry.counter(:flood_total, docstring: "f", labels: [:id])
    expect { 200_000.times { |i| capped.increment(labels: { id: i }) } }.to output(/flood_total/).to_stderr
    expect(capped.values.size).to eq(10_000)
    expect(registry.export).to include('tasker_metrics_series_dropped_total{metric="flood_total"} 190000')
  end

  it "takes a global default from the configuration" do
    TaskerMetrics.configure { |c| c.max_series = 2 }
    small = registry.counter(:small_total, docstring: "s", labels: [:k])
    expect { 3.times { |i| small.increment(labels: { k: i }) } }.to output.to_stderr
    expect(small.values.size).to eq(2)
  ensure
    TaskerMetrics.configure { |c| c.max_series = 10_000 }
  end

  it "refuses invalid limits" do
    expect { registry.counter(:x_total, docstring: "x", max_series: 0) }.to raise_error(ArgumentError, "max_series must be at least 1, got 0")
    expect { registry.counter(:x_total, docstring: "x", max_series: -1) }.to raise_error(ArgumentError, /max_series must be a positive Integer/)
    expect { registry.counter(:x_total, docstring: "x", max_series: "1") }.to raise_error(TypeError, /max_series must be an Integer/)
    expect { registry.gauge(:g, docstring: "g", expires_after: 0) }.to raise_error(ArgumentError, /expires_after must be a positive number/)
    expect { TaskerMetrics.configure { |c| c.max_series = 0 } }.to raise_error(ArgumentError, /max_series is invalid/)
  ensure
    TaskerMetrics.configuration.max_series = 10_000
  end

  it "expires series after a quiet period; a held handle keeps its series alive" do
    seen = registry.gauge(:last_seen, docstring: "s", labels: [:worker], expires_after: 0.2)
    seen.set(1, labels: { worker: "gone" })
    held = seen.with_labels(worker: "busy")
    TaskerMetrics::Testing.advance_clock(0.3)
    held.set(2)
    text = registry.export
    expect(text).to include('last_seen{worker="busy"} 2')
    expect(text).not_to include("gone")
    expect(seen.values.keys).to eq([{ worker: "busy" }])
  end

  it "brings an expired series back when a held handle (or a Tasker metric object) writes to it" do
    jobs = registry.counter(:jobs_total, docstring: "j", labels: [:queue], expires_after: 60)
    held = jobs.with_labels(queue: "rare")
    held.increment(by: 2)
    TaskerMetrics::Testing.advance_clock(61)
    expect(registry.export).not_to include("rare"), "expired after its quiet period"
    held.increment
    expect(registry.export).to include('jobs_total{queue="rare"} 3'), "the write brought it back, nothing lost"
    expect(jobs.values).to eq({ queue: "rare" } => 3)
  end

  it "moves the expiry clock only forward, refusing negative and non-numeric steps" do
    expect { TaskerMetrics::Testing.advance_clock(-1) }.to raise_error(ArgumentError, "seconds must not be negative, got -1")
    expect { TaskerMetrics::Testing.advance_clock("1") }.to raise_error(TypeError, /seconds/)
    gauge = registry.gauge(:kept, docstring: "k", labels: [:q], expires_after: 10)
    gauge.set(1, labels: { q: "a" })
    TaskerMetrics::Testing.advance_clock(9)
    expect(gauge.values.keys).to eq([{ q: "a" }]), "9 s of a 10 s quiet period"
    TaskerMetrics::Testing.advance_clock(2)
    registry.export
    expect(gauge.values).to be_empty
  end

  it "refuses label values over 16 KiB, naming the label" do
    c = registry.counter(:long_total, docstring: "l", labels: [:path])
    expect { c.increment(labels: { path: "x" * 16_385 }) }
      .to raise_error(ArgumentError, 'invalid value for label "path": 16385 bytes long, more than the 16384 allowed')
    c.increment(labels: { path: "x" * 16_384 })
    expect(c.values.size).to eq(1)
  end

  it "reserves the drop counter's name" do
    expect { registry.counter(:tasker_metrics_series_dropped_total, docstring: "x") }.to raise_error(ArgumentError, /reserved/)
  end
end
