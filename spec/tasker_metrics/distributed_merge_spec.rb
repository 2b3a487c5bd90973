# frozen_string_literal: true

RSpec.describe TaskerMetrics::DistributedMerge do
  let(:early) { Time.at(100) }
  let(:late) { Time.at(200) }

  def counter(value, created_at) = { name: "jobs_total", type: :counter, value: value, labels: { "q" => "a" }, created_at: created_at }

  def histogram(count, sum, buckets)
    { name: "lat", type: :histogram, labels: {}, count: count, sum: sum, buckets: buckets, average: 0.0, created_at: late }
  end

  it "sums counters per key and keeps the earliest created_at" do
    merged = described_class.merge("b" => { 'jobs_total{q="a"}' => counter(2, late) }, "a" => { 'jobs_total{q="a"}' => counter(3, early) })
    expect(merged).to eq('jobs_total{q="a"}' => counter(5, early))
  end

  it "sums histogram counts, sums and buckets (a boundary only one side has included) and recomputes the average" do
    merged = described_class.merge("a" => { "lat" => histogram(2, 1.0, { 0.5 => 1, Float::INFINITY => 2 }) },
                                   "b" => { "lat" => histogram(2, 3.0, { 0.5 => 0, 1.0 => 1, Float::INFINITY => 2 }) },)
    expect(merged["lat"]).to include(count: 4, sum: 4.0, average: 1.0, buckets: { 0.5 => 1, 1.0 => 1, Float::INFINITY => 4 })
  end

  it "keeps gauges per instance with an instance_id label of the labels' key type, String when unlabelled" do
    gauge = ->(labels, value) { { name: "depth", type: :gauge, value: value, labels: labels } }
    merged = described_class.merge("a" => { "depth" => gauge.call({}, 1.0), 'depth{q="x"}' => gauge.call({ q: "x" }, 2.0) },
                                   "b" => { "depth" => gauge.call({}, 3.0) },)
    expect(merged.keys).to contain_exactly('depth{instance_id="a"}', 'depth{instance_id="b"}', 'depth{instance_id="a",q="x"}')
    expect(merged['depth{instance_id="a"}'][:labels]).to eq("instance_id" => "a")
    expect(merged['depth{instance_id="a",q="x"}'][:labels]).to eq(q: "x", instance_id: "a")
    expect(merged['depth{instance_id="b"}'][:value]).to eq(3.0)
  end
end
