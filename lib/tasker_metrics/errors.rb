# frozen_string_literal: true

module TaskerMetrics
  # Base class of every error the gem raises that is not an ArgumentError or TypeError.
  class Error < StandardError; end

  # A metric reached its series limit; the update was dropped.
  class CardinalityError < Error; end

  # The value store (memory-mapped files in multi-process mode) failed.
  class StoreError < Error; end

  # A Pushgateway refused a push, timed out or could not be reached.
  class PushError < Error; end

  # A bug inside the native extension, caught before it could crash the process.
  class InternalError < Error; end
end
