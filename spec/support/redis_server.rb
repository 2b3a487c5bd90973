# frozen_string_literal: true

require "securerandom"
require "socket"

# A real Redis (Debian `redis-server`) on 127.0.0.1 for the examples of a group: started on a
# free port without persistence before them, stopped after.
RSpec.shared_context "with redis-server" do
  before(:context) do
    skip "redis-server is not installed (Debian package `redis-server`)" unless Servers.available?("redis-server")
    @redis_port = Servers.free_port
    @redis_log = File.join(Dir.tmpdir, "tasker-metrics-redis-#{@redis_port}.log")
    @redis_pid = Servers.spawn_server({}, "redis-server", "--bind", "127.0.0.1", "--port", @redis_port.to_s, "--save", "",
                                      "--appendonly", "no", log: @redis_log,)
    Servers.wait_for("redis-server on port #{@redis_port}") do
      TCPSocket.open("127.0.0.1", @redis_port) { |s| s.write("PING\r\n") || s.gets&.start_with?("+PONG") }
    end
  end

  after(:context) { Servers.stop(@redis_pid) }

  let(:redis_url) { "redis://127.0.0.1:#{@redis_port}/0" }
end
