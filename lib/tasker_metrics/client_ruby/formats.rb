# frozen_string_literal: true

module Prometheus
  module Client
    module Formats
      # client_ruby's text format, byte for byte: TYPE before HELP, values as Ruby prints
      # Floats, bucket bounds as given.
      module Text
        MEDIA_TYPE = "text/plain"
        VERSION = "0.0.4"
        CONTENT_TYPE = "#{MEDIA_TYPE}; version=#{VERSION}".freeze

        ESCAPES = { "\n" => "\\n", "\\" => "\\\\", '"' => '\\"' }.freeze
        private_constant :ESCAPES

        class << self
          # The registry's metrics as text; with DirectFileStore, every process's values merged
          # (one merge for the whole registry).
          def marshal(registry)
            metrics = registry.metrics
            merged = TaskerMetrics::ClientRuby.multiprocess? ? TaskerMetrics::ClientRuby.merged_values(metrics.map(&:name)) : nil
            out = +""
            metrics.each do |metric|
              values = merged ? metric.values_from(merged.fetch(metric.name.to_s, {})) : metric.values
              header(out, metric)
              values.each { |labels, value| lines(out, metric, labels, value) }
            end
            out
          end

          private

          def header(out, metric)
            out << "# TYPE #{metric.name} #{metric.type}\n# HELP #{metric.name} #{metric.docstring.to_s.gsub(/[\n\\]/, ESCAPES)}\n"
          end

          def lines(out, metric, labels, value)
            name = metric.name
            case metric.type
            when :summary
              sample(out, "#{name}_sum", labels, value["sum"])
              sample(out, "#{name}_count", labels, value["count"])
            when :histogram
              value.each { |le, count| sample(out, "#{name}_bucket", labels.merge(le: le), count) unless le == "sum" }
              sample(out, "#{name}_sum", labels, value["sum"])
              sample(out, "#{name}_count", labels, value["+Inf"])
            else
              sample(out, name, labels, value)
            end
          end

          def sample(out, name, labels, value)
            out << name.to_s
            out << "{" << labels.map { |k, v| "#{k}=\"#{v.to_s.gsub(/[\n\\"]/, ESCAPES)}\"" }.join(",") << "}" unless labels.empty?
            out << " " << value.to_s << "\n"
          end
        end
      end
    end
  end
end
