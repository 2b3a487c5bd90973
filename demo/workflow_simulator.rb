# frozen_string_literal: true

# Simulated Tasker workflows: tasks in a few namespaces run their steps, some steps fail and are
# retried, some tasks fail. Every lifecycle event goes through `publish`, which by default is
# TaskerMetrics.record (the call Tasker's event subscriber makes); the live demo publishes
# through ActiveSupport::Notifications instead.
class WorkflowSimulator
  WORKFLOWS = {
    "orders" => %w[Orders::ValidateCart Orders::ReserveStock Orders::ChargeCard Orders::Ship],
    "payments" => %w[Payments::Authorize Payments::Capture],
    "inventory" => %w[Inventory::Count Inventory::Reconcile Inventory::Report],
  }.freeze

  attr_reader :published

  def initialize(seed: 42, publish: ->(name, payload) { TaskerMetrics.record(name, payload) })
    @random = Random.new(seed)
    @publish = publish
    @published = Hash.new(0)
  end

  # Runs `count` tasks; returns how many completed.
  def run(count)
    count.times.count { run_task(WORKFLOWS.keys[@random.rand(WORKFLOWS.size)]) }
  end

  private

  def run_task(namespace)
    task = { namespace: namespace, handler_class: "#{namespace.capitalize}Workflow" }
    publish("task.initialize_requested", task)
    publish("task.start_requested", task)
    publish("workflow.viable_steps_discovered", task.merge(step_count: WORKFLOWS[namespace].size))
    elapsed = 0.0
    ok = WORKFLOWS[namespace].all? do |handler|
      duration = run_step(namespace, handler)
      elapsed += duration if duration
      duration
    end
    publish(ok ? "task.completed" : "task.failed", task.merge(status: ok ? "complete" : "error", duration: elapsed))
    ok
  end

  # Returns the step's duration, or false when it failed for good.
  def run_step(namespace, handler)
    step = { namespace: namespace, handler_class: handler }
    3.times do |attempt|
      publish("step.execution_requested", step.merge(attempt: attempt))
      publish("database.query_executed", step.merge(duration: @random.rand(0.001..0.02)))
      duration = @random.rand(0.005..0.8)
      if @random.rand < 0.8
        publish("step.completed", step.merge(status: "complete", execution_duration: duration))
        return duration
      end
      publish("step.failed", step.merge(status: "error", execution_duration: duration))
      publish("step.retry_requested", step.merge(attempt: attempt + 1)) if attempt < 2
      publish("observability.step.backoff", step.merge(backoff_seconds: 2**attempt))
    end
    publish("observability.step.max_retries_reached", step)
    false
  end

  def publish(name, payload)
    @published[name] += 1
    @publish.call(name, payload)
  end
end
