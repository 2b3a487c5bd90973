# frozen_string_literal: true

require "json"
require "open3"
require "yaml"

# The Prometheus rules and the Grafana dashboard in ops/: the rules pass promtool's checks and
# unit tests, and every dashboard query (and every recording rule) returns data from a real
# Prometheus scraping the demo.
RSpec.describe "Operations files (ops/)" do
  rules = File.expand_path("../../ops/prometheus/tasker_metrics.rules.yml", __dir__)
  dashboard = File.expand_path("../../ops/grafana/tasker_metrics.json", __dir__)

  def promtool(*args)
    skip "promtool is not installed (Debian package `prometheus`)" unless Promtool.available?
    out, status = Open3.capture2e("promtool", *args, chdir: File.expand_path("../../ops/prometheus", __dir__))
    [status.success?, out]
  end

  it "has rules promtool accepts" do
    ok, out = promtool("check", "rules", "tasker_metrics.rules.yml")
    expect(ok).to be(true), out
  end

  it "has rules that pass their promtool unit tests" do
    ok, out = promtool("test", "rules", "tasker_metrics.rules.test.yml")
    expect(ok).to be(true), out
  end

  describe "against a real Prometheus scraping the demo" do
    include_context "with Puma and Prometheus"

    let(:panels) { JSON.parse(File.read(dashboard)).fetch("panels") }

    it "answers every dashboard query and every recording rule with data" do
      port = Servers.free_port
      app = "http://127.0.0.1:#{port}"
      run.puma = Servers.spawn_server({ "DEMO_BACKGROUND" => "1" }, "puma", "-q", "-b", "tcp://127.0.0.1:#{port}", "demo/config.ru", log: run.log)
      Servers.wait_for("puma") { Servers.get("#{app}/metrics").is_a?(Net::HTTPOK) }
      run.prometheus, prometheus = Servers.start_prometheus(run.dir, "127.0.0.1:#{port}", log: run.log, rules: rules)
      Servers.wait_for("five scrapes") { Servers.query(prometheus, 'count_over_time(up{job="demo"}[1m])').to_i >= 5 }
      3.times { Servers.post("#{app}/run?tasks=20") } # failures and requests beyond the background load
      Servers.wait_for("the last batch scraped") { Servers.query(prometheus, "sum(rails_requests_total)").to_i >= 3 }

      queries = panels.flat_map { |p| p.fetch("targets").map { |t| [p.fetch("title"), t.fetch("expr").gsub("$__rate_interval", "1m")] } }
      expect(queries.size).to be >= 10
      empty = -> { queries.select { |_title, expr| Servers.query_vector(prometheus, expr).empty? } }
      # rate() wants two samples of a series in its window: a few more scrapes after the last batch.
      begin
        Servers.wait_for("data in every panel") { empty.call.empty? }
      rescue RuntimeError => e
        raise "#{e.message}; panels without data: #{empty.call.inspect}"
      end

      recorded = YAML.safe_load(File.read(rules)).fetch("groups").flat_map { |g| g["rules"] }.filter_map { |r| r["record"] }
      Servers.wait_for("every recording rule evaluated") { recorded.all? { |name| !Servers.query_vector(prometheus, name).empty? } }
    rescue RuntimeError => e
      raise "#{e.message}\n--- server log ---\n#{File.exist?(run.log) ? File.read(run.log)[-4000..] : ""}"
    end
  end
end
