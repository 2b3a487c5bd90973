# frozen_string_literal: true

RSpec.describe TaskerMetrics::Registry, "#histogram" do
  # Bucket i at schema s holds (2^((i-1)/2^s), 2^(i/2^s)]: the index by the Prometheus docs' formula.
  def index(value, schema) = (Math.log2(value.abs) * (2**schema)).ceil

  it "adds native buckets beside the classic ones with native: true (schema 3, zero bucket 2^-128)" do
    h = registry.histogram(:d_seconds, docstring: "D", labels: %i[op], buckets: [1], native: true)
    values = [0.0013, 0.2, 0.21, 0.9, 1.0, 1.04, 7.5, 0.0, 1e-40, -2.0, -1.99]
    values.each { |v| h.observe(v, labels: { op: "a" }) }
    value = h.get(labels: { op: "a" })
    expect(value).to include(schema: 3, zero_threshold: 2.0**-128, zero_count: 2, count: 11)
    expect(value[:buckets]).to eq(1.0 => 9, Float::INFINITY => 11)
    expected = values.select { |v| v.abs > 2.0**-128 }.group_by { |v| [v.positive?, index(v, 3)] }.transform_values(&:size)
    expect(value[:positive]).to eq(expected.select { |(pos, _), _| pos }.transform_keys(&:last))
    expect(value[:negative]).to eq({ index(2.0, 3) => 2 })
    expect(value[:positive].values.sum + value[:negative].values.sum + value[:zero_count]).to eq(value[:count])
  end

  it "keeps native buckets only with buckets: [] (the text formats show +Inf, sum and count)" do
    h = registry.histogram(:only_seconds, docstring: "O", buckets: [], native: { factor: 1.5 })
    h.observe(3)
    expect(h.buckets).to eq([])
    expect(h.get).to include(buckets: { Float::INFINITY => 1 }, schema: 1, positive: { index(3, 1) => 1 })
    expect(registry.export).to include("only_seconds_bucket{le=\"+Inf\"} 1\nonly_seconds_sum 3\nonly_seconds_count 1\n")
  end

  it "halves its resolution when the observed range outgrows max_buckets, counting every observation" do
    h = registry.histogram(:wide_seconds, docstring: "W", native: { max_buckets: 16, min_reset_interval: 0 })
    values = (0..40).map { |k| 2.0**(k / 4.0) } # 1 … 1024: 80 buckets at schema 3, 10 at schema 0
    values.each { |v| h.observe(v) }
    value = h.get
    expect(value[:schema]).to eq(0)
    expect(value[:positive]).to eq(values.group_by { |v| index(v, 0) }.transform_values(&:size))
  end

  it "takes each setting by name, defaulting the others" do
    h = registry.histogram(:s_seconds, docstring: "S", native: { zero_threshold: 0.01, factor: 1.01 })
    h.observe(0.005)
    h.observe(0.02)
    # 2^(2^-7) ≈ 1.0054 is the widest growth not above 1.01 (2^(2^-6) ≈ 1.0109).
    expect(h.get).to include(schema: 7, zero_threshold: 0.01, zero_count: 1, positive: { index(0.02, 7) => 1 })
  end

  {
    { factor: 1 } => [ArgumentError, "native factor must be a finite number greater than 1, got 1"],
    { factor: Float::INFINITY } => [ArgumentError, /native factor must be a finite number greater than 1/],
    { max_buckets: 4 } => [ArgumentError, "native max_buckets must be between 8 and 4096, got 4"],
    { max_buckets: -1 } => [ArgumentError, /native max_buckets/],
    { zero_threshold: -1 } => [ArgumentError, "native zero_threshold must be a finite number ≥ 0, got -1"],
    { min_reset_interval: Float::NAN } => [ArgumentError, /native min_reset_interval must be a finite number of seconds/],
    { factor: "2" } => [TypeError, /native factor must be a Numeric, got String/],
    { schema: 3 } => [ArgumentError, /unknown native setting :schema \(known: :factor, :max_buckets, :zero_threshold, :min_reset_interval\)/],
  }.each do |settings, (error, message)|
    it "refuses native: #{settings.inspect}, registering nothing" do
      expect { registry.histogram(:bad_seconds, docstring: "B", native: settings) }.to raise_error(error, message)
      expect(registry.exist?(:bad_seconds)).to be(false)
    end
  end

  it "refuses native: values other than true, false or a Hash, and buckets: [] without native" do
    expect { registry.histogram(:bad, docstring: "B", native: 3) }
      .to raise_error(TypeError, "native must be true, false or a Hash of settings, got Integer (3)")
    expect { registry.histogram(:bad, docstring: "B", buckets: [], native: false) }.to raise_error(ArgumentError, /must not be empty/)
    expect(registry.exist?(:bad)).to be(false)
  end

  it "refuses NaN and infinities as today, changing nothing" do
    h = registry.histogram(:n_seconds, docstring: "N", native: true)
    h.observe(1)
    [Float::NAN, Float::INFINITY, -Float::INFINITY].each { |v| expect { h.observe(v) }.to raise_error(ArgumentError, /must be a finite number/) }
    expect(h.get).to include(count: 1, zero_count: 0, positive: { 0 => 1 }, negative: {})
  end

  it "is another definition when registered again with other native settings" do
    registry.histogram(:r_seconds, docstring: "R", native: true)
    expect(registry.histogram(:r_seconds, docstring: "R", native: true)).to be_a(TaskerMetrics::Histogram)
    expect { registry.histogram(:r_seconds, docstring: "R", native: { factor: 2 }) }.to raise_error(ArgumentError, /already registered/)
    expect { registry.histogram(:r_seconds, docstring: "R") }.to raise_error(ArgumentError, /already registered/)
  end

  it "loses no observation to resizes under 4 threads spreading ever wider" do
    h = registry.histogram(:t_seconds, docstring: "T", native: { max_buckets: 8 })
    threads = Array.new(4) do |t|
      Thread.new { 5000.times { |i| h.observe(((i * 7) + t + 1) * (1 + (i / 500)) * ((i % 5).zero? ? -1 : 1)) } }
    end
    threads.each(&:join)
    value = h.get
    expect(value[:count]).to eq(20_000)
    expect(value[:positive].values.sum + value[:negative].values.sum + value[:zero_count]).to eq(20_000)
  end

  it "merges forked processes' native buckets in multi-process mode at the coarsest schema, every count kept" do
    skip "Python's protobuf and grpcio-tools (bin/setup installs them into .venv)" unless PythonProtobuf.available?
    dir = Dir.mktmpdir("tasker-metrics-native")
    registry.enable_multiprocess(dir)
    h = registry.histogram(:f_seconds, docstring: "F", buckets: [], native: { max_buckets: 16, min_reset_interval: 0 })
    h.observe(1.0)
    ranges = [[1.01, 1.2], [2**0.25, 2**10], [-3.0, -2.5]] # schema 3, 0 (wide) and 3 (negative)
    pids = ranges.map { |(low, high)| fork { [low, high, (low + high) / 2].each { |v| h.observe(v) } && exit!(0) } }
    pids.each { |pid| Process.wait(pid) }
    merged = PythonProtobuf.decode(registry.export(format: :protobuf)).first.dig("metric", 0, "histogram")
    expect(merged.values_at("sample_count", "schema")).to eq(["10", 0])
    expected = ([1.0] + ranges.flat_map { |(low, high)| [low, high, (low + high) / 2] }).group_by { |v| [v.positive?, index(v, 0)] }
    positive = expected.select { |(pos, _), _| pos }.transform_keys(&:last).transform_values(&:size).sort.to_h
    expect(expand(merged["positive_span"], merged["positive_delta"])).to eq(positive)
    expect(expand(merged["negative_span"], merged["negative_delta"])).to eq(index(3.0, 0) => 3)
  ensure
    FileUtils.rm_rf(dir) if dir
  end

  # Bucket index => count from protobuf spans and deltas, as Prometheus reads them.
  def expand(spans, deltas)
    counts = deltas.map(&:to_i).each_with_object([]) { |d, acc| acc << ((acc.last || 0) + d) }
    indexes = []
    spans.each_with_object([0]) do |span, at|
      at[0] += span.fetch("offset", 0)
      span.fetch("length", 0).times do
        indexes << at[0]
        at[0] += 1
      end
    end
    indexes.zip(counts).to_h
  end

  it "empties on the reset that Tasker's reset! calls, at its configured schema, and counts on afterwards" do
    h = registry.histogram(:z_seconds, docstring: "Z", native: { factor: 2, max_buckets: 8 })
    bound = h.with_labels
    [1e-9, 1, 1e9, -3].each { |v| bound.observe(v) } # wide enough to lower the schema
    expect(bound.get[:schema]).to be < 0
    bound.__send__(:_reset)
    expect(bound.get).to include(count: 0, sum: 0.0, zero_count: 0, positive: {}, negative: {}, schema: 0)
    bound.observe(3)
    expect(h.get).to include(count: 1, positive: { 2 => 1 })
  end
end
