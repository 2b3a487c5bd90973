# frozen_string_literal: true

module Prometheus
  module Client
    module Formats
      # client_ruby's text format, byte for byte (TYPE before HELP, values as Ruby prints
      # Floats, bucket bounds as given), rendered natively without the GVL; with
      # DirectFileStore, every process's values merged.
      module Text
        MEDIA_TYPE = "text/plain"
        VERSION = "0.0.4"
        CONTENT_TYPE = "#{MEDIA_TYPE}; version=#{VERSION}".freeze

        # The registry's metrics, in registration order.
        def self.marshal(registry)
          metrics = registry.metrics.map do |m|
            [m.name.to_s, m.type.to_s, m.docstring.to_s, m.type == :histogram ? m.buckets.map(&:to_s) : nil]
          end
          text, problems = TaskerMetrics::ClientRuby.registry.__send__(:_render_client_ruby, metrics)
          TaskerMetrics::Multiprocess.report(problems)
          text
        end
      end
    end
  end
end
