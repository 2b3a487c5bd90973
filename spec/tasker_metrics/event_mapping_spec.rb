# frozen_string_literal: true

RSpec.describe TaskerMetrics::EventMapping do
  subject(:mapping) { described_class.new(event_name: "task.completed") }

  it "has Tasker's defaults and is frozen, backends included" do
    expect(mapping.to_h).to eq(event_name: "task.completed", backends: [:trace], enabled: true, sampling_rate: 1.0,
                               priority: :normal, metadata: {},)
    expect(mapping).to be_frozen
    expect { mapping.backends << :metrics }.to raise_error(FrozenError)
    expect { mapping.metadata[:x] = 1 }.to raise_error(FrozenError)
  end

  it "accepts String keys, Symbol names and every field" do
    m = described_class.new("event_name" => :"step.failed", "backends" => %w[metrics logs], "enabled" => false,
                            "sampling_rate" => 0.25, "priority" => "critical", "metadata" => { owner: "ops", tags: [1, "a"] },)
    expect(m.to_h).to eq(event_name: "step.failed", backends: %i[metrics logs], enabled: false, sampling_rate: 0.25,
                         priority: :critical, metadata: { owner: "ops", tags: [1, "a"] },)
    expect(m.metadata).to be_frozen
    expect(m.metadata[:tags]).to be_frozen
  end

  {
    { event_name: nil } => "event_name must be a non-empty String or Symbol, got: nil",
    { event_name: "" } => 'event_name must be a non-empty String or Symbol, got: ""',
    { event_name: 42 } => "event_name must be a non-empty String or Symbol, got: 42",
    { backends: [] } => "backends must be a non-empty Array of :trace, :metrics, :logs, got: []",
    { backends: [:email] } => "Invalid backend: :email. Valid backends: :trace, :metrics, :logs",
    { backends: [1] } => "backends must be a non-empty Array of :trace, :metrics, :logs, got: [1]",
    { sampling_rate: 1.5 } => "sampling_rate must be a Numeric between 0.0 and 1.0, got: 1.5",
    { sampling_rate: -0.1 } => "sampling_rate must be a Numeric between 0.0 and 1.0, got: -0.1",
    { sampling_rate: "0.5" } => 'sampling_rate must be a Numeric between 0.0 and 1.0, got: "0.5"',
    { priority: :urgent } => "priority must be one of :low, :normal, :high, :critical, got: :urgent",
    { priority: 1 } => "priority must be one of :low, :normal, :high, :critical, got: 1",
    { metadata: "x" } => 'metadata must be a Hash, got: "x"',
    { metadata: { callback: -> {} } } => "metadata may hold nil, true, false, numbers, Strings, Symbols, Arrays and Hashes, got: Proc",
    { colour: :red } => "unknown attribute: :colour",
  }.each do |bad, message|
    it "refuses #{bad.inspect}" do
      expect { described_class.new(event_name: "x", **bad) }.to raise_error(ArgumentError, message)
    end
  end

  it "requires event_name" do
    expect { described_class.new(backends: [:trace]) }.to raise_error(ArgumentError, "missing keyword: :event_name")
  end

  it "answers which backends it routes to" do
    m = described_class.new(event_name: "x", backends: %i[trace logs])
    expect([m.routes_to_traces?, m.routes_to_metrics?, m.routes_to_logs?]).to eq([true, false, true])
  end

  it "samples: always at 1.0, never at 0.0, by draw in between" do
    expect(Array.new(100) { mapping.should_sample? }).to all(be(true))
    never = described_class.new(event_name: "x", sampling_rate: 0.0)
    expect(Array.new(100) { never.should_sample? }).to all(be(false))
    half = described_class.new(event_name: "x", sampling_rate: 0.5)
    expect(Array.new(10_000) { half.should_sample? }.count(true)).to be_within(400).of(5000)
  end

  it "is active when enabled and sampled" do
    expect(mapping.active?).to be(true)
    expect(described_class.new(event_name: "x", enabled: false).active?).to be(false)
    expect(described_class.new(event_name: "x", sampling_rate: 0).active?).to be(false)
  end

  it "describes itself" do
    m = described_class.new(event_name: "task.completed", backends: %i[trace metrics], sampling_rate: 0.75)
    expect(m.description).to eq("task.completed → trace, metrics (75.0% sampled)")
    expect(described_class.new(event_name: "a", sampling_rate: 0.001).description).to eq("a → trace (0.1% sampled)")
  end

  it "compares by value" do
    expect(described_class.new(event_name: "a")).to eq(described_class.new("event_name" => "a"))
    expect(described_class.new(event_name: "a")).not_to eq(described_class.new(event_name: "b"))
  end

  describe "as a dry-struct (Tasker's base class) answers" do
    subject(:struct) { described_class.new(event_name: "task.completed", backends: %i[trace metrics], sampling_rate: 0.5) }

    it "reads a field with [] by Symbol or String, and refuses other names" do
      expect(struct[:backends]).to eq(%i[trace metrics])
      expect(struct["sampling_rate"]).to eq(0.5)
      expect { struct[:colour] }.to raise_error(ArgumentError, "unknown attribute: :colour")
    end

    it "has attributes and to_hash, the same Hash as to_h" do
      expect(struct.attributes).to eq(struct.to_h)
      expect(struct.to_hash).to eq(struct.to_h)
      splat = ->(**fields) { fields }
      expect(splat.call(**struct)).to eq(struct.to_h)
    end

    it "builds through call and [] as a dry-struct class does" do
      expect(described_class.call(event_name: "a")).to eq(described_class.new(event_name: "a"))
      expect(described_class[{ "event_name" => "a", "backends" => [:logs] }].backends).to eq([:logs])
    end

    it "makes a validated copy with new(changes), leaving itself as it was" do
      copy = struct.new(sampling_rate: 0.25, "priority" => :high)
      expect(copy.to_h).to include(event_name: "task.completed", sampling_rate: 0.25, priority: :high)
      expect(struct.sampling_rate).to eq(0.5)
      expect { struct.new(sampling_rate: 2) }.to raise_error(ArgumentError, /sampling_rate must be a Numeric between 0.0 and 1.0/)
    end
  end
end
