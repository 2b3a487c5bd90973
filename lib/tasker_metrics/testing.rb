# frozen_string_literal: true

module TaskerMetrics
  # Helpers for an application's own tests.
  module Testing
    # Moves the clock that `expires_after` reads forward by `seconds` for the whole process, so a
    # test can check what expires without sleeping. The clock is monotonic: it never goes back,
    # and nothing else (Time.now, timestamps in the exposition) moves with it.
    def self.advance_clock(seconds)
      TaskerMetrics._advance_expiry_clock(seconds)
      nil
    end
  end
end
