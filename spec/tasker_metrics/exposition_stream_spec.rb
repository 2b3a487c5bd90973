# frozen_string_literal: true

require "rack/test"
require "rack/lint"
require "tmpdir"
require "zlib"

RSpec.describe TaskerMetrics::ExpositionStream do
  let(:jobs) { registry.counter(:jobs_total, docstring: "Jobs", labels: %i[k], max_series: 100_000) }
  let(:latency) { registry.histogram(:latency_seconds, docstring: "L", labels: %i[k], buckets: [0.1, 1]) }

  before do
    30_000.times { |i| jobs.increment(by: i + 1, labels: { k: "v#{i}" }) }
    50.times { |i| latency.observe(i / 10.0, labels: { k: "v#{i}" }) }
  end

  it "yields several pieces that join into exactly what export returns, in both formats" do
    %i[prometheus openmetrics].each do |format|
      pieces = registry.export_stream(format: format).to_a
      expect(pieces.size).to be > 1, "30,000 series come in more than one piece"
      expect(pieces.map(&:encoding).uniq).to eq([Encoding::UTF_8])
      expect(pieces.join).to eq(registry.export(format: format))
    end
  end

  it "gzips the pieces into one gzip stream that unzips to the export, as binary Strings" do
    stream = registry.export_stream(gzip: true)
    pieces = stream.to_a
    expect(pieces.map(&:encoding).uniq).to eq([Encoding::BINARY])
    expect(Zlib.gunzip(pieces.join)).to eq(registry.export)
    expect(stream.bytesize).to eq(pieces.sum(&:bytesize))
  end

  it "selects families by name as export does" do
    expect(registry.export_stream(names: %w[latency_seconds_bucket]).to_a.join).to eq(registry.export(names: %w[latency_seconds_bucket]))
  end

  it "is read once: a second each yields nothing" do
    stream = registry.export_stream
    expect(stream.to_a).not_to be_empty
    expect(stream.to_a).to eq([])
  end

  it "raises IOError when read after close cut it short, instead of ending as if complete" do
    stream = registry.export_stream
    expect(stream.first).not_to be_empty
    stream.close
    expect { stream.to_a }.to raise_error(IOError, /interrupted or closed before its end/)
  end

  it "stays whole when its reader is interrupted between pieces: the rest reads to the end" do
    stream = registry.export_stream
    got = +""
    pieces = Queue.new
    reader = Thread.new do
      Thread.current.report_on_exception = false
      stream.each do |piece|
        got << piece
        pieces << piece
        sleep # the interrupt lands here, between two pieces
      end
    end
    pieces.pop
    sleep 0.001 until reader.status == "sleep" # in the block's sleep, not in a piece's rendering
    reader.raise(RuntimeError, "stop")
    expect { reader.join }.to raise_error(RuntimeError, "stop")
    stream.each { |piece| got << piece }
    expect(got).to eq(registry.export)
  end

  it "keeps series created and removed while it is paused between pieces out of harm's way" do
    stream = registry.export_stream
    first = stream.first
    1_000.times { |i| jobs.increment(labels: { k: "new#{i}" }) }
    20_000.times { |i| jobs.remove(labels: { k: "v#{i}" }) }
    GC.start
    text = first + stream.to_a.join
    expect(text).to include(%(jobs_total{k="v29999"} 30000\n))
    expect(text).not_to include("new0"), "series created after the walk began are the next scrape's"
  end

  it "merges every process in multi-process mode, as export does" do
    dir = Dir.mktmpdir("tasker-metrics-stream")
    registry.enable_multiprocess(dir)
    pid = fork do
      jobs.increment(by: 5, labels: { k: "child" })
      exit!(0)
    end
    Process.wait(pid)
    text = registry.export_stream.to_a.join
    expect(text).to include(%(jobs_total{k="child"} 5\n))
    expect(text).to eq(registry.export)
  ensure
    registry.disable_multiprocess
    FileUtils.rm_rf(dir)
  end

  describe "served by the Rack endpoint with stream: true" do
    include Rack::Test::Methods

    let(:app) { Rack::Lint.new(TaskerMetrics::Rack::Endpoint.new(registry: registry, stream: true, auth: nil, enabled: true)) }

    it "answers without Content-Length, the body read piece by piece, and records the scrape size once read" do
      status, headers, body = app.call(Rack::MockRequest.env_for("/metrics", "HTTP_ACCEPT_ENCODING" => "gzip"))
      expect(status).to eq(200)
      expect(headers).not_to include("content-length")
      expect(headers["content-encoding"]).to eq("gzip")
      pieces = []
      body.each { |piece| pieces << piece }
      body.close
      expect(pieces.size).to be > 1
      expect(Zlib.gunzip(pieces.join)).to include(%(jobs_total{k="v0"} 1\n))
      expect(registry.get(:tasker_metrics_scrape_size_bytes).get(labels: { format: "prometheus" })).to eq(pieces.sum(&:bytesize))
    end

    it "answers HEAD with headers only" do
      head "/metrics"
      expect(last_response.status).to eq(200)
      expect(last_response.body).to eq("")
    end
  end
end
