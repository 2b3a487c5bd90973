# frozen_string_literal: true

# Shared by the native-histogram end-to-end specs and the apps they start: reproducible
# observations, and what Prometheus' query API says about a native histogram.
module NativeE2E
  module_function

  # `n` durations spread log-uniformly over 2.5 ms … 7.4 s, the same for the same seed.
  def values(count, seed:, low: -6.0, high: 2.0)
    random = Random.new(seed)
    Array.new(count) { Math.exp(low + (random.rand * (high - low))) }
  end

  # Observations so widely spread (0.01 … 100 s) that 60 buckets hold them only at schema 2.
  def wide_values(count, seed:) = values(count, seed: seed, low: Math.log(0.01), high: Math.log(100))

  # The native histogram Prometheus stored for `name`: the query API answers with a
  # `histogram` sample (count, sum, buckets), not a `value`.
  def histogram_sample(prometheus, name)
    result = Servers.query_vector(prometheus, name)
    raise "no #{name} stored" if result.empty?
    raise "#{name} was stored as a float sample, not a native histogram: #{result.first}" unless result.first.key?("histogram")

    result.first.fetch("histogram")[1]
  end

  # The ratio of upper to lower bound of the stored buckets (2^(2^-schema)).
  def growth(histogram)
    bucket = histogram.fetch("buckets").find { |(_rule, low, _high, _count)| low.to_f.positive? }
    Float(bucket[2]) / Float(bucket[1])
  end

  # histogram_quantile(0.5, name) lies within the buckets' relative width of the true median.
  def expect_median(spec, prometheus, name, observed, histogram)
    sorted = observed.sort
    median = sorted[sorted.size / 2]
    estimate = Servers.query(prometheus, "histogram_quantile(0.5, #{name})")
    relative_error = growth(histogram) - 1
    spec.expect((estimate - median).abs / median).to spec.be <= relative_error,
                                                     "median #{median}, estimate #{estimate}, allowed #{relative_error}"
  end
end
