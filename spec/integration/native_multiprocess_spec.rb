# frozen_string_literal: true

require "set"

RSpec.describe "End to end: native histograms of a 3-worker Puma cluster in multi-process mode, scraped as protobuf" do
  include_context "with Puma and Prometheus"

  # Tasker's derived step durations, made native by the Tasker setting; POST /steps records one
  # step.completed per value (the call Tasker's subscriber makes) and answers with the pid.
  def config_ru
    <<~RUBY
      $LOAD_PATH.unshift(#{File.expand_path("../../lib", __dir__).to_json})
      require "json"
      require "tasker_metrics"
      TaskerMetrics.install!(subscribe: false, native_histograms: { max_buckets: 60 })
      step = { namespace: "orders", handler_class: "OrdersWorkflow", name: "charge", status: "complete" }
      app = lambda do |env|
        request = Rack::Request.new(env)
        return [200, {}, ["ok"]] unless request.post?

        JSON.parse(request.body.read).each { |v| TaskerMetrics.record("step.completed", step.merge(execution_duration: v)) }
        [200, { "content-type" => "application/json" }, [JSON.generate(pid: Process.pid)]]
      end
      use TaskerMetrics::Rack::Exporter, path: "/metrics"
      run app
    RUBY
  end

  def post_steps(app, values)
    uri = URI("#{app}/steps")
    reply = Net::HTTP.post(uri, JSON.generate(values), "content-type" => "application/json")
    raise "POST /steps: #{reply.code}" unless reply.is_a?(Net::HTTPOK)

    JSON.parse(reply.body).fetch("pid")
  end

  # Starts the 3-worker cluster; returns [app URL, port].
  def start_cluster
    File.write(File.join(run.dir, "config.ru"), config_ru)
    port = Servers.free_port
    app = "http://127.0.0.1:#{port}"
    env = { "TASKER_METRICS_MULTIPROC_DIR" => File.join(run.dir, "metrics"), "PORT" => port.to_s, "WEB_CONCURRENCY" => "3",
            "PUMA_THREADS" => "1", }
    run.puma = Servers.spawn_server(env, "puma", "-C", "demo/puma_cluster.rb", File.join(run.dir, "config.ru"), log: run.log)
    Servers.wait_for("puma") { Servers.get("#{app}/").is_a?(Net::HTTPOK) }
    [app, port]
  end

  it "merges the workers' native buckets at the coarsest schema, counts exact, median within its bucket" do
    app, port = start_cluster
    # Narrow batches (schema 3 in every worker) until all three workers served one, then one
    # wide batch (schema 2 in the worker that takes it), then more narrow ones.
    narrow = NativeE2E.values(3000, seed: 11, low: Math.log(0.2), high: Math.log(0.6))
    wide = NativeE2E.wide_values(300, seed: 12)
    observed = []
    pids = Set.new
    narrow.each_slice(50) do |batch|
      pids << post_steps(app, batch)
      observed.concat(batch)
      next unless pids.size == 3 && observed.size < narrow.size && !observed.include?(wide.first)

      post_steps(app, wide)
      observed.concat(wide)
    end
    expect(pids.size).to eq(3), "every worker served a batch"
    expect(observed).to include(wide.first)

    run.prometheus, prometheus = Servers.start_prometheus(run.dir, "127.0.0.1:#{port}", log: run.log, features: ["native-histograms"])
    Servers.wait_for("every step stored") do
      Servers.query_vector(prometheus, "step_duration_seconds").first&.dig("histogram", 1, "count").to_i == observed.size
    end
    histogram = NativeE2E.histogram_sample(prometheus, "step_duration_seconds")
    expect(NativeE2E.growth(histogram)).to be_within(1e-9).of(2**(2**-2.0)), "merged at the wide worker's schema 2"
    expect(histogram.fetch("sum").to_f).to be_within(1e-6 * observed.sum).of(observed.sum)
    NativeE2E.expect_median(self, prometheus, "step_duration_seconds", observed, histogram)
  rescue RuntimeError => e
    raise "#{e.message}\n--- server log ---\n#{File.exist?(run.log) ? File.read(run.log) : ""}"
  end
end
