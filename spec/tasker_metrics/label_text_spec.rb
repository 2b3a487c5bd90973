# frozen_string_literal: true

# One rule turns a label value into text, whichever way the value arrives: the registry API, a
# Tasker MetricsBackend metric object, or a Tasker event payload. Only what happens to values
# the rule has no text for differs, as documented.
RSpec.describe "Label value text" do # rubocop:disable RSpec/DescribeClass -- one rule across three entry points
  named = Class.new
  stub_const_name = "LabelTextSpecJob"

  before { stub_const(stub_const_name, named) }

  let(:values) do
    { "a String" => %w[eu-1 eu-1], "a Symbol" => [:complete, "complete"], "a Fixnum" => [-7, "-7"],
      "a Bignum" => [2**70, (2**70).to_s], "true" => [true, "true"], "false" => [false, "false"],
      "a named Class" => [named, stub_const_name], "a Module" => [Comparable, "Comparable"], }
  end
  let(:backend) { TaskerMetrics::MetricsBackend.instance }

  it "gives the same text through the registry, the Tasker backend and a Tasker event payload" do
    counter = registry.counter(:rule_total, docstring: "rule", labels: %i[status])
    values.each do |what, (value, text)|
      counter.increment(labels: { status: value })
      expect(counter.values.keys.last).to eq({ status: text }), "registry, #{what}"
      backend.counter("rule_backend_total", status: value).increment
      expect(backend.all_metrics).to include(%(rule_backend_total{status="#{text}"})), "backend, #{what}"
      backend.handle_event("task.completed", status: value)
      expect(backend.all_metrics).to include(%(task_completed_total{status="#{text}"})), "payload, #{what}"
    end
  end

  it "raises TypeError in the registry, leaves the label out of a payload and uses to_s in the backend for values without text" do
    counter = registry.counter(:rule_total, docstring: "rule", labels: %i[status])
    [nil, 1.5, Class.new, { a: 1 }].each do |value|
      expect { counter.increment(labels: { status: value }) }
        .to raise_error(TypeError, /label "status" value must be a String, Symbol, Integer, true, false or a named Class/)
      backend.handle_event("task.completed", status: value)
      expect(backend.all_metrics).to include("task_completed_total")
      backend.counter("rule_backend_total", status: value).increment
      expect(backend.all_metrics).to include(%(rule_backend_total{status="#{value}"}))
    end
    expect(counter.values).to be_empty
  end
end
