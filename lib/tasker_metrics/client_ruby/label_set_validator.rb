# frozen_string_literal: true

module Prometheus
  # client_ruby's namespace, on the native core (see tasker_metrics/client_ruby).
  module Client
    # Marks this Prometheus::Client as tasker_metrics' drop-in.
    TASKER_METRICS = true
    # The client_ruby version whose behaviour this follows.
    VERSION = "4.2.5"

    # Label names and label sets as client_ruby checks them, with its error classes.
    class LabelSetValidator
      BASE_RESERVED_LABELS = [:pid].freeze
      LABEL_NAME_REGEX = /\A[a-zA-Z_][a-zA-Z0-9_]*\Z/

      class LabelSetError < StandardError; end
      class InvalidLabelSetError < LabelSetError; end
      class InvalidLabelError < LabelSetError; end
      class ReservedLabelError < LabelSetError; end

      attr_reader :expected_labels, :reserved_labels

      def initialize(expected_labels:, reserved_labels: [])
        @expected_labels = expected_labels.sort
        @reserved_labels = BASE_RESERVED_LABELS + reserved_labels
      end

      # Every key a Symbol, a valid label name, not reserved.
      # @raise [LabelSetError]
      def validate_symbols!(labels)
        raise InvalidLabelSetError, "#{labels} is not a valid label set" unless labels.respond_to?(:all?)

        labels.all? do |key, _|
          raise InvalidLabelError, "label #{key} is not a symbol" unless key.is_a?(Symbol)
          raise ReservedLabelError, "label #{key} must not start with __" if key.start_with?("__")
          raise InvalidLabelError, "label name must match /#{LABEL_NAME_REGEX}/" unless LABEL_NAME_REGEX.match?(key)
          raise ReservedLabelError, "#{key} is reserved" if reserved_labels.include?(key)

          true
        end
      end

      # The label set when its keys are exactly the expected ones.
      # @raise [InvalidLabelSetError]
      def validate_labelset!(labelset)
        keys = labelset.keys
        return labelset if keys.all?(Symbol) && keys.sort == expected_labels

        raise InvalidLabelSetError, "labels must have the same signature (keys given: #{keys} vs. keys expected: #{expected_labels}"
      end
    end
  end
end
