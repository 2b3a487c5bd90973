# frozen_string_literal: true

module TaskerMetrics
  VERSION = "0.1.0"
end
