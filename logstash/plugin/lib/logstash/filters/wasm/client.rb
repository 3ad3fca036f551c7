# encoding: utf-8
# The `wasm` filter's HTTP side: a persistent connection per pipeline worker
# thread, and retries only where the sidecar cannot have run the request.
require "net/http"
require "stringio"
require "uri"

module LogStash
  module Filters
    class WasmClient
      # How one POST ended: the last HTTP answer (code and body), or, when
      # there was none, `error`, a sentence saying why.
      Answer = Struct.new(:code, :body, :error)

      # The sidecar's "busy" answers, given before it runs anything.
      BUSY = [429, 503].freeze

      # Net::HTTP's own idle limit for a kept-alive connection. It stays under
      # the sidecar's header_read_timeout_ms (10 s by default), after which the
      # sidecar closes an idle connection: a batch written into a connection
      # the sidecar is closing at that moment fails after it was sent, and so
      # cannot be retried. Reconnecting on loopback costs next to nothing.
      KEEP_ALIVE_SECONDS = 4

      # The request body, handed to Net::HTTP as a stream so that we learn
      # whether it began to read it. Until then no byte of the batch has left
      # (at most the headers have), the sidecar cannot have run it, and a retry
      # cannot make its stateful filters count events twice. Not a StringIO
      # subclass, so that no IO.copy_stream shortcut can read past the flag.
      class Body
        def initialize(text)
          @io = StringIO.new(text)
          @touched = false
        end

        def touched?
          @touched
        end

        def read(*args)
          @touched = true
          @io.read(*args)
        end

        def readpartial(*args)
          @touched = true
          @io.readpartial(*args)
        end
      end

      # A POST whose answer is still read when the sidecar stops reading the
      # body first: it refuses a body over its max_body_bytes (413) from the
      # Content-Length alone, answers and closes, and writing the rest fails
      # with EPIPE. Net::HTTP itself reads on from Ruby 2.7; the older one of
      # JRuby 9.3 and before (Logstash 7) raises instead, and the batch would
      # fail whole as possibly run rather than be split.
      class Post < Net::HTTP::Post
        def exec(*args)
          super
        rescue Errno::EPIPE
          nil # Net::HTTP reads the answer next, or fails with no answer.
        end
      end

      def initialize(uri, timeout:, retries:, max_retry_wait:, logger:, pipeline:)
        @uri = uri
        @timeout = timeout
        @retries = retries
        @max_retry_wait = max_retry_wait
        @logger = logger
        @pipeline = pipeline
        @connections = {}
        @connections_lock = Mutex.new
        @closed = false
      end

      # POSTs `text` (NDJSON), retrying connection failures and busy answers
      # up to `retries` times. Never raises for a transport problem.
      def post(text)
        attempt = 0
        loop do
          attempt += 1
          body = Body.new(text)
          begin
            response = connection.request(request(body, text.bytesize))
          rescue StandardError => e
            drop_connection
            unless body.touched?
              if attempt <= @retries
                sleep([0.1 * (2**attempt), @max_retry_wait].min)
                next
              end
              @logger.error("wasmstash request failed", :pipeline => @pipeline, :url => @uri.to_s, :error => e.message)
              return Answer.new(nil, nil, "could not reach wasmstash at #{@uri} (#{attempt} attempts): #{e.class}: #{e.message}")
            end
            return sent_and_lost(e)
          end
          code = response.code.to_i
          if BUSY.include?(code) && attempt <= @retries
            sleep([response["Retry-After"].to_f, 0.1].max.clamp(0, @max_retry_wait))
            next
          end
          return Answer.new(code, response.body.to_s, nil)
        end
      end

      def close
        @connections_lock.synchronize do
          @closed = true
          @connections.each_value { |http| finish(http) }
          @connections.clear
        end
      end

      private

      def request(body, length)
        request = Post.new(@uri)
        request["Content-Type"] = "application/x-ndjson"
        request["Content-Length"] = length.to_s
        request.body_stream = body
        request
      end

      # The batch left, and then the connection broke or the answer did not
      # come in time: the sidecar may have run it, so it is not sent again.
      def sent_and_lost(error)
        if error.is_a?(Net::ReadTimeout)
          @logger.error("wasmstash did not answer within #{@timeout} s; not retried, as it may have run the batch",
                        :pipeline => @pipeline, :url => @uri.to_s, :error => error.message)
          return Answer.new(nil, nil, "wasmstash did not answer within #{@timeout} s; not retried, as it may have run the batch")
        end
        @logger.error("wasmstash request failed after the batch was sent; not retried, as it may have run the batch",
                      :pipeline => @pipeline, :url => @uri.to_s, :error => error.message)
        Answer.new(nil, nil, "the connection failed after the batch was sent (#{error.class}: #{error.message}); " \
                             "not retried, as wasmstash may have run it")
      end

      # This thread's connection, connected. The lock only guards the map:
      # a worker waiting on a slow connect must not hold up the others.
      def connection
        http = @connections_lock.synchronize { @connections[Thread.current] }
        return http if http && http.started?
        http = Net::HTTP.new(@uri.host, @uri.port)
        http.use_ssl = @uri.scheme == "https"
        http.open_timeout = [@timeout, 10].min
        http.read_timeout = @timeout
        http.write_timeout = @timeout if http.respond_to?(:write_timeout=)
        http.keep_alive_timeout = KEEP_ALIVE_SECONDS
        http.start
        stale = @connections_lock.synchronize do
          previous = @connections[Thread.current]
          @connections[Thread.current] = http unless @closed
          previous
        end
        finish(stale) if stale && !stale.equal?(http)
        http
      end

      def drop_connection
        finish(@connections_lock.synchronize { @connections.delete(Thread.current) })
      end

      def finish(http)
        http.finish if http && http.started?
      rescue StandardError
        nil
      end
    end
  end
end
