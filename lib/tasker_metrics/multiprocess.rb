# frozen_string_literal: true

# Multi-process mode: per-process files in a shared directory, merged at scrape.
module TaskerMetrics
  # Multi-process mode: every worker writes its own memory-mapped file in one directory and any
  # worker's scrape merges them all (see the README's "Multi-process servers").
  module Multiprocess
    @warned = {}
    @lock = Mutex.new

    class << self
      # Warns once per file and reason about files a scrape skipped or only partly read (they
      # are also counted in +tasker_metrics_multiprocess_files{state="skipped"}+).
      # @api private
      def report(problems)
        problems.each do |path, reason|
          next unless @lock.synchronize { @warned.size < 1_000 && !@warned.key?([path, reason]) && (@warned[[path, reason]] = true) }

          TaskerMetrics.log :warn, "tasker_metrics: skipped multi-process file #{path}: #{reason}"
        end
      end
    end
  end

  # Process identity for multi-process mode.
  class << self
    # Empties a multi-process directory of everything no live process owns (files of exited
    # processes and the archive), so a new deploy starts from zero. Live processes' files stay.
    # The Puma plugin calls it in the master at boot.
    # @param dir [String, Pathname]
    # @return [Integer] files removed
    # @raise [StoreError] when the directory cannot be read
    def reset_multiprocess_dir(dir) = _reset_multiprocess_dir(dir.respond_to?(:to_path) ? dir.to_path : dir.to_s)

    # The pid of the process that empties the directory when it joins it (the Puma master).
    # @api private
    attr_accessor :multiprocess_reset_pid

    # Names this process on +:all+ and +:liveall+ gauges in multi-process mode (+pid="puma_0"+
    # instead of the pid), so a replaced worker takes over its predecessor's series.
    #
    # @example config/puma.rb
    #   on_worker_boot { |index| TaskerMetrics.worker_id = "puma_#{index}" }
    # @param id [String, Symbol, Integer] at most 64 bytes are kept
    def worker_id=(id)
      unless id.is_a?(String) || id.is_a?(Symbol) || id.is_a?(Integer)
        raise TypeError, "worker_id must be a String, Symbol or Integer, got #{id.inspect}"
      end
      raise ArgumentError, "worker_id must not be empty" if id.to_s.empty?

      _set_worker_identity(id.to_s)
      @worker_id = id.to_s
    end

    # @return [String, nil] set by {worker_id=} in this process
    attr_reader :worker_id
  end
end
