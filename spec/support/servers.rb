# frozen_string_literal: true

require "json"
require "net/http"
require "socket"
require "tmpdir"

# Starts real servers (Puma, Prometheus) on 127.0.0.1 for end-to-end tests, waits for them
# with a deadline, and stops them.
module Servers
  ROOT = File.expand_path("../..", __dir__)

  module_function

  def available?(*commands) = commands.all? { |c| system("command -v #{c} >/dev/null 2>&1") }

  def free_port
    server = TCPServer.new("127.0.0.1", 0)
    server.addr[1]
  ensure
    server&.close
  end

  # Polls the block until it returns a truthy value or `timeout` seconds pass.
  def wait_for(what, timeout: 30, interval: 0.2)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
    loop do
      value = begin
        yield
      rescue SystemCallError, IOError, Net::ReadTimeout, JSON::ParserError
        nil
      end
      return value if value
      raise "timed out after #{timeout}s waiting for #{what}" if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline

      sleep interval
    end
  end

  def get(url, headers = {})
    uri = URI(url)
    Net::HTTP.start(uri.host, uri.port, open_timeout: 2, read_timeout: 5) { |h| h.get(uri.request_uri, headers) }
  end

  def post(url)
    uri = URI(url)
    Net::HTTP.start(uri.host, uri.port, open_timeout: 2, read_timeout: 30) { |h| h.post(uri.request_uri, "") }
  end

  def spawn_server(env, *command, log:)
    Process.spawn(env, *command, chdir: ROOT, out: log, err: log, pgroup: true)
  end

  def stop(pid)
    return unless pid

    Process.kill("TERM", -pid)
    Timeout.timeout(10) { Process.wait(pid) }
  rescue Errno::ESRCH, Errno::ECHILD
    nil
  rescue Timeout::Error
    Process.kill("KILL", -pid)
    Process.wait(pid)
  end

  # Prometheus scraping one target every second, storing in `dir`; `rules` (a rules file) is
  # evaluated every second too; `features` are passed as --enable-feature.
  def start_prometheus(dir, target, log:, rules: nil, features: [])
    port = free_port
    File.write(File.join(dir, "prometheus.yml"), <<~YAML)
      global:
        scrape_interval: 1s
        scrape_timeout: 1s
        evaluation_interval: 1s
      #{"rule_files: [#{File.expand_path(rules).to_json}]" if rules}
      scrape_configs:
        - job_name: demo
          static_configs:
            - targets: ["#{target}"]
    YAML
    pid = spawn_server({}, "prometheus", "--config.file=#{dir}/prometheus.yml", "--storage.tsdb.path=#{dir}/data",
                       "--web.listen-address=127.0.0.1:#{port}", *features.map { |f| "--enable-feature=#{f}" }, log: log,)
    [pid, "http://127.0.0.1:#{port}"]
  end

  # The result vector of an instant query (empty while there is none).
  def query_vector(prometheus, expr)
    body = JSON.parse(get("#{prometheus}/api/v1/query?query=#{URI.encode_www_form_component(expr)}").body)
    raise "query failed: #{expr}: #{body["error"]}" unless body["status"] == "success"

    body.dig("data", "result")
  end

  # The scalar result of an instant query, or nil while there is none.
  def query(prometheus, expr)
    body = JSON.parse(get("#{prometheus}/api/v1/query?query=#{URI.encode_www_form_component(expr)}").body)
    result = body.dig("data", "result")
    result&.first&.dig("value", 1)&.to_f
  end
end

# One end-to-end run's servers and scratch directory, stopped and removed afterwards whatever
# happened; skipped where the Debian packages are missing.
RSpec.shared_context "with Puma and Prometheus" do
  let(:run) { Struct.new(:dir, :puma, :prometheus, :log).new(Dir.mktmpdir("tasker-metrics-e2e"), nil, nil, nil) }

  before do
    skip "puma and prometheus (Debian packages) are needed for the end-to-end test" unless Servers.available?("puma", "prometheus")
    run.log = File.join(run.dir, "servers.log")
  end

  after do
    Servers.stop(run.prometheus)
    Servers.stop(run.puma)
    FileUtils.rm_rf(run.dir)
  end

  def total(prometheus, expr) = Servers.query(prometheus, expr)&.round

  # Serves `config_ru` (the text of a config.ru, written to the run's directory) with Puma on a
  # free port; returns the app's URL once `probe` answers 200.
  def serve_rack_app(config_ru, probe: "/")
    File.write(File.join(run.dir, "config.ru"), config_ru)
    port = Servers.free_port
    app = "http://127.0.0.1:#{port}"
    run.puma = Servers.spawn_server({}, "puma", "-q", "-t", "2:2", "-b", "tcp://127.0.0.1:#{port}", File.join(run.dir, "config.ru"), log: run.log)
    Servers.wait_for("puma") { Servers.get("#{app}#{probe}").is_a?(Net::HTTPOK) }
    app
  end
end
