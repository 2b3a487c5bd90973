# frozen_string_literal: true

require "socket"

RSpec.describe TaskerMetrics::Push do
  describe "against a real Pushgateway (Debian prometheus-pushgateway on 127.0.0.1)" do
    let(:run) { Struct.new(:dir, :pid, :url).new(Dir.mktmpdir("pushgateway"), nil, nil) }

    before do
      skip "prometheus-pushgateway (Debian package) is needed" unless Servers.available?("prometheus-pushgateway")
      port = Servers.free_port
      run.url = "http://127.0.0.1:#{port}"
      run.pid = Servers.spawn_server({}, "prometheus-pushgateway", "--web.listen-address=127.0.0.1:#{port}",
                                     "--persistence.file=#{run.dir}/data", log: File.join(run.dir, "log"),)
      Servers.wait_for("the pushgateway") { Servers.get("#{run.url}/-/ready").is_a?(Net::HTTPOK) }
      registry.counter(:job_rows_total, docstring: "Rows imported", labels: [:table]).increment(by: 42, labels: { table: "orders" })
      registry.gauge(:job_last_success_seconds, docstring: "Last success").set(1_700_000_000)
    end

    after do
      Servers.stop(run.pid)
      FileUtils.rm_rf(run.dir)
    end

    def gateway_metrics = Scrape.samples(Servers.get("#{run.url}/metrics").body.lines.grep_v(/\A# /).join)

    it "pushes, adds and deletes a group, with job and grouping labels" do
      push = described_class.new(job: "nightly/import", gateway: run.url, grouping_key: { instance: "host 1" })
      expect(push.push(registry)).to be_a(Net::HTTPSuccess)
      # The Pushgateway sorts label names.
      key = ->(name, extra = "") { %(#{name}{instance="host 1",job="nightly/import"#{extra}}) }
      expect(gateway_metrics).to include(key.call("job_rows_total", ',table="orders"') => 42.0,
                                         key.call("job_last_success_seconds") => 1_700_000_000.0,)
      registry.get(:job_rows_total).increment(by: 8, labels: { table: "orders" })
      push.add(registry)
      expect(gateway_metrics[key.call("job_rows_total", ',table="orders"')]).to eq(50.0)
      push.delete
      expect(gateway_metrics.keys.grep(/job_rows_total/)).to be_empty
    end

    it "raises PushError with the status on a non-2xx answer" do
      push = described_class.new(job: "j", gateway: "#{run.url}/no-such-prefix")
      expect { push.push(registry) }.to raise_error(TaskerMetrics::PushError, /answered 404/)
    end
  end

  it "raises PushError when the gateway does not answer in time" do
    server = TCPServer.new("127.0.0.1", 0)
    push = described_class.new(job: "j", gateway: "http://127.0.0.1:#{server.addr[1]}", timeout: 0.3)
    expect { push.push(TaskerMetrics::Registry.new) }.to raise_error(TaskerMetrics::PushError, /timed out after 0.3s/)
  ensure
    server&.close
  end

  it "raises PushError when nothing listens" do
    port = Servers.free_port
    expect { described_class.new(job: "j", gateway: "http://127.0.0.1:#{port}").delete }
      .to raise_error(TaskerMetrics::PushError, /could not reach the Pushgateway/)
  end

  it "encodes grouping values the Pushgateway way" do
    push = described_class.new(job: "a/b", grouping_key: { instance: "h 1", empty: "" })
    expect(push.path).to eq("/metrics/job@base64/YS9i/instance/h%201/empty@base64/=")
  end

  it "refuses bad arguments" do
    expect { described_class.new(job: "") }.to raise_error(ArgumentError, /job must be a non-empty/)
    expect { described_class.new(job: "j", gateway: "ftp://x") }.to raise_error(ArgumentError, /gateway must be an http\(s\) URL/)
    expect { described_class.new(job: "j", grouping_key: { "bad-name": "x" }) }.to raise_error(ArgumentError, /grouping_key label name/)
    expect { described_class.new(job: "j", grouping_key: { job: "x" }) }.to raise_error(ArgumentError, /grouping_key label name "job"/)
  end

  it "loads and base64url-encodes without the base64 gem (not a default gem on Ruby 3.4)" do
    script = 'module Kernel; alias orig_require require; def require(n) = n == "base64" ? raise(LoadError, "no base64") : orig_require(n); end
              require "tasker_metrics"; print TaskerMetrics::Push.new(job: "a/??>", gateway: "http://127.0.0.1:9").path'
    out = IO.popen([RbConfig.ruby, "-I", File.expand_path("../../lib", __dir__), "-e", script], err: %i[child out], &:read)
    expect(out).to eq("/metrics/job@base64/YS8_Pz4=")
  end
end
