# frozen_string_literal: true

require "open3"

# Runs Prometheus's own `promtool check metrics` on an exposition.
module Promtool
  module_function

  def available?
    system("command -v promtool >/dev/null 2>&1")
  end

  # promtool's lint for a counter registered without `_total`: the name is the user's choice
  # (the text format shows counters as registered, as client_golang and client_ruby do).
  COUNTER_SUFFIX_LINT = /\A\S+ counter metrics should have "_total" suffix\z/

  # @return [Array(Boolean, String)] whether promtool accepted the text (it parses, and no lint
  #   but the counter-suffix one), and what it said
  def check(text)
    out, status = Open3.capture2e("promtool", "check", "metrics", stdin_data: text)
    lint_only = status.exitstatus == 3 && out.lines.map(&:strip).reject(&:empty?).all?(COUNTER_SUFFIX_LINT)
    [status.success? || lint_only, out]
  end
end

RSpec::Matchers.define :pass_promtool do
  match do |text|
    @ok, @output = Promtool.check(text)
    @ok && !@output.include?("error")
  end
  failure_message { |text| "promtool rejected the exposition:\n#{@output}\n---\n#{text}" }
end

RSpec.shared_context "with promtool" do
  before { skip "promtool is not installed (Debian package `prometheus`): exposition not validated" unless Promtool.available? }
end
