# frozen_string_literal: true

require "socket"
require "timeout"

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
    expect { push.push(TaskerMetrics::Registry.new) }.to raise_error(TaskerMetrics::PushError, /did not answer within 0.3s/)
  ensure
    server&.close
  end

  it "raises PushError when nothing listens" do
    port = Servers.free_port
    expect { described_class.new(job: "j", gateway: "http://127.0.0.1:#{port}").delete }
      .to raise_error(TaskerMetrics::PushError, /could not reach the Pushgateway/)
  end

  it "encodes grouping values the Pushgateway way, dot segments included" do
    push = described_class.new(job: "a/b", grouping_key: { instance: "h 1", empty: "", dot: ".", dots: ".." })
    expect(push.path).to eq("/metrics/job@base64/YS9i/instance/h%201/empty@base64/=/dot@base64/Lg==/dots@base64/Li4=")
  end

  describe "against stand-in gateways on 127.0.0.1" do
    # A one-connection server: reads the request, then lets `answer` write to the socket (for at
    # most 10 s). Returns [url, thread giving back the request text].
    def stand_in(host = "127.0.0.1")
      server = TCPServer.new(host, 0)
      thread = Thread.new do
        client = server.accept
        request = +""
        request << client.readpartial(65_536) until request.include?("\r\n\r\n")
        length = request[/^content-length: (\d+)/i, 1].to_i
        request << client.readpartial(65_536) while request.bytesize < request.index("\r\n\r\n") + 4 + length
        Timeout.timeout(10) { yield(client) }
        request
      rescue Errno::EPIPE, Errno::ECONNRESET, IOError, Timeout::Error
        request
      ensure
        client&.close
        server.close
      end
      host_part = host.include?(":") ? "[#{host}]" : host
      ["http://#{host_part}:#{server.addr[1]}", thread]
    end

    it "gives up at one deadline for the whole request when the gateway trickles its answer" do
      url, = stand_in do |client|
        client.write("HTTP/1.1 200 OK\r\n")
        50.times do # one header line every 0.1 s, 5 s in all
          client.write("X-Slow: y\r\n")
          sleep 0.1
        end
      end
      push = described_class.new(job: "j", gateway: url, timeout: 0.5)
      expect { push.delete }.to raise_error(TaskerMetrics::PushError, /did not answer within 0.5s/)
    end

    it "reads at most #{TaskerMetrics::Push::ANSWER_LIMIT} bytes of an endless error answer" do
      url, = stand_in do |client|
        client.write("HTTP/1.1 500 Oops\r\nContent-Length: 1000000000\r\n\r\n")
        2_000.times { client.write("e" * 65_536) } # 128 MiB unless the client stops reading
      end
      push = described_class.new(job: "j", gateway: url, timeout: 5)
      expect { push.delete }.to raise_error(TaskerMetrics::PushError) { |e| expect(e.message).to match(/answered 500 Oops.*: e{200}\z/) }
    end

    it "sends the URL's credentials as basic auth and never shows them" do
      url, request = stand_in { |client| client.write("HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n") }
      push = described_class.new(job: "j", gateway: url.sub("http://", "http://prom:p%40ss@"))
      expect(push.delete).to be_a(Net::HTTPSuccess)
      expect(request.value).to include("Authorization: Basic #{["prom:p@ss"].pack("m0")}")
      expect(push.gateway.to_s).not_to include("prom", "p%40ss")
      gone = described_class.new(job: "j", gateway: "http://prom:secret@127.0.0.1:#{Servers.free_port}")
      expect { gone.delete }.to raise_error(TaskerMetrics::PushError) { |e| expect(e.message).not_to include("secret", "prom:") }
    end

    it "reaches a gateway at an IPv6 literal" do
      url, request = begin
        stand_in("::1") { |client| client.write("HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n") }
      rescue SystemCallError
        skip "no IPv6 loopback in this sandbox"
      end
      expect(described_class.new(job: "j", gateway: url).delete).to be_a(Net::HTTPSuccess)
      expect(request.value).to start_with("DELETE /metrics/job/j HTTP/1.1")
    end
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
