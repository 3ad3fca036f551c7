# encoding: utf-8
# The bounds on one exchange with the sidecar (a request and its answer):
# a deadline for the whole of it, and sizes for the answer that no correct
# sidecar exceeds. Net::HTTP has neither: its read_timeout bounds each read
# alone, so an answer trickled a byte at a time, or one that never ends,
# would hold the pipeline worker forever and fill its memory.

module LogStash
  module Filters
    class WasmClient
      # An answer that broke a bound. The message says which, and is the
      # reason its events record.
      class OutOfBounds < StandardError; end

      # The exchange's deadline passed.
      class Overdue < OutOfBounds; end

      # A 200 answer ended before the bytes its Content-Length gives: the
      # connection closed early, and what came, even whole lines, may not
      # be all the sidecar wrote.
      class CutShort < StandardError; end

      # One exchange's deadline and byte counts. Every read and write of the
      # connection's socket goes through `before_io` (see Metered), and every
      # read through `read`; the answer's body, as Net::HTTP hands it on,
      # through `body`.
      class Meter
        # The bytes of an answer that are not its body: status line, headers,
        # chunked framing, trailers. The sidecar sends a few hundred.
        FRAMING_BYTES = 1 << 20

        def initialize(connection, timeout)
          @connection = connection
          @timeout = timeout
          @deadline = now + timeout
          @read = 0
          @body = 0
        end

        # A read or write that starts after the deadline fails; one that has
        # to wait for the socket waits only until the deadline (Net::HTTP
        # reads the timeouts anew before each wait).
        def before_io
          left = @deadline - now
          raise Overdue, "wasmstash did not answer in full within #{@timeout} s (timeout)" if left <= 0
          wait = [left, @timeout].min
          @connection.read_timeout = wait
          @connection.write_timeout = wait if @connection.respond_to?(:write_timeout=)
        end

        def read(bytes)
          @read += bytes
          # What Net::HTTP has read but not handed on as body: the head and the
          # framing, and at most one read of body not handed on yet.
          return if @read - @body <= FRAMING_BYTES
          raise OutOfBounds, "wasmstash's answer held over #{FRAMING_BYTES} bytes of status line, headers and " \
                             "framing; a correct one holds a few hundred"
        end

        def body(bytes)
          @body += bytes
        end

        private

        def now
          Process.clock_gettime(Process::CLOCK_MONOTONIC)
        end
      end

      # Mixed into every socket a Connection opens, so that its exchange's
      # Meter sees each read and write Net::HTTP makes, the status line and
      # headers included, which no public hook of Net::HTTP shows.
      module Metered
        attr_writer :wasm_connection

        def read_nonblock(*args, **options)
          meter = @wasm_connection && @wasm_connection.meter
          meter.before_io if meter
          # No empty keywords: Ruby 2.6 (JRuby 9.3) would pass them as a hash.
          result = options.empty? ? super(*args) : super(*args, **options)
          meter.read(result.bytesize) if meter && result.is_a?(String)
          result
        end

        def write_nonblock(*args, **options)
          meter = @wasm_connection && @wasm_connection.meter
          meter.before_io if meter
          options.empty? ? super(*args) : super(*args, **options)
        end
      end

      # Checks a 200 answer's NDJSON as it arrives, and stops it at the first
      # byte a correct answer cannot hold: one line more than there are
      # events, or a line longer than its event's bound. `limits` holds the
      # bound of each event's result line, in order.
      class ResultLines
        # Room in a result line beyond its event: the `{"event":...}` around
        # it, the failure records the sidecar adds (each under 2 KiB, its
        # reason cut to 1 KiB), or the reason of an `{"error":...}` line.
        SLACK = 1 << 20

        # The most a correct result line holds for an event whose request
        # line is `request_bytes` long: the event as it went (twice, for
        # values the sidecar keeps as escaped text), or what a filter made
        # of it, which the sidecar bounds by its engine.max_event_mib
        # (`max_event_bytes`), and the slack.
        def self.limit(request_bytes, max_event_bytes)
          2 * request_bytes + max_event_bytes + SLACK
        end

        # `most` bounds the whole answer (`max_answer_bytes`): the lines'
        # own bounds add up to gigabytes for a batch of large events, and
        # the answer is held whole, more than once, while it is read.
        def initialize(limits, most)
          @limits = limits
          @most = most
          @total = 0
          @line = 0 # the line being read, from 0
          @length = 0 # its bytes so far
          @content = false # whether any of them is not whitespace
        end

        def add(segment)
          segment = segment.b unless segment.encoding == Encoding::BINARY # byte offsets
          from = 0
          while from < segment.bytesize
            newline = segment.index("\n", from)
            bytes = (newline || segment.bytesize) - from
            if bytes > 0
              grow(bytes)
              @content ||= segment.byteslice(from, bytes).match?(/\S/)
            end
            break unless newline
            line_end
            @line += 1
            @length = 0
            @content = false
            from = newline + 1
          end
        end

        # The answer ended: a last line without its newline is checked too.
        def finish
          line_end if @length > 0
        end

        private

        # A line that ends is not blank, not even of whitespace alone (the
        # sidecar never writes one; and counted as a result, each would move
        # the next onto another event). One that is not blank `grow` has
        # found to be one of the events'.
        def line_end
          return if @content
          raise OutOfBounds, "wasmstash's answer holds a blank line (line #{@line + 1}), which it never writes"
        end

        def grow(bytes)
          if @line >= @limits.size
            raise OutOfBounds, "wasmstash's answer holds more than #{@limits.size} result line(s) for " \
                               "#{@limits.size} event(s)"
          end
          @total += bytes
          if @total > @most
            raise OutOfBounds, "wasmstash's answer is over max_answer_bytes (#{@most} bytes); raise it if the " \
                               "pipeline's filters make events that much larger than they came"
          end
          @length += bytes
          return if @length <= @limits[@line]
          raise OutOfBounds, "wasmstash's result line #{@line + 1} is over #{@limits[@line]} bytes, more than a " \
                             "correct answer holds for its event (twice its request line, plus max_event_bytes, " \
                             "plus 1 MiB)"
        end
      end
    end
  end
end
