# frozen_string_literal: true

RSpec.describe "TaskerMetrics.record" do # rubocop:disable RSpec/DescribeClass -- a module function
  let(:backend) { TaskerMetrics::MetricsBackend.instance }
  let(:router) { TaskerMetrics::EventRouter.instance }

  it "routes, derives and updates in one call" do
    expect(TaskerMetrics.record("step.completed", status: "ok", handler_class: "H", namespace: "n", duration: 0.1)).to be(true)
    expect(backend.all_metrics['step_completed_total{handler="H",namespace="n",status="ok"}'].value).to eq(1)
    expect(TaskerMetrics.record(:"task.failed")).to be(true)
  end

  it "records nothing for unmapped, trace-only and disabled events" do
    router.map("off.completed", backends: [:metrics], enabled: false)
    expect(TaskerMetrics.record("nope.completed")).to be(false)
    expect(TaskerMetrics.record("observability.task.finalize")).to be(false)
    expect(TaskerMetrics.record("off.completed")).to be(false)
    expect(backend.all_metrics).to be_empty
  end

  it "samples once: a 0.1 rate over 100 000 events routes 10 000 ± 600, and every routed event is counted" do
    router.map("sampled.completed", backends: [:metrics], sampling_rate: 0.1)
    routed = 100_000.times.count { TaskerMetrics.record("sampled.completed") }
    expect(routed).to be_within(600).of(10_000)
    expect(backend.all_metrics["sampled_completed_total"].value).to eq(routed)
  end

  it "samples once through route_event too" do
    router.map("viaroute.completed", backends: [:metrics], sampling_rate: 0.1)
    routed = 100_000.times.count { router.route_event("viaroute.completed").key?(:metrics) }
    expect(routed).to be_within(600).of(10_000)
    expect(backend.all_metrics["viaroute_completed_total"].value).to eq(routed)
  end

  it "refuses bad arguments" do
    expect { TaskerMetrics.record(nil) }.to raise_error(ArgumentError, "event_name cannot be nil")
    expect { TaskerMetrics.record("task.completed", "x") }.to raise_error(TypeError, /payload must be a Hash/)
    expect { TaskerMetrics.record }.to raise_error(ArgumentError, /wrong number of arguments/)
  end

  it "raises what deriving refused, for the subscriber to handle" do
    expect { TaskerMetrics.record("task.completed", duration: "slow") }
      .to raise_error(ArgumentError, "Observed value must be numeric, got: String")
  end
end
