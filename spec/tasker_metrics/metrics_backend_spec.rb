# frozen_string_literal: true

RSpec.describe TaskerMetrics::MetricsBackend do
  subject(:backend) { described_class.instance }

  it "is a singleton with a frozen created_at and a hostname-pid instance_id" do
    expect(described_class.instance).to equal(backend)
    expect { described_class.new }.to raise_error(NoMethodError)
    expect(backend.created_at).to be_a(Time).and be_frozen
    expect(backend.instance_id).to eq("#{ENV.fetch("HOSTNAME") { Socket.gethostname }}-#{Process.pid}")
  end

  describe "instance_id" do
    around do |example|
      saved = ENV.delete("HOSTNAME")
      example.run
    ensure
      ENV["HOSTNAME"] = saved
      backend.refresh_instance_id
    end

    it "takes HOSTNAME from the environment first" do
      ENV["HOSTNAME"] = "web-7"
      expect(backend.refresh_instance_id).to eq("web-7-#{Process.pid}")
    end

    it "falls back to unknown-<pid> when the hostname cannot be read, and a new backend is still built" do
      allow(Socket).to receive(:gethostname).and_raise(SocketError, "no name")
      expect(backend.refresh_instance_id).to eq("unknown-#{Process.pid}")
      expect(described_class.__send__(:new).instance_id).to eq("unknown-#{Process.pid}")
    end
  end

  describe "metric objects, as Tasker hands them out" do
    it "returns the same object for the same name and labels, in any order and key type" do
      a = backend.counter("orders_total", region: "eu", tier: "gold")
      expect(backend.counter(:orders_total, "tier" => "gold", region: "eu")).to equal(a)
      expect(backend.gauge("depth", q: "a")).to equal(backend.gauge("depth", q: "a"))
      expect(backend.histogram("lat", q: "a")).to equal(backend.histogram("lat", buckets: [1], q: "a"))
      expect(backend.counter("orders_total", region: "us", tier: "gold")).not_to equal(a)
    end

    it "keeps the labels as given on the object it hands out first" do
      expect(backend.counter("http_requests_total", endpoint: "/api", method: "GET").labels).to eq(endpoint: "/api", method: "GET")
    end

    it "has metrics, a live Concurrent::Hash of those objects (derived ones included), the same Hash each time" do
      counter = backend.counter("a_total", k: "v")
      backend.handle_event("task.completed", status: "ok")
      metrics = backend.metrics
      expect(metrics).to be_a(Concurrent::Hash).and equal(backend.metrics)
      expect(metrics['a_total{k="v"}']).to equal(counter)
      expect(metrics.keys).to include('task_completed_total{status="ok"}', 'tasker_events_total{event="task.completed"}')
      derived = metrics['task_completed_total{status="ok"}']
      expect(derived).to be_a(TaskerMetrics::MetricTypes::Counter)
      expect(backend.counter("task_completed_total", status: "ok")).to equal(derived)
    end

    it "drops objects whose series left the registry, and hands out a new one for a series made anew" do
      old = backend.counter("gone_total")
      backend.metrics
      TaskerMetrics.registry.clear
      expect(backend.metrics).not_to have_key("gone_total")
      renewed = backend.counter("gone_total")
      expect(renewed).not_to equal(old)
      renewed.increment(3)
      expect(backend.metrics.fetch("gone_total").value).to eq(3)
    end
  end

  describe "cache coordination without Rails.cache" do
    it "detects a local-only strategy with Tasker's capability keys and sync parameters" do
      expect(backend.sync_strategy).to eq(:local_only)
      expect(backend.cache_capabilities).to include(distributed: false, atomic_increment: false, locking: false, ttl_inspection: false,
                                                    store_class: "Unknown",)
      expect(backend.cache_strategy.coordination_mode).to eq(:local_only)
      expect(backend.sync_config).to eq(retention_window: 3600, export_safety_margin: 60, sync_interval: 30, export_interval: 3540)
    end

    it "answers sync_to_cache! with Tasker's failure Hash, never raising" do
      expect(backend.sync_to_cache!).to eq(success: false, error: "Rails.cache not available")
    end

    it "exports local metrics with Tasker's local-only warning" do
      backend.counter("a_total").increment
      result = backend.export_distributed_metrics
      expect(result).to include(distributed: false, sync_strategy: :local_only, total_metrics: 1,
                                warning: "Cache store doesn't support distribution - metrics are local-only",)
    end
  end

  describe "get-or-create" do
    it "returns the same series for the same name and labels in any order and key type" do
      a = backend.counter("orders_total", region: "eu", tier: "gold")
      a.increment
      b = backend.counter(:orders_total, "tier" => "gold", region: "eu")
      expect(b.increment).to eq(2)
      expect(backend.all_metrics.keys).to eq(['orders_total{region="eu",tier="gold"}'])
    end

    it "makes gauges and histograms; a later histogram with other buckets gets the existing one" do
      backend.gauge("queue_size", queue: "default").set(3)
      h = backend.histogram("latency_seconds", buckets: [1, 2])
      h.observe(1.5)
      expect(backend.histogram("latency_seconds", buckets: [10]).bucket_boundaries).to eq([1.0, 2.0])
      expect(backend.all_metrics.keys).to contain_exactly('queue_size{queue="default"}', "latency_seconds")
    end

    it "refuses a name taken by another type, naming both" do
      backend.counter("dual_total")
      expect { backend.gauge("dual_total") }
        .to raise_error(ArgumentError, 'metric "dual_total" is already registered as a counter, cannot use it as a gauge')
    end

    it "refuses names that cannot be exposed" do
      expect { backend.counter("bad name") }.to raise_error(ArgumentError, /invalid metric name "bad name"/)
      expect { backend.counter("") }.to raise_error(ArgumentError, "Metric name cannot be nil or empty")
    end
  end

  describe "#handle_event (derivation)" do
    def value(key) = backend.all_metrics.fetch(key).value
    def hist(key) = backend.all_metrics.fetch(key)

    %w[started completed failed cancelled].each do |suffix|
      it "counts <entity>_#{suffix}_total for *.#{suffix}, with Symbol and String payload keys" do
        expect(backend.handle_event("task.#{suffix}", { status: "s", handler_class: "H", namespace: "n" })).to be(true)
        expect(backend.handle_event("task.#{suffix}", { "status" => "s", "handler_class" => "H", "namespace" => "n" })).to be(true)
        expect(value(%(task_#{suffix}_total{handler="H",namespace="n",status="s"}))).to eq(2)
      end
    end

    %w[completed failed].each do |suffix|
      it "observes the duration of *.#{suffix} from :duration, else :execution_duration" do
        backend.handle_event("step.#{suffix}", duration: 0.5)
        backend.handle_event("step.#{suffix}", "execution_duration" => 2)
        backend.handle_event("step.#{suffix}", {})
        expect(hist("step_duration_seconds").count).to eq(2)
        expect(hist("step_duration_seconds").sum).to eq(2.5)
      end
    end

    it "does not observe durations for started and cancelled" do
      backend.handle_event("task.started", duration: 1)
      expect(backend.all_metrics.keys).not_to include("task_duration_seconds")
    end

    it "sets workflow gauges for workflow.iteration events" do
      backend.handle_event("workflow.iteration.completed", active_task_count: 12, "iteration_duration" => 0.3)
      expect(value("workflow_active_tasks")).to eq(12)
      expect(hist("workflow_iteration_duration_seconds").sum).to eq(0.3)
    end

    it "sets health gauges for system.health events" do
      backend.handle_event("system.health.report", { "healthy_task_count" => 40, failed_task_count: 2 })
      expect(value("system_healthy_tasks")).to eq(40)
      expect(value("system_failed_tasks")).to eq(2)
    end

    it "counts every event in tasker_events_total{event=...}" do
      backend.handle_event("task.retry_requested", {})
      backend.handle_event("task.retry_requested", {})
      expect(value('tasker_events_total{event="task.retry_requested"}')).to eq(2)
    end

    it "takes Symbol, Integer and Class label values and skips nil" do
      backend.handle_event("task.completed", status: :complete, namespace: 7, handler_class: Integer)
      backend.handle_event("task.completed", status: nil)
      expect(backend.all_metrics.keys).to include('task_completed_total{handler="Integer",namespace="7",status="complete"}',
                                                  "task_completed_total",)
    end

    it "derives through counter, gauge and histogram when they are replaced on the backend (as Tasker's spec stubs them)" do
      allow(backend).to receive(:counter).and_raise(StandardError, "stubbed") # rubocop:disable RSpec/SubjectStub -- Tasker's spec does this

      expect { expect(backend.handle_event("task.completed", duration: 1.0)).to be(false) }
        .to output("MetricsBackend failed to handle event task.completed: stubbed\n").to_stderr
      RSpec::Mocks.space.proxy_for(backend).reset
      expect(backend.handle_event("task.completed", duration: 1.0)).to be(true)
      expect(value("task_completed_total")).to eq(1), "back on the native path once the stub is gone"
    end

    it "derives through a subclass's getters, which may add labels" do
      tagged = Class.new(described_class) do
        def counter(name, **labels) = super(name, **labels, "app" => "shop")
        def histogram(name, buckets: nil, **labels) = super(name, buckets: buckets, **labels, "app" => "shop")
      end.instance
      expect(tagged.handle_event("step.completed", status: "ok", duration: 0.25)).to be(true)
      expect(backend.all_metrics.keys).to include('step_completed_total{app="shop",status="ok"}', 'step_duration_seconds{app="shop",status="ok"}',
                                                  'tasker_events_total{app="shop",event="step.completed"}',)
      expect(hist('step_duration_seconds{app="shop",status="ok"}').sum).to eq(0.25)
    end

    it "fills a derived metric registered ahead (to choose its buckets) by label name, never names as values" do
      TaskerMetrics.registry.histogram(:step_duration_seconds, docstring: "Step time", labels: %i[status handler], buckets: [0.5, 5])
      TaskerMetrics.record("step.completed", status: "complete", handler_class: "Ship", namespace: "orders", duration: 2)
      text = TaskerMetrics.registry.export
      expect(text).to include('step_duration_seconds_bucket{status="complete",handler="Ship",le="5.0"} 1')
      expect(text).not_to include('status="status"', 'handler="complete"')
    end

    it "refuses, changing nothing, a metric registered ahead with a label derivation cannot fill" do
      TaskerMetrics.registry.counter(:task_completed_total, docstring: "t", labels: [:region])
      expect { expect(backend.handle_event("task.completed", status: "ok")).to be(false) }
        .to output(/registered with labels \[:region\], but metrics derived from events carry only/).to_stderr
      expect(TaskerMetrics.registry.export).not_to include("tasker_events_total", "task_completed_total{")
    end

    it "returns false for a payload that is not a Hash" do
      expect(backend.handle_event("task.completed", "nope")).to be(false)
    end

    it "returns false and warns once when deriving fails, never raising" do
      expect { expect(backend.handle_event("task.completed", duration: "slow")).to be(false) }
        .to output("MetricsBackend failed to handle event task.completed: Observed value must be numeric, got: String\n").to_stderr
    end
  end

  it "returns all_metrics as a new Hash each time" do
    backend.counter("a_total")
    expect(backend.all_metrics).not_to equal(backend.all_metrics)
    backend.all_metrics.clear
    expect(backend.all_metrics.size).to eq(1)
  end

  it "exports and reports stats" do
    backend.counter("a_total").increment
    backend.gauge("g").set(1)
    backend.histogram("h").observe(1)
    export = backend.export
    expect(export.keys).to eq(%i[timestamp backend_created_at total_metrics metrics])
    expect(export[:total_metrics]).to eq(3)
    expect(export[:metrics]["a_total"]).to include(value: 1, type: :counter)
    stats = backend.stats
    expect(stats).to include(total_metrics: 3, counter_metrics: 1, gauge_metrics: 1, histogram_metrics: 1, created_at: backend.created_at)
    expect(stats[:backend_uptime]).to be_a(Float).and be >= 0
  end

  it "clears everything and says how many" do
    backend.counter("a_total", x: "1")
    backend.counter("a_total", x: "2")
    expect(backend.clear!).to eq(2)
    expect(backend.all_metrics).to be_empty
  end

  it "stores the event router" do
    router = TaskerMetrics::EventRouter.instance
    expect(backend.register_event_router(router)).to equal(router)
    expect(backend.event_router).to equal(router)
  end

  it "shares one registry with the native API, appearing once in the exposition" do
    native = TaskerMetrics.registry.counter(:shared_total, docstring: "Shared", labels: [:k])
    native.increment(labels: { k: "v" })
    backend.counter("shared_total", k: "v").increment
    expect(native.get(labels: { k: "v" })).to eq(2)
    expect(TaskerMetrics.registry.export.scan(/^shared_total\{/).size).to eq(1)
    expect { backend.counter("shared_total", other: "v") }.to raise_error(ArgumentError, /unknown label "other"/)
    expect { backend.counter("shared_total") }.to raise_error(ArgumentError, /missing label "k"/)
  end

  it "counts exactly with 5 threads incrementing while 10 threads create counters" do
    writers = Array.new(5) { Thread.new { 1000.times { backend.counter("busy_total").increment } } }
    creators = Array.new(10) { |t| Thread.new { 50.times { |i| backend.counter("uniq_#{t}_#{i}_total").increment } } }
    (writers + creators).each(&:join)
    expect(backend.counter("busy_total").value).to eq(5000)
    expect(backend.all_metrics.size).to eq(501)
  end
end
