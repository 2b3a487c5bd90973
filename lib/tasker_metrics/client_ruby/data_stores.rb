# frozen_string_literal: true

require "fileutils"

module Prometheus
  module Client
    # Where values are kept. Every store here keeps them in the native core, lock-free; they
    # differ in whether processes share them.
    module DataStores
      # Values in this process's memory (client_ruby's default, thread-safe).
      class Synchronized
        # Any store_settings are refused: the in-memory stores take none.
        def aggregation_for(_type, settings)
          raise ArgumentError, "Synchronized doesn't allow any metric_settings (got #{settings.inspect})" unless settings.empty?

          nil
        end

        private

        def apply(registry)
          registry.disable_multiprocess if registry.multiprocess_dir
        end
      end

      # The same as {Synchronized} here (the native core is thread-safe at no cost).
      class SingleThreaded < Synchronized; end

      # Values shared by the processes of a pre-forking server: tasker_metrics' multi-process
      # mode on `dir` (one file per process, merged at scrape, compacted when processes exit).
      class DirectFileStore
        class InvalidStoreSettingsError < StandardError; end

        AGGREGATION_MODES = [MAX = :max, MIN = :min, SUM = :sum, ALL = :all, MOST_RECENT = :most_recent].freeze
        DEFAULT_METRIC_SETTINGS = { aggregation: SUM }.freeze
        DEFAULT_GAUGE_SETTINGS = { aggregation: ALL }.freeze

        attr_reader :dir

        def initialize(dir:)
          @dir = dir.to_s
          FileUtils.mkdir_p(@dir)
        end

        # The aggregation of a metric of `type` with `settings`.
        # @raise [InvalidStoreSettingsError]
        def aggregation_for(type, settings)
          settings = (type == :gauge ? DEFAULT_GAUGE_SETTINGS : DEFAULT_METRIC_SETTINGS).merge(settings)
          raise InvalidStoreSettingsError, "Only :aggregation setting can be specified" unless (settings.keys - [:aggregation]).empty?

          check_mode(type, settings[:aggregation])
        end

        private

        def check_mode(type, mode)
          raise InvalidStoreSettingsError, "Metrics need a valid :aggregation key" unless AGGREGATION_MODES.include?(mode)
          raise InvalidStoreSettingsError, "Only :gauge metrics support :most_recent aggregation" if mode == MOST_RECENT && type != :gauge
          if type != :gauge && mode != SUM
            raise InvalidStoreSettingsError, "tasker_metrics sums #{type}s across processes: only :sum aggregation is supported for them"
          end

          mode
        end

        def apply(registry)
          current = registry.multiprocess_dir
          return if current && File.expand_path(current) == File.expand_path(@dir)

          registry.disable_multiprocess if current
          registry.enable_multiprocess(@dir)
        end
      end
    end
  end
end
