# frozen_string_literal: true

require "rails/generators"

module TaskerMetrics
  module Generators
    # +rails generate tasker_metrics:install+: writes config/initializers/tasker_metrics.rb with
    # every setting, commented, and says how to add the Puma plugin.
    class InstallGenerator < ::Rails::Generators::Base
      source_root File.expand_path("templates", __dir__)
      desc "Creates config/initializers/tasker_metrics.rb and explains the Puma plugin line."

      # @return [void]
      def create_initializer
        template "tasker_metrics.rb.tt", "config/initializers/tasker_metrics.rb"
      end

      # @return [void]
      def explain_puma_plugin
        say <<~TEXT

          tasker_metrics: metrics are served at /metrics once the app boots (see the initializer for auth).
          With Puma in cluster mode, add this line to config/puma.rb:

            plugin :tasker_metrics

          It names workers on per-process gauges and empties the multi-process directory of an earlier
          run when the server starts. Set TASKER_METRICS_MULTIPROC_DIR (or multiprocess_dir below) so
          every worker's counts are merged into each scrape.
        TEXT
      end
    end
  end
end
