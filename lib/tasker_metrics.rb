# frozen_string_literal: true

require_relative "tasker_metrics/version"
require_relative "tasker_metrics/errors"

begin
  # A compiled gem installs the library next to this file's directory, `rake compile` into lib/.
  require_relative "tasker_metrics/tasker_metrics"
rescue LoadError
  require "tasker_metrics/tasker_metrics"
end

require_relative "tasker_metrics/logging"

# Loaded on first use: a rake task or a console that only records metrics needs neither
# net/http (Push) nor the Rack classes (and rack/utils).
module TaskerMetrics
  autoload :Push, File.expand_path("tasker_metrics/push", __dir__)
  autoload :Testing, File.expand_path("tasker_metrics/testing", __dir__)

  # The Rack endpoint: middleware, mountable app, and what they share.
  module Rack
    %i[Exporter Endpoint Responder Auth Negotiation].each do |name|
      autoload name, File.expand_path("tasker_metrics/rack/#{name.downcase}", __dir__)
    end
  end
end

require_relative "tasker_metrics/registry"
require_relative "tasker_metrics/exposition_stream"
require_relative "tasker_metrics/metric"
require_relative "tasker_metrics/counter"
require_relative "tasker_metrics/gauge"
require_relative "tasker_metrics/histogram"
require_relative "tasker_metrics/event_mapping"
require_relative "tasker_metrics/event_router"
require_relative "tasker_metrics/metric_types/base"
require_relative "tasker_metrics/metric_types/counter"
require_relative "tasker_metrics/metric_types/gauge"
require_relative "tasker_metrics/metric_types/histogram"
require_relative "tasker_metrics/cache_strategy"
require_relative "tasker_metrics/cache_sync"
require_relative "tasker_metrics/cache_index"
require_relative "tasker_metrics/distributed_merge"
require_relative "tasker_metrics/metrics_backend"
require_relative "tasker_metrics/prometheus_exporter"
require_relative "tasker_metrics/fork_hook"
require_relative "tasker_metrics/tasker_route"
require_relative "tasker_metrics/subscriber"
require_relative "tasker_metrics/rails_metrics"
require_relative "tasker_metrics/multiprocess"
require_relative "tasker_metrics/configuration"
require_relative "tasker_metrics/installer"
if defined?(Rails::Railtie)
  require_relative "tasker_metrics/railtie"
else
  # Required before Rails (at the top of config/puma.rb, say): define the Railtie when the app
  # class is defined, which is before its configuration is read.
  begin
    require "active_support/lazy_load_hooks"
    ActiveSupport.on_load(:before_configuration) { require_relative "tasker_metrics/railtie" }
  rescue LoadError
    nil # no ActiveSupport: no Rails either
  end
end

# Lock-free native metrics for Ruby and Rails, with a Tasker telemetry backend.
#
# @example
#   requests = TaskerMetrics.registry.counter(:http_requests_total, docstring: "Requests", labels: %i[status])
#   requests.increment(labels: { status: 200 })
#   puts TaskerMetrics.registry.export
module TaskerMetrics
  @registry = Registry.default

  class << self
    # The process-wide default registry, shared with the Tasker classes and the Rack endpoint.
    # @return [TaskerMetrics::Registry]
    attr_reader :registry
  end
end

TaskerMetrics.configuration.apply_multiprocess if ENV["TASKER_METRICS_MULTIPROC_DIR"]
