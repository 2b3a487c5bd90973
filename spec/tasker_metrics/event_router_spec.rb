# frozen_string_literal: true

# The contract's default table (§3.1) and the rest of Tasker's lifecycle catalogue.
module RouterTables
  TASKER_DEFAULTS = [
    ["task.initialize_requested", %i[trace metrics], 1.0, :normal],
    ["task.start_requested", %i[trace metrics], 1.0, :normal],
    ["task.completed", %i[trace metrics], 1.0, :normal],
    ["task.failed", %i[trace metrics], 1.0, :normal],
    ["step.execution_requested", %i[trace metrics], 1.0, :normal],
    ["step.completed", %i[trace metrics], 1.0, :normal],
    ["step.failed", %i[trace metrics], 1.0, :normal],
    ["step.retry_requested", %i[trace metrics], 1.0, :normal],
    ["workflow.viable_steps_discovered", %i[trace metrics], 1.0, :normal],
    ["observability.task.enqueue", %i[metrics], 1.0, :high],
    ["observability.task.finalize", %i[trace], 1.0, :normal],
    ["observability.step.backoff", %i[trace metrics], 1.0, :normal],
    ["observability.step.find_viable", %i[trace], 1.0, :normal],
    ["observability.step.handle", %i[trace], 1.0, :normal],
    ["observability.step.skip", %i[trace metrics], 1.0, :normal],
    ["observability.step.max_retries_reached", %i[trace metrics], 1.0, :high],
    ["step.before_handle", %i[trace], 1.0, :normal],
    ["database.query_executed", %i[trace metrics], 0.1, :normal],
    ["dependency.resolved", %i[trace], 1.0, :normal],
    ["batch.step_execution", %i[trace metrics], 1.0, :normal],
    ["memory.spike_detected", %i[metrics], 1.0, :critical],
    ["performance.slow_operation", %i[trace metrics], 1.0, :high],
  ].freeze

  CATALOGUE = %w[
    task.retry_requested task.cancelled task.resolved_manually task.before_transition
    step.initialize_requested step.handle step.cancelled step.resolved_manually step.before_transition
    workflow.task_started workflow.task_completed workflow.task_failed workflow.step_completed workflow.step_failed
    workflow.no_viable_steps workflow.orchestration_requested workflow.task_finalization_started
    workflow.task_finalization_completed workflow.task_reenqueue_started workflow.task_reenqueue_requested
    workflow.task_reenqueue_failed workflow.task_reenqueue_delayed workflow.task_state_unclear
    workflow.step_execution_failed workflow.viable_steps_batch_ready workflow.steps_execution_started
    workflow.steps_execution_completed observability.task.handle
  ].freeze
end

