# encoding: utf-8
# The `wasm` filter's HTTP side: a persistent connection per pipeline worker
# thread, and retries only where the sidecar cannot have run the request.
require "io/wait"
require "net/http"
require "openssl"
require "stringio"
require "uri"
require "logstash/filters/wasm/bounds"

module LogStash
  module Filters
    class WasmClient
      # How one POST ended: the last HTTP answer (code and body), or, when
      # there was none, `error`, a sentence saying why.
      Answer = Struct.new(:code, :body, :error)

      # The sidecar's "busy" answers, given before it runs anything.
      BUSY = [429, 503].freeze
      # The header the sidecar puts on a busy answer to a request it did not
      # run. Only those are retried: a proxy in between may answer 503 after
      # the sidecar ran the batch, and sending it again would have stateful
      # filters count its events twice.
      NOT_RUN = "X-Wasmstash-Not-Run"

      # The seconds the requests of one worker batch have spent failing and
      # waiting to retry: they share one retry_budget, so a batch sent as
      # many requests to a sidecar that is down holds its worker for the
      # budget once, not once per request. Time spent on tries that
      # succeeded is not counted, nor on one that failed after the batch was
      # sent (it is not retried).
      Retrying = Struct.new(:spent) do
        def initialize(spent = 0.0)
          super
        end
      end

      # Net::HTTP's own idle limit for a kept-alive connection. It stays under
      # the sidecar's header_read_timeout_ms (10 s by default), after which the
      # sidecar closes an idle connection: a batch written into a connection
      # the sidecar is closing at that moment fails after it was sent, and so
      # cannot be retried. Reconnecting on loopback costs next to nothing.
      KEEP_ALIVE_SECONDS = 4

      # A url as written, for a message, without what may be credentials:
      # all from the start of its authority to its last `@`. The last, as a
      # password may hold an `@`, `/`, `#`, `?` or space its writer did not
      # percent-encode, and then the text need not parse, or parses with a
      # piece of the password as the host or the path. Text without `//`
      # (`user:pass@host:9700`) is cut the same way. Cutting too much from
      # a url whose path holds an `@` costs a message some clarity; cutting
      # too little would print a password.
      def self.without_credentials(text)
        text = text.to_s
        scheme = text[%r{\A[A-Za-z][A-Za-z0-9+.\-]*://}] || ""
        rest = text[scheme.size..-1]
        at = rest.rindex("@")
        at ? scheme + rest[(at + 1)..-1] : text
      end

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

        # Whether the whole text has been read out to be sent.
        def all_read?
          @io.eof?
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

      # A POST whose answer is still read when the other end stops reading
      # the body first: the sidecar refuses a body over its max_body_bytes
      # (413) from the Content-Length alone, answers and closes, and writing
      # the rest fails with EPIPE, or ECONNRESET when the close found bytes
      # unread; a TLS proxy that refuses the client certificate under TLS 1.3
      # sends its alert and closes the same way. Net::HTTP itself reads on
      # after EPIPE from Ruby 2.7, but not after ECONNRESET, and the older
      # one of JRuby 9.3 and before (Logstash 7) after neither: the batch
      # would fail whole as possibly run rather than be split, or the
      # refusal would not be told.
      class Post < Net::HTTP::Post
        # The body goes in pieces of this many bytes.
        BODY_PIECE = 64 * 1024

        # JRuby's TLS socket says the same with an IOError of that text.
        CLOSED_EARLY = /reset by peer|broken pipe/i.freeze

        def exec(*args)
          super
        rescue Errno::EPIPE, Errno::ECONNRESET
          nil # Net::HTTP reads the answer next, or fails with no answer.
        rescue IOError => e
          raise unless e.message =~ CLOSED_EARLY
          nil
        end

        private

        # Net::HTTP's own hands the body to the socket with IO.copy_stream,
        # which on JRuby writes it in one blocking call: to a sidecar that
        # has stopped reading (paused, hung), a body past the socket's
        # buffers waits there for ever, whatever `timeout` says. Written in
        # pieces through Net::BufferedIO#write, as the headers are, each
        # write waits at most until the exchange's deadline (Meter).
        def send_request_with_body_stream(sock, ver, path, body)
          write_header(sock, ver, path)
          wait_for_continue(sock, ver) if sock.continue_timeout
          while (piece = body.read(BODY_PIECE))
            sock.write(piece)
          end
        end
      end

      # Net::HTTP with its sockets metered (see Meter) and a look at what a
      # kept-alive connection holds unread. Both need Net::HTTP's own socket,
      # which it does not show: `on_connect` is its hook for subclasses, called
      # once each socket is open (also when Net::HTTP reconnects by itself),
      # and `@socket` its Net::BufferedIO, in every version since Ruby 1.9.
      class Connection < Net::HTTP
        # The Meter of the exchange under way, or nil between exchanges.
        attr_accessor :meter

        # What waits unread on the connection: :bytes (bytes no answer
        # claimed, which the next request would read as its answer), :maybe
        # (the socket is readable: the sidecar closed it, or, over TLS, bytes
        # that cannot be told from a TLS record), or nil. Never waits.
        def leftover
          socket = @socket
          return nil if socket.nil? || socket.closed?
          buffered = buffered_bytes(socket)
          return :maybe if buffered.nil?
          return :bytes if buffered > 0
          io = socket.io
          return :bytes if io.respond_to?(:pending) && io.pending.to_i > 0
          raw = io.to_io
          return nil unless raw.wait_readable(0)
          # Over plain TCP, one byte tells bytes from the sidecar's close. It
          # is consumed, but the connection is not used again either way.
          return :maybe unless raw.equal?(io)
          raw.read_nonblock(1, exception: false).is_a?(String) ? :bytes : :maybe
        end

        private

        def on_connect
          super
          io = @socket.io
          io.extend(Metered)
          io.wasm_connection = self
        end

        # Bytes Net::HTTP has read ahead and not handed on (newer net-protocol
        # keeps an offset into its buffer, older ones cut it); nil when this
        # Net::HTTP keeps them some other way.
        def buffered_bytes(socket)
          return socket.send(:rbuf_size) if socket.respond_to?(:rbuf_size, true)
          buffer = socket.instance_variable_get(:@rbuf)
          buffer.is_a?(String) ? buffer.bytesize : nil
        end
      end

      # The most of a non-200 answer's body that is read: the sidecar's are a
      # line of JSON, and only their start is shown.
      ERROR_BODY_BYTES = 1 << 20

      # The first wait after a connection failure; each next one doubles, up
      # to max_retry_wait. The floor keeps a max_retry_wait of 0 from turning
      # a retry budget into a busy loop of connects.
      FIRST_WAIT = 0.2
      MIN_WAIT = 0.05

      # What OpenSSL says when the sidecar's certificate is not trusted or not
      # for this host (MRI's and JRuby's wording). Trying again cannot change
      # the answer, and would hold every batch for the whole retry budget.
      UNTRUSTED = Regexp.union("certificate verify failed", "does not match the server certificate",
                               "PKIX path", "certification path").freeze

      # What OpenSSL says when the other end (the sidecar's TLS proxy) ends
      # the handshake with an alert against this client: no client
      # certificate, one it does not trust, an expired one, or no common
      # ground at all ("sslv3 alert bad certificate", "tlsv13 alert
      # certificate required"; JRuby: "Received fatal alert:
      # certificate_required"). Trying again cannot change the answer either.
      REFUSED = /alert.*(certificate|unknown.ca|access.denied|handshake.failure)/i.freeze

      # What the TLS client says when the other end answered its handshake
      # with something that is not TLS: a plain-HTTP listener (the sidecar
      # itself) behind an https url. OpenSSL 1.1 and 3.0 say "wrong version
      # number", 3.2 and later "packet length too long" or "record layer
      # failure"; JRuby (Java's TLS) "Unrecognized SSL message, plaintext
      # connection?". Trying again cannot change the answer.
      NOT_TLS = Regexp.union("wrong version number", "packet length too long", "record layer failure",
                             "Unrecognized SSL message").freeze

      # `ssl_verify` false skips the certificate checks; `cert_store`, when
      # given, is the only trust (else the system's CAs). `client_cert` and
      # `client_key` (with `client_chain`, its intermediate CAs) are shown
      # to a proxy that asks for a client certificate. `headers` go on
      # every request and are never logged; nor is the key.
      def initialize(uri, timeout:, retries:, max_retry_wait:, retry_budget:, logger:, pipeline:,
                     ssl_verify: true, cert_store: nil, client_cert: nil, client_key: nil, client_chain: nil,
                     headers: {}, max_answer_bytes:)
        @uri = uri
        @max_answer_bytes = max_answer_bytes
        # Credentials in the URL are not sent (Net::HTTP ignores them), and
        # must not reach the log or the events either.
        @shown_uri = uri.dup.tap { |u| u.user = nil }.to_s
        @timeout = timeout
        @retries = retries
        @max_retry_wait = max_retry_wait
        @retry_budget = retry_budget
        @logger = logger
        @pipeline = pipeline
        @ssl_verify = ssl_verify
        @cert_store = cert_store
        @client_cert = client_cert
        @client_key = client_key
        @client_chain = Array(client_chain)
        @headers = headers.dup.freeze
        @connections = {}
        @connections_lock = Mutex.new
        @closed = false
      end

      # POSTs `text` (NDJSON). What cannot have run is tried again while
      # `retry_budget` seconds of failing and waiting are not spent: a connection that
      # failed before any byte of the batch left, backing off (a sidecar
      # restarting refuses connections for a while), and a busy answer, after
      # its Retry-After (a sidecar just started answers 503 until its modules
      # are compiled, which on a cold cache outlasts a few retries). A busy
      # answer is retried at least `retries` times, whatever the budget.
      # Requests that share `retrying` (those of one batch) share the budget.
      # `limits` bounds each result line of a 200 answer (see ResultLines),
      # one per NDJSON line of `text`; the whole exchange is bounded by
      # `timeout` (see Meter). Never raises for a transport problem.
      def post(text, limits, retrying = Retrying.new)
        busy = 0
        failures = 0
        # This request's seconds in tries that failed and in the waits after
        # them, counted try by try: a clock started at the first failure
        # would also charge the budget with the try that then succeeded,
        # however long the sidecar took to run it.
        failing = 0.0
        # What the batch has spent failing, this request's failures included.
        spent = -> { retrying.spent + failing }
        loop do
          body = Body.new(text)
          started = now
          begin
            response, answer = exchange(connection, request(body, text.bytesize), limits)
          rescue StandardError => e
            drop_connection
            # Before the sent-and-lost check: under TLS 1.3 the client's
            # handshake ends before the proxy has checked its certificate,
            # so the proxy's alert comes only once the batch is written.
            # The proxy refused the connection: it passed nothing on.
            return refused(e) if e.is_a?(OpenSSL::SSL::SSLError) && e.message =~ REFUSED
            return sent_and_lost(e, body) if body.touched?
            return untrusted(e) if e.is_a?(OpenSSL::SSL::SSLError) && e.message =~ UNTRUSTED
            return not_tls(e) if e.is_a?(OpenSSL::SSL::SSLError) && e.message =~ NOT_TLS
            failures += 1
            failing += now - started
            used = spent.call
            wait = connect_wait(failures, used)
            return unreachable(e, failures, used) unless wait
            if failures == 1
              @logger.warn("wasmstash unreachable; retrying for up to #{@retry_budget} s", :pipeline => @pipeline,
                           :url => @shown_uri, :error => "#{e.class}: #{e.message}")
            end
            failing += pause(wait)
            next
          end
          code = response.code.to_i
          # The sidecar gives some refusals (413 from the Content-Length, a
          # busy 503) before it reads the body, and then closes the
          # connection; sidecars before 2026-12 did not say so with
          # `Connection: close`, nor need a proxy in between. Net::HTTP keeps
          # such a connection and looks for the close only when the next
          # request starts; on a busy machine the close comes later, breaks
          # the next request after its batch was written, and that request
          # cannot be tried again. So after anything but a 200 the next
          # request reconnects.
          drop_connection unless code == 200
          if BUSY.include?(code) && response[NOT_RUN]
            failing += now - started
            # Never under MIN_WAIT, as for a connect: with max_retry_wait 0
            # a busy sidecar would otherwise be asked again in a tight loop.
            wait = [[response["Retry-After"].to_f, 0.1].max.clamp(0, @max_retry_wait), MIN_WAIT].max
            if busy < @retries || spent.call + wait <= @retry_budget
              busy += 1
              failing += pause(wait)
              next
            end
          end
          return Answer.new(code, answer, nil)
        end
      ensure
        retrying.spent += failing
      end

      # Keeps the header values out of anything that prints the client.
      def inspect
        "#<#{self.class.name} #{@shown_uri}>"
      end

      def close
        @connections_lock.synchronize do
          @closed = true
          @connections.each_value { |http| finish(http) }
          @connections.clear
        end
      end

      private

      def now
        Process.clock_gettime(Process::CLOCK_MONOTONIC)
      end

      # Sleeps `seconds`; the seconds it slept, which count as failing.
      def pause(seconds)
        started = now
        sleep(seconds)
        now - started
      end

      # Seconds to wait before the next connect, or nil once the budget is
      # spent. The last wait is cut to what is left of the budget, so the
      # total stays within it but for the last attempt's own connect time.
      def connect_wait(failures, spent)
        left = @retry_budget - spent
        return nil if left <= 0
        wait = [FIRST_WAIT * (2**[failures - 1, 20].min), @max_retry_wait].min
        [[wait, MIN_WAIT].max, left].min
      end

      def unreachable(error, attempts, spent)
        @logger.error("wasmstash request failed", :pipeline => @pipeline, :url => @shown_uri,
                      :error => "#{error.class}: #{error.message}")
        Answer.new(nil, nil, "could not reach wasmstash at #{@shown_uri}: gave up after " \
                             "#{attempts} connection attempt#{attempts == 1 ? '' : 's'}, with #{format('%.1f', spent)} s of " \
                             "this batch's retry_budget (#{@retry_budget} s) spent on failed tries and the waits " \
                             "after them; last error: #{error.class}: #{error.message}")
      end

      def untrusted(error)
        @logger.error("wasmstash TLS verification failed; not retried", :pipeline => @pipeline, :url => @shown_uri,
                      :error => "#{error.class}: #{error.message}")
        Answer.new(nil, nil, "TLS verification of wasmstash at #{@shown_uri} failed, not retried " \
                             "(see ssl_certificate_authorities and ssl_verification_mode): #{error.class}: #{error.message}")
      end

      def not_tls(error)
        @logger.error("wasmstash's url is https, but the server there does not speak TLS; not retried",
                      :pipeline => @pipeline, :url => @shown_uri, :error => "#{error.class}: #{error.message}")
        Answer.new(nil, nil, "the server at #{@shown_uri} does not speak TLS, not retried (the sidecar serves " \
                             "plain HTTP: use an http url, or put the TLS proxy at this address): " \
                             "#{error.class}: #{error.message}")
      end

      def refused(error)
        @logger.error("wasmstash TLS handshake refused by the server; not retried", :pipeline => @pipeline,
                      :url => @shown_uri, :error => "#{error.class}: #{error.message}")
        Answer.new(nil, nil, "the TLS server at #{@shown_uri} refused the handshake, not retried " \
                             "(#{@client_cert ? 'it may not accept the client certificate' : 'it may require a client certificate'}: " \
                             "see ssl_certificate and ssl_key): #{error.class}: #{error.message}")
      end

      # Sends `request` on `http` and reads the answer within the exchange's
      # bounds: [the response, its body]. Raises OutOfBounds for an answer
      # that breaks one, with its socket closed by Net::HTTP.
      def exchange(http, request, limits)
        meter = http.meter = Meter.new(http, @timeout)
        text = "".b
        response = http.request(request) do |answer|
          lines = ResultLines.new(limits, @max_answer_bytes) if answer.code.to_i == 200
          # Read before read_body, which removes a Content-Encoding it decodes.
          promised = lines && promised_bytes(answer)
          answer.read_body do |segment|
            meter.body(segment.bytesize)
            if lines
              lines.add(segment)
            elsif text.bytesize + segment.bytesize > ERROR_BODY_BYTES
              raise OutOfBounds, "wasmstash answered #{answer.code} with a body over #{ERROR_BODY_BYTES} bytes"
            end
            text << segment
          end
          if promised && text.bytesize < promised
            raise CutShort, "wasmstash's answer ended after #{text.bytesize} of the #{promised} bytes its " \
                            "Content-Length gives (the connection closed early)"
          end
          lines.finish if lines
        end
        [response, text]
      ensure
        http.meter = nil
        http.read_timeout = @timeout
        http.write_timeout = @timeout if http.respond_to?(:write_timeout=)
      end

      # The body bytes an answer's Content-Length gives, when the bytes read
      # are those: not chunked (Content-Length is then ignored), and not
      # coded (it then counts the coded bytes, not those handed on).
      def promised_bytes(answer)
        return nil if answer.chunked?
        coding = answer["content-encoding"].to_s.strip.downcase
        return nil unless coding.empty? || coding == "identity"
        answer.content_length
      end

      def request(body, length)
        request = Post.new(@uri)
        @headers.each { |name, value| request[name] = value }
        request["Content-Type"] = "application/x-ndjson"
        request["Content-Length"] = length.to_s
        request.body_stream = body
        request
      end

      # The batch began to leave, and then the connection broke, or the
      # answer did not come in full in time or broke a bound: the sidecar
      # may have run it, so it is not sent again. Nor is a batch the sidecar
      # stopped reading before the deadline: `timeout` bounds the request.
      def sent_and_lost(error, body)
        if error.is_a?(Net::WriteTimeout) || (error.is_a?(Overdue) && !body.all_read?)
          @logger.error("wasmstash did not take the whole batch within #{@timeout} s; not retried",
                        :pipeline => @pipeline, :url => @shown_uri, :error => error.message)
          return Answer.new(nil, nil, "wasmstash did not take the whole batch within #{@timeout} s (timeout): " \
                                      "it stopped reading it; not retried, as timeout bounds the whole request")
        end
        if error.is_a?(Net::ReadTimeout) || error.is_a?(Overdue)
          @logger.error("wasmstash did not answer in full within #{@timeout} s; not retried, as it may have run the batch",
                        :pipeline => @pipeline, :url => @shown_uri, :error => error.message)
          return Answer.new(nil, nil, "wasmstash did not answer in full within #{@timeout} s (timeout); " \
                                      "not retried, as it may have run the batch")
        end
        if error.is_a?(CutShort)
          @logger.error("wasmstash's answer was cut short; not retried, as it may have run the batch",
                        :pipeline => @pipeline, :url => @shown_uri, :error => error.message)
          return Answer.new(nil, nil, "#{error.message}; not retried, as wasmstash may have run the batch")
        end
        if error.is_a?(OutOfBounds)
          @logger.error("wasmstash's answer broke a bound; not retried, as it may have run the batch",
                        :pipeline => @pipeline, :url => @shown_uri, :error => error.message)
          return Answer.new(nil, nil, "#{error.message}; the rest was not read, and the batch is not retried, " \
                                      "as wasmstash may have run the batch")
        end
        @logger.error("wasmstash request failed after the batch was sent; not retried, as it may have run the batch",
                      :pipeline => @pipeline, :url => @shown_uri, :error => error.message)
        Answer.new(nil, nil, "the connection failed after the batch was sent (#{error.class}: #{error.message}); " \
                             "not retried, as wasmstash may have run it")
      end

      # This thread's connection, connected. The lock only guards the map:
      # a worker waiting on a slow connect must not hold up the others.
      def connection
        http = @connections_lock.synchronize { @connections[Thread.current] }
        if http && http.started?
          # Bytes left after the last answer would be read as the answer to
          # the next batch, and give its events other events' results. Nothing
          # has been sent on it yet, so a new connection costs nothing else.
          leftover = http.leftover
          return http unless leftover
          if leftover == :bytes
            @logger.warn("wasmstash's connection held bytes after its last answer; reconnecting",
                         :pipeline => @pipeline, :url => @shown_uri)
          end
          drop_connection
        end
        # `hostname`: an IPv6 address without the URL's brackets.
        http = Connection.new(@uri.hostname, @uri.port)
        if @uri.scheme == "https"
          http.use_ssl = true
          http.verify_mode = @ssl_verify ? OpenSSL::SSL::VERIFY_PEER : OpenSSL::SSL::VERIFY_NONE
          http.cert_store = @cert_store if @cert_store
          if @client_cert
            http.cert = @client_cert
            http.key = @client_key
            http.extra_chain_cert = @client_chain if !@client_chain.empty? && http.respond_to?(:extra_chain_cert=)
          end
        end
        http.open_timeout = [@timeout, 10].min
        http.read_timeout = @timeout
        http.write_timeout = @timeout if http.respond_to?(:write_timeout=)
        # An answer cut short is a broken connection, not a shorter answer.
        # Net::HTTP takes an early end of a Content-Length body as the end by
        # default; a net-http newer than Ruby 3.1's and JRuby 9.3's can be
        # told not to, and for the others `exchange` counts the bytes itself
        # (CutShort).
        http.ignore_eof = false if http.respond_to?(:ignore_eof=)
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
