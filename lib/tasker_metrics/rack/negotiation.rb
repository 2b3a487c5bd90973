# frozen_string_literal: true

require "rack/utils"

module TaskerMetrics
  module Rack
    # HTTP content negotiation for the exposition: which format an Accept header asks for, and
    # whether Accept-Encoding allows gzip. q-values are honoured; OpenMetrics is served only
    # when asked for more strongly than text, protobuf only when named exactly (with its
    # +proto+ and +encoding=delimited+ parameters, as Prometheus asks for it) more strongly than
    # both: a client accepting anything gets text.
    module Negotiation
      OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
      PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"
      PROTOBUF = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
      CONTENT_TYPES = { openmetrics: OPENMETRICS, prometheus: PROMETHEUS, protobuf: PROTOBUF }.freeze
      # Media ranges each format answers to, most specific first.
      RANGES = {
        openmetrics: ["application/openmetrics-text", "application/*", "*/*"],
        prometheus: ["text/plain", "text/*", "*/*"],
      }.freeze

      module_function

      # @param accept [String, nil] the Accept header
      # @return [Symbol, nil] +:openmetrics+, +:prometheus+, +:protobuf+, or nil when nothing we
      #   serve is acceptable
      def format(accept)
        return :prometheus if accept.nil? || accept.strip.empty?

        ranges = parse(accept)
        q = RANGES.transform_values { |candidates| quality(ranges, candidates) }
        text = q[:openmetrics] > q[:prometheus] ? :openmetrics : :prometheus
        protobuf = protobuf_quality(accept)
        return :protobuf if protobuf > q[text]

        q[text].positive? ? text : nil
      end

      # The q of the protobuf exposition when named with the parameters that make it ours.
      def protobuf_quality(accept)
        each_range(accept) do |type, params|
          next unless type.casecmp?("application/vnd.google.protobuf")

          named = params.map { |p| p.delete(" ").downcase }
          return q_value(params) if named.include?("proto=io.prometheus.client.metricfamily") && named.include?("encoding=delimited")
        end
        0.0
      end

      # The families a scrape asks for with +?name[]=a&name[]=b+ (Prometheus clients' convention).
      # @param query [String, nil] the query string
      # @return [Array<String>, nil] nil when none is named
      def names(query)
        return nil if query.nil? || !query.include?("name")

        names = ::Rack::Utils.parse_nested_query(query)["name"]
        names.is_a?(Array) && !names.empty? ? names.map(&:to_s) : nil
      rescue ::Rack::Utils::ParameterTypeError, ::Rack::QueryParser::InvalidParameterError
        nil
      end

      # @param accept_encoding [String, nil]
      # @return [Boolean]
      def gzip?(accept_encoding)
        return false if accept_encoding.nil?

        codings = parse(accept_encoding)
        quality(codings, %w[gzip x-gzip *]).positive?
      end

      # "a/b;q=0.5, c/d" => { "a/b" => 0.5, "c/d" => 1.0 } (the first mention of a range wins).
      # Not Rack::Utils.q_values: it reads q only as the first parameter, and Prometheus sends
      # "text/plain;version=0.0.4;q=0.5", which it would take for q=1.0.
      def parse(header)
        out = {}
        each_range(header) { |value, params| out[value.downcase] ||= q_value(params) unless value.empty? }
        out
      end

      # Yields each comma-separated range of a header as its value and its parameters.
      def each_range(header)
        header.split(",").each do |part|
          value, *params = part.split(";").map(&:strip)
          yield value.to_s, params
        end
      end

      # The q parameter (1.0 when absent), clamped to 0..1.
      def q_value(params)
        q = params.filter_map { |p| p[/\Aq\s*=\s*([0-9.]+)\z/i, 1] }.first
        q ? q.to_f.clamp(0.0, 1.0) : 1.0
      end

      # The q of the most specific range that names one of `candidates`, else 0.
      def quality(ranges, candidates)
        candidates.each { |c| return ranges[c] if ranges.key?(c) }
        0.0
      end
    end
  end
end
