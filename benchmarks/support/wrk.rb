# frozen_string_literal: true

require "net/http"
require "socket"

# Runs wrk against Puma serving benchmarks/support/load_app.ru on 127.0.0.1, bounded in time.
module Wrk
  ROOT = File.expand_path("../..", __dir__)

  module_function

  def available? = %w[wrk puma].all? { |c| system("command -v #{c} >/dev/null 2>&1") }

  # @param app [String] the rackup file Puma serves
  # @param env [Hash] its environment
  # @return [Hash] :requests, :non2xx, :socket_errors, :p50_ms, :p99_ms, :rps, :output
  def run(seconds:, connections: 8, threads: 2, app: "benchmarks/support/load_app.ru", env: {})
    port = TCPServer.open("127.0.0.1", 0) { |s| s.addr[1] }
    puma = Process.spawn(env, "puma", "-q", "-t", "4:4", "-b", "tcp://127.0.0.1:#{port}", app,
                         chdir: ROOT, out: File::NULL, err: File::NULL, pgroup: true,)
    url = "http://127.0.0.1:#{port}/metrics"
    wait_for(url)
    output = IO.popen(["wrk", "-t#{threads}", "-c#{connections}", "-d#{seconds}s", "--timeout", "5s", "--latency", url], &:read)
    parse(output)
  ensure
    if puma
      Process.kill("TERM", -puma)
      Process.wait(puma)
    end
  end

  def wait_for(url)
    200.times do
      return if Net::HTTP.get_response(URI(url)).is_a?(Net::HTTPOK)
    rescue SystemCallError
      sleep 0.1
    end
    raise "puma did not start serving #{url}"
  end

  def parse(output)
    ms = ->(label) { latency(output[/^\s+#{label}\s+([\d.]+\w+)/, 1]) }
    { requests: output[/(\d+) requests in/, 1].to_i, non2xx: output[/Non-2xx or 3xx responses: (\d+)/, 1].to_i,
      socket_errors: output[/Socket errors: (.+)$/, 1], p50_ms: ms.call("50%"), p99_ms: ms.call("99%"),
      rps: output[%r{Requests/sec:\s+([\d.]+)}, 1].to_f, output: output, }
  end

  def latency(text)
    return nil unless text

    value = text.to_f
    { "us" => value / 1000, "ms" => value, "s" => value * 1000 }.fetch(text[/[a-z]+\z/])
  end
end
