# frozen_string_literal: true

require "puma/plugin"

# `plugin :tasker_metrics` in config/puma.rb: names workers (`puma_0`, `puma_1`, ...) on
# per-process gauges, marks Puma's processes as the server ones that join the multi-process
# directory, and in cluster mode has the master empty that directory of an earlier run's files
# as it boots (TASKER_METRICS_KEEP_MULTIPROC_DIR=1 keeps them). Works with and without
# preload_app!, with fork_worker and with phased restarts: the hooks load the gem themselves.
Puma::Plugin.create do
  # Runs in the master before any worker is forked (and before a preloaded app loads).
  def start(launcher)
    require "tasker_metrics"
    TaskerMetrics.server_process!
    options = launcher.options
    cluster = options[:workers].to_i.positive?
    TaskerMetrics::PumaPlugin.master_booted(cluster: cluster)
    return unless cluster

    # Puma 5 and 6 run plain callables added to these lists (`all_of` merges every layer).
    (options.user_options[:before_worker_boot] ||= []) << ->(index) { TaskerMetrics::PumaPlugin.worker_booted(index) }
  end
end

module TaskerMetrics
  # What the Puma plugin does in each process (lib/puma/plugin/tasker_metrics.rb).
  module PumaPlugin
    module_function

    # In the master: empty the multi-process directory of an earlier run, now if this process
    # has joined it already, else when it joins (a preloaded app configures it later).
    def master_booted(cluster:)
      return unless cluster && ENV["TASKER_METRICS_KEEP_MULTIPROC_DIR"].to_s.empty?

      TaskerMetrics.multiprocess_reset_pid = Process.pid
      dir = TaskerMetrics.registry.multiprocess_dir
      return unless dir

      removed = TaskerMetrics.reset_multiprocess_dir(dir)
      TaskerMetrics.multiprocess_reset_pid = nil
      TaskerMetrics.log(:info, "tasker_metrics: emptied #{dir} of #{removed} files of an earlier run")
    end

    # In each worker, before the app loads (or after the fork of a preloaded one).
    def worker_booted(index)
      TaskerMetrics.server_process!
      TaskerMetrics.worker_id = "puma_#{index}"
    end
  end
end
