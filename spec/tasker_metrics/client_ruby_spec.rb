# frozen_string_literal: true

require "open3"
require "rbconfig"

# Loading the drop-in, in fresh Ruby processes: client_ruby's require paths then load nothing,
# the real gem loaded first is one clear error, and client_ruby's README app runs unchanged.
RSpec.describe TaskerMetrics::ClientRuby do
  let(:lib) { File.expand_path("../../lib", __dir__) }

  def ruby(script)
    out, status = Open3.capture2e(RbConfig.ruby, "-I", lib, "-e", script)
    [out, status.success?]
  end

  it "makes every path client_ruby documents a no-op that loads no other file" do
    out, ok = ruby(<<~RUBY)
      require "tasker_metrics/client_ruby"
      before = $LOADED_FEATURES.dup
      loaded = TaskerMetrics::ClientRuby::FEATURES.map { |f| require(f) }
      print [loaded.uniq, ($LOADED_FEATURES - before), Prometheus::Client::Counter.ancestors.include?(TaskerMetrics::Counter)].inspect
    RUBY
    expect([out, ok]).to eq(["[[false], [], true]", true])
  end

  it "raises one clear error when the real prometheus-client gem was loaded first" do
    unless system(RbConfig.ruby, "-e", 'require "prometheus/client"')
      skip "a Prometheus::Client gem (Debian ruby-prometheus-client-mmap) is needed"
    end
    out, ok = ruby('require "prometheus/client"; require "tasker_metrics/client_ruby"')
    expect(ok).to be(false)
    expect(out).to include("TaskerMetrics::ClientRuby::ConflictError", "replaces the prometheus-client gem", "remove that gem from the Gemfile")
  end

  it "runs client_ruby's README config.ru unchanged under a real Puma, loaded as Bundler's require: would" do
    skip "puma (Debian package) is needed" unless Servers.available?("puma")
    dir = Dir.mktmpdir("client-ruby-app")
    File.write(File.join(dir, "config.ru"), <<~'RUBY')
      require 'rack'
      require 'prometheus/middleware/collector'
      require 'prometheus/middleware/exporter'

      use Rack::Deflater
      use Prometheus::Middleware::Collector
      use Prometheus::Middleware::Exporter

      run ->(_) { [200, {'content-type' => 'text/html'}, ['OK']] }
    RUBY
    port = Servers.free_port
    env = { "RUBYOPT" => "-I#{lib} -rtasker_metrics/client_ruby" }
    pid = Servers.spawn_server(env, "puma", "-q", "-b", "tcp://127.0.0.1:#{port}", File.join(dir, "config.ru"), log: File.join(dir, "log"))
    app = "http://127.0.0.1:#{port}"
    Servers.wait_for("puma") { Servers.get("#{app}/").is_a?(Net::HTTPOK) }
    3.times { Servers.get("#{app}/items/42") }
    body = Servers.get("#{app}/metrics").body
    expect(body).to include("# TYPE http_server_requests_total counter\n",
                            %(http_server_requests_total{code="200",method="get",path="/items/:id"} 3.0\n),
                            %(http_server_request_duration_seconds_bucket{method="get",path="/items/:id",le="+Inf"} 3.0\n),)
    expect(File.read(File.join(dir, "log"))).not_to include("Error")
  ensure
    Servers.stop(pid) if pid
    FileUtils.rm_rf(dir) if dir
  end
end
