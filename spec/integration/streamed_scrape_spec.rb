# frozen_string_literal: true

require "zlib"

RSpec.describe "End to end: a streamed scrape served by a real Puma, read by a real Prometheus" do
  include_context "with Puma and Prometheus"

  let(:series) { 50_000 }

  def config_ru
    <<~RUBY
      $LOAD_PATH.unshift(#{File.expand_path("../../lib", __dir__).to_json})
      require "tasker_metrics"
      registry = TaskerMetrics::Registry.new
      jobs = registry.counter(:jobs_total, docstring: "Jobs", labels: %i[queue], max_series: #{series})
      #{series}.times { |i| jobs.increment(by: i + 1, labels: { queue: "queue-\#{i}" }) }
      map("/metrics") { run TaskerMetrics::Rack::Endpoint.new(registry: registry, stream: true, auth: nil, enabled: true, self_metrics: false) }
      map("/whole") { run TaskerMetrics::Rack::Endpoint.new(registry: registry, auth: nil, enabled: true, self_metrics: false) }
    RUBY
  end

  it "sends the body chunked, byte for byte the whole body, gzipped or not, and Prometheus ingests all of it" do
    app = serve_rack_app(config_ru, probe: "/whole")
    port = URI(app).port

    whole = Servers.get("#{app}/whole", "Accept-Encoding" => "identity")
    streamed = Servers.get("#{app}/metrics", "Accept-Encoding" => "identity")
    expect(streamed["transfer-encoding"]).to eq("chunked")
    expect(streamed["content-length"]).to be_nil
    expect(streamed.body).to eq(whole.body)
    expect(whole.body.lines.grep(/\Ajobs_total\{/).size).to eq(series)
    zipped = Servers.get("#{app}/metrics", "Accept-Encoding" => "gzip")
    expect(zipped["content-encoding"]).to eq("gzip")
    expect(Zlib.gunzip(zipped.body)).to eq(whole.body)

    run.prometheus, prometheus = Servers.start_prometheus(run.dir, "127.0.0.1:#{port}", log: run.log)
    Servers.wait_for("the target to be up") { total(prometheus, 'up{job="demo"}') == 1 }
    expect(total(prometheus, "count(jobs_total)")).to eq(series)
    expect(total(prometheus, "sum(jobs_total)")).to eq(series * (series + 1) / 2)
  rescue RuntimeError => e
    raise "#{e.message}\n--- server log ---\n#{File.exist?(run.log) ? File.read(run.log) : ""}"
  end
end
