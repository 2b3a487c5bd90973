# frozen_string_literal: true

# Where the gem's own messages go.
module TaskerMetrics
  class << self
    # Logs through +Rails.logger+ when there is one; otherwise warnings and errors go to stderr
    # and the rest is dropped.
    # @param level [Symbol] +:debug+, +:info+, +:warn+ or +:error+
    # @param message [String, nil] or a block giving it, called only when it will be written
    # @return [nil]
    def log(level, message = nil)
      logger = defined?(::Rails) && ::Rails.respond_to?(:logger) ? ::Rails.logger : nil
      if logger
        logger.public_send(level) { message || yield }
      elsif %i[warn error].include?(level)
        warn(message || yield)
      end
      nil
    end
  end
end
