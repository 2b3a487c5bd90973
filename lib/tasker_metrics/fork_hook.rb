# frozen_string_literal: true

# Fork safety: per-process state is renewed in every child.
module TaskerMetrics
  # Runs {TaskerMetrics.after_fork} in every forked child, through Ruby's +Process._fork+ hook
  # (Ruby >= 3.1), so nothing on the hot path ever checks the pid.
  module ForkHook
    # @api private
    def _fork
      # Scrapes run without the GVL and hold locks a child needs: let them finish first.
      TaskerMetrics._close_fork_gate
      pid = begin
        super
      ensure
        TaskerMetrics._open_fork_gate
      end
      TaskerMetrics.after_fork if pid.zero?
      pid
    end
  end

  @after_fork = []

  class << self
    # Registers a block to run in each forked child (before it runs anything else of ours).
    # @return [Proc]
    def on_fork(&block)
      @after_fork << block
      block
    end

    # @api private
    def after_fork
      # First: until it runs, this child's series still point into its parent's file.
      _multiprocess_after_fork.each { |problem| log(:warn, "tasker_metrics: after fork: #{problem}") }
      @worker_id = nil
      _reseed_sampler
      MetricsBackend.instance.refresh_instance_id
      @after_fork.each(&:call)
    end
  end

  Process.singleton_class.prepend(ForkHook) if Process.respond_to?(:_fork)
end
