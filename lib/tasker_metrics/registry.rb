# frozen_string_literal: true

module TaskerMetrics
  # A set of metrics exported together. Registration and rendering are native.
  #
  # @example
  #   registry = TaskerMetrics::Registry.new
  #   jobs = registry.counter(:jobs_total, docstring: "Jobs run", labels: %i[queue])
  #   registry.export(format: :openmetrics)
  #
  # @!method counter(name, docstring:, labels: [], unit: nil, max_series: nil, expires_after: nil)
  #   Registers a counter, or returns the one registered with the same labels.
  #   @param max_series [Integer, nil] most label sets kept (default 10 000, see {Configuration#max_series});
  #     updates with new label sets beyond it are dropped and counted in
  #     +tasker_metrics_series_dropped_total{metric}+, with one warning per metric
  #   @param expires_after [Numeric, nil] seconds without an update after which a series leaves the exposition
  #   @return [Counter]
  #   @raise [ArgumentError] for an invalid name or labels, or a name taken by another metric
  # @!method gauge(name, docstring:, labels: [], unit: nil, max_series: nil, expires_after: nil, aggregation: :all)
  #   @param aggregation [Symbol] multi-process mode only: how the processes' values combine —
  #     +:all+ (one series per process, labelled +pid+), +:liveall+, +:sum+, +:livesum+, +:max+,
  #     +:min+ or +:mostrecent+; the +live+ modes leave out processes that have exited
  #   @return [Gauge]
  # @!method histogram(name, docstring:, labels: [], unit: nil, max_series: nil, expires_after: nil, buckets: Histogram::DEFAULT_BUCKETS)
  #   @return [Histogram]
  # @!method get(name)
  #   @return [Counter, Gauge, Histogram, nil]
  # @!method exist?(name)
  #   @return [Boolean]
  # @!method unregister(name)
  #   @return [Boolean] whether it was registered
  # @!method metrics
  #   @return [Array<Counter, Gauge, Histogram>] sorted by name
  # @!method clear
  #   @return [Integer] how many metrics were removed
  # @!method multiprocess_dir
  #   @return [String, nil] the shared directory in multi-process mode
  class Registry
    FORMATS = %i[prometheus openmetrics].freeze

    # Moves this registry's values (existing ones included) into this process's file in +dir+,
    # shared with the other processes writing there: from now on {#export} merges every
    # process's file. Forked children get their own file automatically.
    #
    # @param dir [String, Pathname] created (mode 0700) when missing
    # @return [self]
    # @raise [ArgumentError] when +dir+ is not a directory or another registry of this process uses it
    # @raise [StoreError] when the file cannot be created
    # @example
    #   TaskerMetrics.registry.enable_multiprocess("/run/app/metrics")
    def enable_multiprocess(dir)
      _enable_multiprocess(dir.respond_to?(:to_path) ? dir.to_path : dir)
      self
    end

    # Takes this registry out of multi-process mode; its series keep this process's values in
    # memory. (Its file stays until the process exits, so the other processes' totals do not drop.)
    # @return [self]
    def disable_multiprocess
      _disable_multiprocess
      self
    end

    # The exposition text, rendered without holding the GVL.
    #
    # @param format [Symbol] +:prometheus+ (text 0.0.4) or +:openmetrics+ (1.0.0, ends in +# EOF+)
    # @param created [Boolean] OpenMetrics only: add +_created+ samples
    # @param names [Array<String, Symbol>, nil] only these families (by registered, family or
    #   sample name, as +?name[]=+ asks); nil for all
    # @return [String]
    # @raise [ArgumentError] for an unknown format
    # @example
    #   puts TaskerMetrics.registry.export
    #   TaskerMetrics.registry.export(names: %w[task_completed_total step_duration_seconds])
    def export(format: :prometheus, created: false, names: nil) = rendered(format, false, created, names)

    # The exposition gzipped (level 1) as a binary String, for HTTP responses.
    # @return [String]
    def export_gzip(format: :prometheus, created: false, names: nil) = rendered(format, true, created, names)

    # The exposition as a Rack body that renders it piece by piece (see {ExpositionStream}): for
    # very large expositions, which then never sit whole in memory. Read it once. Multi-process
    # files are merged here; what could not be read is reported here, as {#export} does.
    # @param gzip [Boolean] gzip the pieces (level 1) into one gzip stream
    # @return [ExpositionStream]
    # @example
    #   TaskerMetrics.registry.export_stream.each { |piece| socket.write(piece) }
    def export_stream(format: :prometheus, created: false, names: nil, gzip: false)
      stream, problems = _render_stream(format, gzip ? true : false, created, names)
      Multiprocess.report(problems) unless problems.empty?
      stream
    end

    private

    def rendered(format, gzip, created, names)
      body, problems = _render(format, gzip, created, names)
      Multiprocess.report(problems) unless problems.empty?
      body
    end
  end
end
