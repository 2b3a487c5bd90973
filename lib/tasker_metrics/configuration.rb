# frozen_string_literal: true

module TaskerMetrics
  # Settings of the gem, validated once and frozen (by the Railtie after initialisation, or by
  # {TaskerMetrics.install!}).
  #
  # @example
  #   TaskerMetrics.configure do |c|
  #     c.path = "/tasker/metrics"
  #     c.auth = { bearer_token: ENV.fetch("METRICS_TOKEN") }
  #   end
  class Configuration # rubocop:disable Metrics/ClassLength -- an accessor, a default and a rule per setting
    # @return [Boolean] serve and record metrics (false: the endpoint answers 503)
    attr_accessor :enabled
    # @return [Boolean, String, Regexp] subscribe to ActiveSupport::Notifications: true for every
    #   event the router maps, a pattern for those, false for none
    attr_accessor :subscribe
    # @return [String] removed from instrumented event names (+task.completed.tasker+)
    attr_accessor :event_suffix
    # @return [String, nil] where the exporter middleware serves metrics; nil: no middleware
    attr_accessor :path
    # @return [nil, Hash, #call] endpoint authentication, see {Rack::Auth}
    attr_accessor :auth
    # @return [Boolean, :auto] load the Tasker constants (+:auto+: when Tasker is loaded)
    attr_accessor :tasker
    # @return [String, nil] directory for multi-process storage (+TASKER_METRICS_MULTIPROC_DIR+)
    attr_accessor :multiprocess_dir
    # @return [Integer] default series limit per metric (metrics may set their own +max_series:+)
    attr_accessor :max_series
    # @return [Numeric, nil] default seconds without an update after which a series expires
    attr_accessor :expires_after
    # @return [Hash{String=>Array<Numeric>}] buckets of the histograms derived from events, by
    #   name (+"step_duration_seconds" => [0.1, 1, 10]+); others keep the defaults
    attr_accessor :derived_buckets
    # @return [Boolean, Hash] give the histograms derived from events native buckets too: +true+,
    #   or a Hash of settings (+factor:+, +max_buckets:+, +zero_threshold:+, +min_reset_interval:+)
    #   as {Registry#histogram}'s +native:+ takes
    attr_accessor :native_histograms
    # @return [Symbol] which processes join {multiprocess_dir}: +:servers+ (web server processes:
    #   Puma with the plugin, Unicorn, Passenger, Falcon, Pitchfork) or +:all+ (consoles, rake
    #   tasks, runners too)
    attr_accessor :multiprocess_scope
    # @return [Boolean] record controller requests ({RailsMetrics}; Rails only)
    attr_accessor :rails_metrics
    # @return [Boolean] record ActiveJob jobs ({RailsMetrics}; Rails only)
    attr_accessor :active_job_metrics

    def initialize
      @enabled = true
      @subscribe = true
      @event_suffix = Subscriber::DEFAULT_SUFFIX
      @path = "/metrics"
      @auth = nil
      @tasker = :auto
      @multiprocess_dir = ENV.fetch("TASKER_METRICS_MULTIPROC_DIR", nil)
      @max_series = 10_000
      @expires_after = nil
      @derived_buckets = {}
      @native_histograms = false
      @multiprocess_scope = ENV.fetch("TASKER_METRICS_MULTIPROC_SCOPE", "servers").to_sym
      @rails_metrics = true
      @active_job_metrics = true
    end

    # Applies limits, derived buckets and multi-process mode.
    # @return [self]
    def apply = apply_limits.apply_derived_buckets.apply_multiprocess

    # One line for the log at boot: where metrics are served, how, and what is recorded.
    # @return [String]
    def summary
      "tasker_metrics #{VERSION}: serving #{path || "no path (mount TaskerMetrics::Rack::Endpoint)"} (auth: #{auth_kind}" \
        "#{", enabled: #{enabled.inspect}" unless enabled == true}), multi-process: #{multiprocess_state}, " \
        "subscribed: #{subscribe ? "#{EventRouter.instance.metrics_events.size} events" : "no"}"
    end

    # Makes {max_series} and {expires_after} the defaults of metrics registered from now on.
    # @return [self]
    def apply_limits
      TaskerMetrics._set_default_max_series(max_series)
      TaskerMetrics._set_default_expires_after(expires_after)
      self
    end

    # Puts the default registry in multi-process mode when {multiprocess_dir} is set and this
    # process is one that joins it (see {multiprocess_scope}); says so in the log when it does not.
    # @return [self]
    def apply_multiprocess
      return self unless multiprocess_dir
      return self if TaskerMetrics.registry.multiprocess_dir == multiprocess_dir.to_s

      if multiprocess_scope == :all || TaskerMetrics.server_process?
        reset_before_joining
        TaskerMetrics.registry.enable_multiprocess(multiprocess_dir)
      else
        TaskerMetrics.log(:debug, "tasker_metrics: not joining #{multiprocess_dir} (not a server process; multiprocess_scope :servers)")
      end
      self
    end

    # Makes {derived_buckets} and {native_histograms} the buckets of the histograms the event
    # router derives.
    # @return [self]
    def apply_derived_buckets
      TaskerMetrics._set_derived_buckets(derived_buckets.transform_keys(&:to_s))
      TaskerMetrics._set_derived_native(native_histograms)
      self
    end

    # The {Rack::Auth} for {auth}, built once the configuration is frozen.
    # @return [Rack::Auth]
    def rack_auth = @rack_auth || Rack::Auth.new(auth)

    # Copies settings from a Hash-like (Rails' +config.tasker_metrics+).
    # @return [self]
    def merge!(options)
      options.to_h.each do |key, value|
        raise ArgumentError, "unknown tasker_metrics setting: #{key.inspect}" unless respond_to?("#{key}=")

        public_send("#{key}=", value)
      end
      self
    end

    # @raise [ArgumentError] naming the setting and the bad value
    # @return [self]
    def validate!
      RULES.each { |name, rule| check(name, rule.call(public_send(name))) }
      Rack::Auth.new(auth)
      self
    end

    RULES = {
      enabled: ->(v) { [true, false].include?(v) || v.respond_to?(:call) },
      subscribe: ->(v) { [true, false].include?(v) || v.is_a?(String) || v.is_a?(Regexp) },
      event_suffix: ->(v) { v.is_a?(String) },
      path: ->(v) { v.nil? || (v.is_a?(String) && v.start_with?("/")) },
      tasker: ->(v) { [true, false, :auto].include?(v) },
      multiprocess_dir: ->(v) { v.nil? || (v.is_a?(String) && !v.empty?) || v.respond_to?(:to_path) },
      max_series: ->(v) { v.is_a?(Integer) && v.positive? },
      expires_after: ->(v) { v.nil? || (v.is_a?(Numeric) && v.positive? && v.finite?) },
      derived_buckets: ->(v) { v.is_a?(Hash) && v.all? { |k, b| (k.is_a?(String) || k.is_a?(Symbol)) && b.is_a?(Array) } },
      native_histograms: ->(v) { [true, false].include?(v) || v.is_a?(Hash) },
      multiprocess_scope: ->(v) { %i[servers all].include?(v) },
      rails_metrics: ->(v) { [true, false].include?(v) },
      active_job_metrics: ->(v) { [true, false].include?(v) },
    }.freeze
    private_constant :RULES

    # Validates, then freezes.
    # @return [self]
    def freeze
      validate!
      @rack_auth = Rack::Auth.new(auth)
      super
    end

    private

    def auth_kind = auth.is_a?(Hash) ? auth.keys.first : { nil => "none" }.fetch(auth, "callable")

    def multiprocess_state = TaskerMetrics.registry.multiprocess_dir || (multiprocess_dir ? "not joined (#{multiprocess_scope})" : "off")

    # The Puma master (see the plugin) empties the directory of an earlier run before it joins.
    def reset_before_joining
      return unless TaskerMetrics.multiprocess_reset_pid == Process.pid && File.directory?(multiprocess_dir.to_s)

      removed = TaskerMetrics.reset_multiprocess_dir(multiprocess_dir)
      TaskerMetrics.multiprocess_reset_pid = nil
      TaskerMetrics.log(:info, "tasker_metrics: emptied #{multiprocess_dir} of #{removed} files of an earlier run")
    end

    def check(name, valid)
      raise ArgumentError, "tasker_metrics setting #{name} is invalid: #{public_send(name).inspect}" unless valid
    end
  end
end
