# frozen_string_literal: true

# A drop-in for prometheus/client_ruby 4.x (the prometheus-client gem): `Prometheus::Client` and
# `Prometheus::Middleware` on the native core. Load it instead of that gem:
#
#   gem "tasker_metrics", require: "tasker_metrics/client_ruby"
#
# Afterwards the paths client_ruby documents (`require "prometheus/client"`,
# `"prometheus/client/counter"`, `"prometheus/middleware/exporter"`, …) are already loaded and
# load nothing else.

require "tasker_metrics"

module TaskerMetrics
  # The client_ruby API (see +tasker_metrics/client_ruby+).
  module ClientRuby
    # The real prometheus-client gem (or another Prometheus::Client) was loaded first.
    class ConflictError < TaskerMetrics::Error; end

    # What client_ruby's lib/ holds: each is marked loaded once the drop-in is.
    FEATURES = %w[
      prometheus prometheus/client prometheus/client/config prometheus/client/counter
      prometheus/client/data_stores/direct_file_store prometheus/client/data_stores/single_threaded
      prometheus/client/data_stores/synchronized prometheus/client/formats/text prometheus/client/gauge
      prometheus/client/histogram prometheus/client/label_set_validator prometheus/client/metric
      prometheus/client/push prometheus/client/registry prometheus/client/summary prometheus/client/version
      prometheus/middleware/collector prometheus/middleware/exporter
    ].freeze

    if defined?(::Prometheus::Client) && !defined?(::Prometheus::Client::TASKER_METRICS)
      origin = $LOADED_FEATURES.grep(%r{/prometheus/client\.rb\z}).first || "an earlier require"
      raise ConflictError, "tasker_metrics/client_ruby replaces the prometheus-client gem, but Prometheus::Client was " \
                           "already loaded (#{origin}): remove that gem from the Gemfile, or require " \
                           "tasker_metrics/client_ruby before anything requires prometheus/client"
    end
  end
end

require_relative "client_ruby/label_set_validator"
require_relative "client_ruby/metric"
require_relative "client_ruby/metrics"
require_relative "client_ruby/registry"
require_relative "client_ruby/data_stores"
require_relative "client_ruby/formats"
require_relative "client_ruby/push"
require_relative "client_ruby/middleware"

# Marked loaded under the directory of this gem's lib/ (which is on the load path), so that
# `require "prometheus/client"` finds them loaded, whichever gems are installed.
TaskerMetrics::ClientRuby::FEATURES.each do |feature|
  path = File.expand_path("../#{feature}.rb", __dir__)
  $LOADED_FEATURES << path unless $LOADED_FEATURES.include?(path)
end
