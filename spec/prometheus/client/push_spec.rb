# frozen_string_literal: true

require "socket"

# client_ruby's Push (its push_spec checks paths, verbs, basic auth and errors the same way).
RSpec.describe Prometheus::Client::Push do
  include_context "with client_ruby's defaults"

  let(:registry) { Prometheus::Client::Registry.new }

  it "builds the path from the job and grouping key, base64 for values with a slash or empty" do
    push = described_class.new(job: "nightly/import", gateway: "http://127.0.0.1:9091", grouping_key: { host: "a b", dc: "", path: "x/y" })
    expect(push.path).to eq("/metrics/job@base64/bmlnaHRseS9pbXBvcnQ=/host/a%20b/dc@base64/=/path@base64/eC95")
    expect([push.job, push.gateway]).to eq(["nightly/import", "http://127.0.0.1:9091"])
    expect(described_class.new(job: "j").gateway).to eq("http://localhost:9091")
  end

  it "refuses a missing job, a bad URL, other schemes, credentials in the URL and invalid grouping keys" do
    expect { described_class.new(job: nil) }.to raise_error(ArgumentError, "job cannot be nil")
    expect { described_class.new(job: "") }.to raise_error(ArgumentError, "job cannot be empty")
    expect { described_class.new(job: "j", gateway: "ftp://h") }.to raise_error(ArgumentError, "only HTTP gateway URLs are supported currently.")
    expect { described_class.new(job: "j", gateway: "http://u:p@h:9091") }.to raise_error(ArgumentError, /call the `basic_auth` method/)
    expect { described_class.new(job: "j", grouping_key: { "k" => "v" }) }.to raise_error(Prometheus::Client::LabelSetValidator::InvalidLabelError)
  end

  it "refuses a registry whose metrics have a grouping key label" do
    registry.counter(:c, docstring: "c", labels: [:host])
    expect { described_class.new(job: "j", grouping_key: { host: "a" }).add(registry) }
      .to raise_error(Prometheus::Client::LabelSetValidator::InvalidLabelSetError, /label :host from grouping key collides/)
  end

  # A one-request HTTP server on loopback answering `status`; returns [url, thread → request].
  def one_shot(status)
    server = TCPServer.new("127.0.0.1", 0)
    thread = Thread.new do
      client = server.accept
      head = +""
      head << client.gets until head.end_with?("\r\n\r\n")
      length = head[/content-length: (\d+)/i, 1].to_i
      body = client.read(length)
      client.write("HTTP/1.1 #{status} X\r\ncontent-length: 4\r\nconnection: close\r\n\r\nnope")
      client.close
      server.close
      [head, body]
    end
    ["http://127.0.0.1:#{server.addr[1]}", thread]
  end

  it "sends basic auth given with basic_auth, and maps error statuses to its error classes" do
    url, request = one_shot(202)
    registry.counter(:c, docstring: "c").increment
    push = described_class.new(job: "j", gateway: url)
    push.basic_auth("user", "pa:ss")
    push.replace(registry)
    head, body = request.value
    expect(head).to start_with("PUT /metrics/job/j HTTP/1.1").and include("Authorization: Basic dXNlcjpwYTpzcw==", "Content-Type: text/plain; version=0.0.4")
    expect(body).to eq(Prometheus::Client::Formats::Text.marshal(registry))
    { 302 => described_class::HttpRedirectError, 404 => described_class::HttpClientError, 500 => described_class::HttpServerError }.each do |status, error|
      url, request = one_shot(status)
      expect { described_class.new(job: "j", gateway: url).delete }.to raise_error(error, /status: #{status}, message: X, body: nope/)
      request.join
    end
  end

  it "adds, replaces and deletes a group on a real Pushgateway" do
    skip "prometheus-pushgateway (Debian package) is needed" unless Servers.available?("prometheus-pushgateway")
    dir = Dir.mktmpdir("pushgateway")
    port = Servers.free_port
    gateway = "http://127.0.0.1:#{port}"
    pid = Servers.spawn_server({}, "prometheus-pushgateway", "--web.listen-address=127.0.0.1:#{port}", log: File.join(dir, "log"))
    Servers.wait_for("the pushgateway") { Servers.get("#{gateway}/-/ready").is_a?(Net::HTTPOK) }
    rows = registry.counter(:rows_total, docstring: "Rows", labels: [:table])
    rows.increment(by: 42, labels: { table: "orders" })
    push = described_class.new(job: "import", gateway: gateway, grouping_key: { instance: "host/1" })
    stored = -> { Scrape.samples(Servers.get("#{gateway}/metrics").body.lines.grep_v(/\A# /).join) }
    key = 'rows_total{instance="host/1",job="import",table="orders"}'
    push.add(registry)
    expect(stored.call[key]).to eq(42.0)
    rows.increment(by: 8, labels: { table: "orders" })
    push.replace(registry)
    expect(stored.call[key]).to eq(50.0)
    push.delete
    expect(stored.call.keys.grep(/rows_total/)).to be_empty
  ensure
    Servers.stop(pid) if pid
    FileUtils.rm_rf(dir) if dir
  end
end