RSpec.describe TaskerMetrics::EventRouter do
  subject(:router) { described_class.instance }

  it "is a singleton" do
    expect(described_class.instance).to equal(router)
    expect { described_class.new }.to raise_error(NoMethodError)
    expect(described_class.configure { |r| expect(r).to equal(router) }).to equal(router)
  end

  describe "default mappings" do
    RouterTables::TASKER_DEFAULTS.each_with_index do |(name, backends, rate, priority), i|
      it "maps Tasker's ##{i + 1} #{name} to #{backends.join(", ")} at #{rate}, #{priority}" do
        expect(router.mapping_for(name).to_h).to include(backends: backends, sampling_rate: rate, priority: priority, enabled: true)
        expect(router.configured_events[i]).to eq(name)
      end
    end

    RouterTables::CATALOGUE.each do |name|
      it "gives the catalogue event #{name} a routing decision" do
        mapping = router.mapping_for(name)
        expect(mapping).to be_a(TaskerMetrics::EventMapping)
        expect(mapping.enabled).to be(true)
      end
    end

    it "routes terminal and failure events to metrics, noisy transitions to trace only, failures at high priority" do
      %w[task.cancelled step.cancelled workflow.task_failed workflow.step_failed workflow.task_reenqueue_failed].each do |name|
        expect(router.routes_to_metrics?(name)).to be(true), name
      end
      %w[task.before_transition step.before_transition].each { |name| expect(router.mapping_for(name).backends).to eq([:trace]) }
      %w[workflow.task_failed workflow.step_failed workflow.task_reenqueue_failed].each do |name|
        expect(router.mapping_for(name).priority).to eq(:high)
      end
    end

    it "has routing_stats on a fresh router" do
      expect(router.routing_stats).to eq(total_mappings: 50, trace_events: 48, metrics_events: 35, log_events: 1,
                                         enabled_mappings: 50, high_priority: 9, sampled_mappings: 1,)
      expect(router.configured_events.size - 8).to be >= 25
    end
  end

  describe "#map" do
    it "registers with options and returns the mapping" do
      m = router.map("order.shipped", backends: %i[metrics logs], sampling_rate: 0.5, priority: :high, metadata: { a: 1 })
      expect(m).to eq(router.mapping_for("order.shipped"))
      expect(m.to_h).to include(backends: %i[metrics logs], sampling_rate: 0.5, priority: :high, metadata: { a: 1 })
    end

    it "accepts a one-pair Hash, with braces and without (Ruby 3)" do
      router.map({ "a.x" => [:metrics] }, sampling_rate: 0.5)
      router.map("b.x" => [:logs])
      router.map("c.x" => :metrics, priority: :low)
      expect(router.mapping_for("a.x").to_h).to include(backends: [:metrics], sampling_rate: 0.5)
      expect(router.mapping_for("b.x").backends).to eq([:logs])
      expect(router.mapping_for("c.x").to_h).to include(backends: [:metrics], priority: :low)
    end

    it "converts Symbol names and replaces in place" do
      router.map(:"task.completed", backends: [:logs])
      expect(router.mapping_for("task.completed").backends).to eq([:logs])
      expect(router.configured_events[2]).to eq("task.completed")
      expect(router.events_for_backend(:metrics)).not_to include("task.completed")
    end

    it "refuses nil and invalid fields, changing nothing" do
      expect { router.map(nil) }.to raise_error(ArgumentError, "event_name cannot be nil")
      expect { router.map("x", backends: [:nope]) }.to raise_error(ArgumentError, /Invalid backend: :nope/)
      expect { router.map({ "a" => [:trace], "b" => [:trace] }) }.to raise_error(ArgumentError, /one \{event_name => backends\} pair/)
      expect(router.mapping_exists?("x")).to be(false)
    end
  end

  it "answers mapping_for and mapping_exists?" do
    expect(router.mapping_for("nope")).to be_nil
    expect(router.mapping_exists?("task.completed")).to be(true)
    expect(router.mapping_exists?(:"task.completed")).to be(true)
    expect(router.mapping_exists?("nope")).to be(false)
  end

  describe "predicates" do
    it "are deterministic for sampled events and false for unknown ones" do
      expect(Array.new(200) { router.routes_to_metrics?("database.query_executed") }).to all(be(true))
      expect(router.routes_to_traces?("nope")).to be(false)
      expect(router.routes_to_logs?(nil)).to be(false)
    end

    it "are false when disabled or at rate 0" do
      router.map("off.x", backends: [:metrics], enabled: false)
      router.map("zero.x", backends: [:metrics], sampling_rate: 0)
      expect(router.routes_to_metrics?("off.x")).to be(false)
      expect(router.routes_to_metrics?("zero.x")).to be(false)
    end

    it "tell traces, metrics and logs apart" do
      router.map("l.x", backends: [:logs])
      expect([router.routes_to_traces?("l.x"), router.routes_to_metrics?("l.x"), router.routes_to_logs?("l.x")]).to eq([false, false, true])
    end
  end

  describe "#events_for_backend" do
    it "accepts singular and plural names and returns a frozen copy" do
      %i[trace traces].each { |b| expect(router.events_for_backend(b)).to include("observability.task.finalize") }
      %i[metric metrics].each { |b| expect(router.events_for_backend(b)).to include("observability.task.enqueue") }
      %i[log logs].each { |b| expect(router.events_for_backend(b)).to eq(["workflow.task_state_unclear"]) }
      expect(router.events_for_backend(:metrics)).to be_frozen
    end

    it "refuses other backends" do
      expect { router.events_for_backend(:email) }
        .to raise_error(ArgumentError, "Unknown backend type: :email. Valid backends: :trace, :metrics, :logs")
    end
  end

  describe "#route_event" do
    it "returns {} for unmapped, disabled and unsampled events" do
      router.map("off.x", backends: [:metrics], enabled: false)
      router.map("zero.x", backends: [:metrics], sampling_rate: 0.0)
      expect(router.route_event("nope")).to eq({})
      expect(router.route_event("off.x")).to eq({})
      expect(router.route_event("zero.x")).to eq({})
    end

    it "hands metrics events to the MetricsBackend" do
      expect(router.route_event("task.completed", status: "ok")).to eq(traces: true, metrics: true)
      expect(TaskerMetrics::MetricsBackend.instance.all_metrics).to include('task_completed_total{status="ok"}')
    end

    it "calls registered trace and log handlers" do
      calls = []
      router.register_trace_handler { |name, payload| (calls << [:trace, name, payload]) && :traced }
      router.register_log_handler(->(name, _payload) { (calls << [:log, name]) && :logged })
      router.map("all.x", backends: %i[trace metrics logs])
      expect(router.route_event("all.x", { a: 1 })).to eq(traces: :traced, metrics: true, logs: :logged)
      expect(calls).to eq([[:trace, "all.x", { a: 1 }], [:log, "all.x"]])
      expect { router.register_trace_handler(42) }.to raise_error(ArgumentError, /respond to #call/)
    end
  end

  describe "Tasker's route_event: its trace and log backends" do
    let(:seen) { [] }

    def stand_in_backend(kind, answer)
      calls = seen
      Class.new do
        define_singleton_method(:instance) { @instance ||= new }
        define_method(:handle_event) { |name, payload| (calls << [kind, name, payload]) && answer }
      end
    end

    before do
      require "tasker_metrics/tasker" # the Tasker constants installed, as in a Tasker app
      stub_const("Tasker::Telemetry::TraceBackend", stand_in_backend(:trace, :span))
      stub_const("Tasker::Telemetry::LogBackend", stand_in_backend(:log, :logged))
    end

    it "hands routed events to Tasker::Telemetry::TraceBackend and LogBackend, metrics first as Tasker does" do
      router.map("all.x", backends: %i[logs trace metrics])
      result = router.route_event("all.x", { a: 1 })
      expect(result).to eq(metrics: true, traces: :span, logs: :logged)
      expect(result.keys).to eq(%i[metrics traces logs])
      expect(seen).to eq([[:trace, "all.x", { a: 1 }], [:log, "all.x", { a: 1 }]])
    end

    it "prefers a handler registered on the router over Tasker's backend" do
      router.register_trace_handler { |_name, _payload| :own }
      expect(router.route_event("task.completed")).to eq(metrics: true, traces: :own)
      expect(seen).to be_empty
    end

    it "does not call backends the event is not routed to, nor any for an unsampled event" do
      router.map("none.x", backends: [:trace], sampling_rate: 0.0)
      router.route_event("observability.task.enqueue") # metrics only
      router.route_event("none.x")
      expect(seen).to be_empty
    end
  end

  it "registers itself with the MetricsBackend, as Tasker's router does" do
    expect(TaskerMetrics::MetricsBackend.instance.event_router).to equal(router)
  end

  it "has Tasker's trace_events, metrics_events and log_events readers" do
    router.map("logs.only", backends: [:logs])
    expect(router.trace_events).to eq(router.events_for_backend(:trace)).and include("task.completed")
    expect(router.metrics_events).to eq(router.events_for_backend(:metrics)).and include("task.completed")
    expect(router.log_events).to eq(router.events_for_backend(:logs)).and include("logs.only")
    router.map("task.completed", backends: [:trace])
    expect(router.metrics_events).not_to include("task.completed")
  end

  describe "names as Tasker's MetricsSubscriber passes them on (every _ turned into .)" do
    it "finds the mapping with underscores when no mapping has the dotted name" do
      expect(router.mapping_for("task.start.requested").event_name).to eq("task.start_requested")
      expect(router.mapping_exists?("step.retry.requested")).to be(true)
      expect(router.routes_to_metrics?("workflow.task.reenqueue.failed")).to be(true)
    end

    it "never finds a dotted mapping for a name with an underscore (Tasker's own spec)" do
      router.map("test.event", backends: [:trace])
      expect(router.mapping_for(:test_event)).to be_nil
      expect(router.mapping_exists?(:test_event)).to be(false)
    end

    it "records and routes under the mapped name" do
      backend = TaskerMetrics::MetricsBackend.instance
      expect(router.route_event("task.start.requested", { status: "ok" })).to eq(metrics: true, traces: true)
      expect(TaskerMetrics.record("step.retry.requested", {})).to be(true)
      expect(backend.all_metrics.keys).to include('tasker_events_total{event="task.start_requested"}',
                                                  'tasker_events_total{event="step.retry_requested"}',)
      expect(backend.all_metrics.keys.grep(/start\.requested|retry\.requested/)).to be_empty
    end

    it "lets an exact mapping win" do
      router.map("task.start.requested", backends: [:logs])
      expect(router.mapping_for("task.start.requested").backends).to eq([:logs])
      expect(router.route_event("task.start.requested")).to eq(logs: true)
    end

    it "refuses a mapping that would answer the same dotted name as another, changing nothing" do
      router.map("order.paid_late", backends: [:metrics])
      expect { router.map("order_paid.late", backends: [:metrics]) }
        .to raise_error(ArgumentError, 'event_name "order_paid.late" is ambiguous with the mapped "order.paid_late": ' \
                                       "Tasker's subscriber passes both on as \"order.paid.late\"",)
      expect(router.mapping_exists?("order_paid.late")).to be(false)
      expect(router.mapping_for("order.paid.late").event_name).to eq("order.paid_late")
    end
  end

  describe "#bulk_configure" do
    it "maps Arrays, Hashes, Symbols and Strings" do
      result = router.bulk_configure("a.x" => %i[trace metrics], "b.x" => { backends: [:logs], sampling_rate: 0.5 },
                                     "c.x" => :metrics, "d.x" => "logs", "e.x" => { "priority" => "high" },)
      expect(result.map(&:event_name)).to eq(%w[a.x b.x c.x d.x e.x])
      expect(router.mapping_for("b.x").to_h).to include(backends: [:logs], sampling_rate: 0.5)
      expect(router.mapping_for("c.x").backends).to eq([:metrics])
      expect(router.mapping_for("d.x").backends).to eq([:logs])
      expect(router.mapping_for("e.x").priority).to eq(:high)
    end

    it "returns [] for nil and {}" do
      expect(router.bulk_configure(nil)).to eq([])
      expect(router.bulk_configure({})).to eq([])
    end

    it "refuses other configs" do
      expect { router.bulk_configure("x" => 42) }
        .to raise_error(ArgumentError, "Invalid config for x: 42. Must be Array, Hash, or Symbol")
    end
  end

  it "returns mappings as a frozen Hash and resets to the defaults" do
    router.map("custom.x")
    expect(router.mappings).to be_frozen
    expect(router.mappings["custom.x"]).to be_a(TaskerMetrics::EventMapping)
    router.reset!
    expect(router.mapping_exists?("custom.x")).to be(false)
    expect(router.routing_stats[:total_mappings]).to eq(50)
  end

  it "survives re-mapping while 4 threads route events" do
    stop = false
    errors = Queue.new
    readers = Array.new(4) do
      Thread.new do
        until stop
          begin
            router.route_event("task.completed")
            errors << "lost task.completed" unless router.mapping_exists?("task.completed")
          rescue StandardError => e
            errors << e
          end
        end
      end
    end
    500.times do |i|
      router.map("task.completed", backends: i.even? ? [:trace] : %i[trace metrics])
      router.map("dyn.#{i}", backends: [:metrics])
    end
    stop = true
    readers.each(&:join)
    expect(errors.size).to eq(0)
    expect((0...500).map { |i| router.mapping_exists?("dyn.#{i}") }).to all(be(true))
  end
end
