# frozen_string_literal: true

module TaskerMetrics
  # Merges the metric Hashes (+{key => to_h}+) of several instances into one: counters and
  # histograms summed per key, gauges kept apart with an +instance_id+ label (a sum or a latest
  # value of gauges from different hosts would be a number nobody measured).
  module DistributedMerge
    # @param per_instance [Hash{String=>Hash{String=>Hash}}] instance id => metrics
    # @return [Hash{String=>Hash}] merged, keyed like {MetricsBackend#metrics}
    def self.merge(per_instance)
      per_instance.sort.each_with_object({}) do |(id, metrics), out|
        metrics.each do |key, data|
          next out.store(*per_instance_gauge(data, id)) if data[:type] == :gauge

          out[key] = out.key?(key) ? add(out[key], data) : data
        end
      end
    end

    # A gauge's key and data with an +instance_id+ label, of the key type its labels have
    # (Strings, as derived metrics have, when there are none).
    # @api private
    def self.per_instance_gauge(data, id)
      labels = data[:labels].merge((data[:labels].keys.first.is_a?(Symbol) ? :instance_id : "instance_id") => id)
      [MetricsBackend._stable_key(data[:name], labels), data.merge(labels: labels)]
    end

    # @api private
    def self.add(total, data)
      created_at = [total[:created_at], data[:created_at]].compact.min
      sum = data[:type] == :histogram ? add_histogram(total, data) : { value: total[:value] + data[:value] }
      total.merge(sum, created_at: created_at)
    end

    # @api private
    def self.add_histogram(total, data)
      count = total[:count] + data[:count]
      sum = total[:sum] + data[:sum]
      { count: count, sum: sum, buckets: total[:buckets].merge(data[:buckets]) { |_, a, b| a + b },
        average: count.zero? ? 0.0 : sum / count, }
    end
  end
end
