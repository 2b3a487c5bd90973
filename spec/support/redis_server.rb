# frozen_string_literal: true

require "securerandom"
require "socket"

# A real Redis (Debian `redis-server`) on 127.0.0.1 without persistence, started by the first
# example that asks for it and stopped when the suite ends.
module RedisServer
  module_function

  def available? = Servers.available?("redis-server")

  # @return [String] the URL of the running server (started now if needed)
  def url
    @url ||= begin
      port = Servers.free_port
      @pid = Servers.spawn_server({}, "redis-server", "--bind", "127.0.0.1", "--port", port.to_s, "--save", "", "--appendonly", "no",
                                  log: File.join(Dir.tmpdir, "tasker-metrics-redis-#{port}.log"),)
      Servers.wait_for("redis-server on port #{port}") { TCPSocket.open("127.0.0.1", port) { |s| s.write("PING\r\n") && s.gets == "+PONG\r\n" } }
      "redis://127.0.0.1:#{port}/0"
    end
  end

  def stop
    Servers.stop(@pid) if @pid
    @pid = @url = nil
  end
end

RSpec.configure { |config| config.after(:suite) { RedisServer.stop } }

RSpec.shared_context "with redis-server" do
  before { skip "redis-server is not installed (Debian package `redis-server`)" unless RedisServer.available? }

  let(:redis_url) { RedisServer.url }
end
