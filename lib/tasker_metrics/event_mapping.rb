# frozen_string_literal: true

module TaskerMetrics
  # An immutable routing rule for one event (Tasker's EventMapping). Validation, predicates and
  # sampling are native.
  #
  # @!method event_name
  #   @return [String]
  # @!method backends
  #   @return [Array<Symbol>] frozen, subset of +:trace, :metrics, :logs+
  # @!method enabled
  #   @return [Boolean]
  # @!method sampling_rate
  #   @return [Float] 0.0..1.0
  # @!method priority
  #   @return [Symbol] +:low, :normal, :high+ or +:critical+
  # @!method metadata
  #   @return [Hash] a deep-frozen copy
  # @!method routes_to_traces?
  #   @return [Boolean]
  # @!method routes_to_metrics?
  #   @return [Boolean]
  # @!method routes_to_logs?
  #   @return [Boolean]
  # @!method should_sample?
  #   One random draw at the sampling rate (always true at 1.0, false at 0.0).
  #   @return [Boolean]
  # @!method active?
  #   @return [Boolean] enabled and {#should_sample?}
  # @!method description
  #   @return [String] e.g. +"task.completed → trace, metrics (75.0% sampled)"+
  # @!method to_h
  #   @return [Hash] the six fields
  class EventMapping
    FIELDS = %i[event_name backends enabled sampling_rate priority metadata].freeze
    DEFAULTS = { backends: [:trace], enabled: true, sampling_rate: 1.0, priority: :normal, metadata: {} }.freeze

    # Builds and validates a mapping; String keys are accepted too.
    #
    # @param attributes [Hash, nil] the fields as a Hash (String or Symbol keys)
    # @return [EventMapping] frozen
    # @raise [ArgumentError] naming the field and the bad value
    # @example
    #   TaskerMetrics::EventMapping.new(event_name: "task.completed", backends: %i[trace metrics], sampling_rate: 0.5)
    def self.new(attributes = nil, **keywords)
      fields = DEFAULTS.merge((attributes || {}).merge(keywords).transform_keys(&:to_sym))
      unknown = fields.keys - FIELDS
      raise ArgumentError, "unknown attribute#{"s" if unknown.size > 1}: #{unknown.map(&:inspect).join(", ")}" unless unknown.empty?
      raise ArgumentError, "missing keyword: :event_name" unless fields.key?(:event_name)

      _build(*fields.values_at(*FIELDS))
    end

    class << self
      # A dry-struct class is a type: +call+ and +[]+ build like {new}.
      alias call new
      alias [] new
    end

    # One field, as dry-struct (Tasker's base class) answers it.
    # @param field [Symbol, String]
    # @return [Object]
    # @raise [ArgumentError] for a name that is not a field
    def [](field)
      name = field.to_sym
      raise ArgumentError, "unknown attribute: #{field.inspect}" unless FIELDS.include?(name)

      public_send(name)
    end

    # @return [Hash] the six fields (dry-struct's name for {#to_h})
    def attributes = to_h
    alias to_hash to_h

    # A copy with some fields changed, validated like a new mapping (dry-struct's +new+).
    # @param changes [Hash]
    # @return [EventMapping]
    def new(changes = {}) = self.class.new(to_h.merge(changes.transform_keys(&:to_sym)))

    # @return [Integer]
    def hash = to_h.hash

    # @return [String]
    def inspect = "#<#{self.class.name} #{description}>"
  end
end
