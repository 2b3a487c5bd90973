# frozen_string_literal: true

# Configuring and installing the gem.
module TaskerMetrics
  @configuration = Configuration.new
  # Program names of web server processes (master and workers), for {server_process?}.
  SERVER_PROCESS = /\A(puma|unicorn|passenger|falcon|pitchfork)\b/i

  class << self
    # @return [Configuration] frozen once installed
    attr_reader :configuration

    # @yieldparam config [Configuration]
    # @return [Configuration]
    # @raise [FrozenError] after the configuration was frozen by {install!}
    def configure
      raise FrozenError, "TaskerMetrics is already installed (#{@installed_at}); configure it before" if configuration.frozen?

      # On a copy: a block that raises or sets something invalid changes nothing.
      candidate = configuration.dup
      yield candidate
      @configuration = candidate.validate!.apply_limits.apply_multiprocess
    end

    # Freezes the configuration and applies it: Tasker constants and the notifications
    # subscriber. The Railtie calls it after initialisation; plain Ruby apps call it themselves
    # (and add {Rack::Exporter} to their Rack stack). Idempotent.
    #
    # @param options [Hash] settings merged into {configuration} first
    # @return [Configuration]
    def install!(**options)
      config = configuration.frozen? ? configuration : configuration.merge!(options).freeze.apply
      @installed_at ||= caller_locations(1, 1).first.to_s
      require_relative "tasker" if tasker?(config)
      Subscriber.subscribe!(config.subscribe == true ? nil : config.subscribe, suffix: config.event_suffix) if config.subscribe
      config
    end

    # Marks this process as a web server process, which joins the multi-process directory
    # (the Puma plugin does this; other servers are recognised by their process name).
    # @return [true]
    def server_process!
      @server_process = true
    end

    # @return [Boolean] whether this is a web server process: marked by {server_process!} (the
    #   Puma plugin), started by +rails server+, or a program named puma, unicorn, passenger,
    #   falcon or pitchfork (their masters and workers)
    def server_process?
      return true if @server_process || defined?(::Rails::Server)

      SERVER_PROCESS.match?(File.basename($PROGRAM_NAME.to_s))
    end

    # @return [Boolean] whether to load the Tasker constants
    def tasker?(config) = config.tasker == true || (config.tasker == :auto && defined?(::Tasker::Engine) ? true : false)

    # @return [Boolean]
    def enabled?
      flag = configuration.enabled
      flag.respond_to?(:call) ? flag.call : flag
    end
  end
end
