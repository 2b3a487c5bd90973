# frozen_string_literal: true

# `plugin :tasker_metrics` in a real Puma cluster without preload_app!: workers are named, the
# directory of an earlier run is emptied at boot, and a console-like process stays out of it.
RSpec.describe "Puma's tasker_metrics plugin" do
  include_context "with Puma and Prometheus"

  let(:dir) { File.join(run.dir, "metrics").tap { |d| FileUtils.mkdir_p(d) } }

  # A process of an earlier run: joins the directory, counts 999, exits.
  def earlier_run
    script = 'require "tasker_metrics"; TaskerMetrics.registry.counter(:earlier_total, docstring: "e").increment(by: 999)'
    env = { "TASKER_METRICS_MULTIPROC_DIR" => dir, "TASKER_METRICS_MULTIPROC_SCOPE" => "all" }
    system(env, RbConfig.ruby, "-I", File.join(Servers::ROOT, "lib"), "-e", script, exception: true)
  end

  def boot_cluster(env = {})
    port = Servers.free_port
    env = { "PORT" => port.to_s, "TASKER_METRICS_MULTIPROC_DIR" => dir }.merge(env)
    run.puma = Servers.spawn_server(env, "puma", "-C", "spec/fixtures/puma/cluster.rb", "spec/fixtures/puma/app.ru", log: run.log)
    "http://127.0.0.1:#{port}/metrics"
  end

  def loaded_workers(url) = Scrape.samples(Servers.get(url).body).keys.grep(/\Aapp_loaded\{/).sort

  [{}, { "FORK_WORKER" => "1" }].each do |env|
    it "names every worker puma_<index> and starts from an empty directory#{" (fork_worker)" unless env.empty?}" do
      earlier_run
      expect(Dir.children(dir).grep(/\Aproc-/).size).to eq(1)
      url = boot_cluster(env)
      Servers.wait_for("both workers loaded the app") { loaded_workers(url).size == 2 }
      expect(loaded_workers(url)).to eq(['app_loaded{pid="puma_0"}', 'app_loaded{pid="puma_1"}'])
      expect(Servers.get(url).body).not_to include("earlier_total")
    rescue RuntimeError => e
      raise "#{e.message}\n--- server log ---\n#{File.exist?(run.log) ? File.read(run.log) : ""}"
    end
  end

  it "names the workers of a phased restart as their predecessors, keeping the counts" do
    url = boot_cluster
    Servers.wait_for("both workers loaded the app") { loaded_workers(url).size == 2 }
    20.times { Servers.get(url) }
    before = Scrape.samples(Servers.get(url).body).select { |k, _| k.start_with?("tasker_metrics_scrape_duration_seconds_count") }.values.sum
    Process.kill("USR1", run.puma) # phased restart: workers replaced one by one, the master stays
    Servers.wait_for("both workers replaced") { File.read(run.log).scan(/phase: 1/).size >= 2 && loaded_workers(url).size == 2 }
    expect(loaded_workers(url)).to eq(['app_loaded{pid="puma_0"}', 'app_loaded{pid="puma_1"}'])
    after = Scrape.samples(Servers.get(url).body).select { |k, _| k.start_with?("tasker_metrics_scrape_duration_seconds_count") }.values.sum
    expect(after).to be > before, "the replaced workers' scrapes still count"
  rescue RuntimeError => e
    raise "#{e.message}\n--- server log ---\n#{File.exist?(run.log) ? File.read(run.log) : ""}"
  end

  it "keeps the directory with TASKER_METRICS_KEEP_MULTIPROC_DIR=1" do
    earlier_run
    url = boot_cluster("TASKER_METRICS_KEEP_MULTIPROC_DIR" => "1")
    Servers.wait_for("the cluster") { loaded_workers(url).size == 2 }
    expect(Servers.get(url).body).to include("earlier_total 999")
  rescue RuntimeError => e
    raise "#{e.message}\n--- server log ---\n#{File.exist?(run.log) ? File.read(run.log) : ""}"
  end
end
