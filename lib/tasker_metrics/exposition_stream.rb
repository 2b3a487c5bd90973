# frozen_string_literal: true

module TaskerMetrics
  # An exposition read piece by piece (see {Registry#export_stream}): each piece is rendered,
  # and gzipped when asked, without holding the GVL, so a scrape of a million series never holds
  # its whole text in memory. A Rack body: +each+ yields the pieces once, +close+ lets go of what
  # is left. A stream cut short (an interrupt while a piece renders, or +close+ before the end)
  # raises IOError when read further, rather than ending short.
  class ExpositionStream
    include Enumerable

    # @return [Integer] bytes yielded so far
    def bytesize = @bytesize || 0

    # @yieldparam piece [String] the next piece (binary when gzipped or protobuf, UTF-8 otherwise)
    # @return [self]
    def each
      return enum_for(:each) unless block_given?

      while (piece = _next_chunk)
        @bytesize = bytesize + piece.bytesize
        yield piece
      end
      self
    end

    # Lets go of the rest; safe to call more than once.
    # @return [nil]
    def close
      _close
      nil
    end
  end
end
