# frozen_string_literal: true

# Reads Prometheus text 0.0.4 strictly enough for tests: every line must be a HELP/TYPE comment
# or a well-formed sample.
module Scrape
  SAMPLE = /\A([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_]\w*="(?:[^"\\\n]|\\[\\"n])*",?)*\})? (\S+)\n\z/

  module_function

  def valid?(text) = text.each_line.all? { |line| line.start_with?("# HELP ", "# TYPE ") || SAMPLE.match?(line) }

  # @return [Hash{String=>Float}] "name{labels}" => value
  # @raise [RuntimeError] on a malformed line
  def samples(text)
    text.each_line.with_object({}) do |line, out|
      next if line.start_with?("# HELP ", "# TYPE ")

      m = SAMPLE.match(line) or raise "malformed exposition line: #{line.inspect}"
      out["#{m[1]}#{m[2]}"] = Float(m[3].sub("+Inf", "Infinity"))
    end
  end

  # @return [Integer] resident set size of this process in KiB
  def rss_kb = File.read("/proc/self/status")[/^VmRSS:\s+(\d+)/, 1].to_i
end
