# encoding: utf-8
# The `wasm` filter against answers no correct sidecar gives (a broken
# sidecar, a proxy in between, something else on its port): each event
# still ends with its own result or unchanged with a tag and a reason,
# never with another event's result, and multi_filter returns, within
# `timeout`, without an exception and without reading without end.
require_relative "../spec_helper"
require "logstash/filters/wasm"
require "raw_sidecar"
require "openssl"

describe LogStash::Filters::Wasm do
  def wasm(url, extra = {})
    LogStash::Filters::Wasm.new({ "url" => url, "pipeline" => "x" }.merge(extra)).tap(&:register)
  end

  def event(message)
    LogStash::Event.new("message" => message)
  end

  def failure(event)
    Array(event.get("[wasmstash][failures]")).last || {}
  end

  # Runs multi_filter as a pipeline worker does, on a thread of its own
  # (whose stack is smaller than the main thread's), and gives it `within`
  # seconds: a worker that is still inside fails the example rather than
  # hang the run. Returns the seconds it took. The endless answers below
  # come at a few MB/s, so that a plugin that reads on without end fails
  # its example without taking all memory first.
  def filter_on_worker(filter, events, within: 15)
    started = Time.now
    worker = Thread.new { filter.multi_filter(events) }
    finished = worker.join(within)
    expect(finished).not_to be_nil, "multi_filter had not returned after #{within} s"
    Time.now - started
  ensure
    worker.kill if worker && !finished
  end

  describe "a result line nested deeper than the sidecar writes" do
    before(:all) { @server = WasmstashServer.start }
    after(:all) { WasmstashServer.stop(@server) }

    def nested(levels)
      "[" * levels + "]" * levels
    end

    it "fails that event alone as an invalid result, where parsing it overflowed the worker's stack" do
      deep = %({"event":{"d":#{nested(10_000)}}}\n)
      fake = FakeSidecar.new { FakeSidecar.answer(deep + %({"event":{"message":"done"}}\n)) }
      events = [event("a"), event("b")]
      filter_on_worker(wasm(fake.url), events)
      expect(events[0].get("message")).to eq("a")
      expect(events[0].get("tags")).to eq(["_wasmfilter_failure"])
      expect(failure(events[0])).to include("kind" => "invalid_result")
      expect(failure(events[0])["reason"]).to include("nests deeper than 128 levels")
      expect(events[1].get("message")).to eq("done")
      expect(events[1].get("tags")).to be_nil
      fake.stop
    end

    # Logstash writes events with Jackson, which has no limit at 100 levels
    # as Ruby's JSON has by default: such an event is sent, not failed.
    it "sends an event nested deeper than 100 levels, in its fields and in its @metadata" do
      deep = JSON.parse(nested(119), :max_nesting => false)
      metadata = { "m" => JSON.parse(nested(117), :max_nesting => false) }
      sent = LogStash::Event.new("message" => "a", "d" => deep, "@metadata" => metadata)
      filter_on_worker(wasm(@server[:url], "pipeline" => "access"), [sent])
      expect(sent.get("tags")).to be_nil
      expect(sent.get("[event][dataset]")).to eq("apache.access")
      expect(sent.get("d")).to eq(deep)
      expect(sent.get("@metadata")).to eq(metadata)
    end

    it "takes a line as deep as the sidecar's deepest event in its result, and refuses one a level deeper" do
      # The event's own object and 126 arrays: 127, the most the sidecar
      # takes; `{"event":...}` makes the line 128 deep.
      deepest = LogStash::Event.new("message" => "a", "d" => JSON.parse(nested(126), :max_nesting => false))
      filter_on_worker(wasm(@server[:url], "pipeline" => "access"), [deepest])
      expect(deepest.get("tags")).to be_nil
      expect(deepest.get("[event][dataset]")).to eq("apache.access")
      answers = [%({"event":{"d":#{nested(126)}}}), %({"event":{"d":#{nested(127)}}})]
      fake = FakeSidecar.new { FakeSidecar.answer(answers.join("\n") + "\n") }
      events = [event("a"), event("b")]
      filter_on_worker(wasm(fake.url), events)
      expect(events[0].get("tags")).to be_nil
      expect(events[1].get("tags")).to eq(["_wasmfilter_failure"])
      expect(failure(events[1])).to include("kind" => "invalid_result")
      fake.stop
    end
  end

  describe "an answer that does not end, or comes too slowly" do
    def expect_request_failed(events, reason)
      events.each do |e|
        expect(e.get("message")).to match(/\A[a-z]\z/)
        expect(e.get("tags")).to eq(["_httprequestfailure"])
        expect(failure(e)["kind"]).to eq("request_failed")
        expect(failure(e)["reason"]).to include(reason, "may have run the batch")
      end
    end

    it "stops reading a 200 answer once it holds more lines than there are events" do
      sidecar = RawSidecar.new do |socket, _body, _n|
        socket.write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
        lines = %({"event":{"a":"#{'b' * 1000}"}}\n) * 1000
        loop { socket.write(lines); sleep 0.005 }
      end
      events = [event("a"), event("b")]
      expect(filter_on_worker(wasm(sidecar.url, "timeout" => 60), events)).to be < 10
      expect_request_failed(events, "more than 2 result line(s) for 2 event(s)")
      sidecar.stop
    end

    it "stops reading a result line longer than a correct one can be" do
      sidecar = RawSidecar.new do |socket, _body, _n|
        socket.write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"event\":{\"a\":\"")
        loop { socket.write("b" * 65_536); sleep 0.005 }
      end
      events = [event("a")]
      bound = 2 * LogStash::Filters::WasmMerge.request_json(events[0]).bytesize + 1000 + (1 << 20)
      elapsed = filter_on_worker(wasm(sidecar.url, "timeout" => 60, "max_event_bytes" => 1000), events)
      expect(elapsed).to be < 10
      expect_request_failed(events, "result line 1 is over #{bound} bytes")
      sidecar.stop
    end

    it "stops reading an answer over max_answer_bytes, however well its lines fit their events" do
      sidecar = RawSidecar.new do |socket, _body, _n|
        socket.write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
        2.times { socket.write(%({"event":{"a":"#{"b" * 600_000}"}}\n)) }
      end
      events = [event("a"), event("b")]
      elapsed = filter_on_worker(wasm(sidecar.url, "timeout" => 60, "max_answer_bytes" => 1_000_000), events)
      expect(elapsed).to be < 10
      expect_request_failed(events, "answer is over max_answer_bytes (1000000 bytes)")
      # Unless given, it is four times max_body_bytes.
      events = [event("a"), event("b")]
      filter_on_worker(wasm(sidecar.url, "timeout" => 60, "max_body_bytes" => 250_000), events)
      expect_request_failed(events, "answer is over max_answer_bytes (1000000 bytes)")
      sidecar.stop
    end

    it "stops reading headers that do not end" do
      sidecar = RawSidecar.new do |socket, _body, _n|
        socket.write("HTTP/1.1 200 OK\r\n")
        loop do
          socket.write("X-Padding: #{'p' * 100}\r\n" * 600)
          sleep 0.01
        end
      end
      events = [event("a")]
      expect(filter_on_worker(wasm(sidecar.url, "timeout" => 60), events, within: 8)).to be < 8
      expect_request_failed(events, "status line, headers and framing")
      sidecar.stop
    end

    it "stops reading an error answer's body past 1 MiB" do
      sidecar = RawSidecar.new do |socket, _body, _n|
        socket.write("HTTP/1.1 500 Oops\r\nConnection: close\r\n\r\n")
        loop { socket.write("x" * 65_536); sleep 0.005 }
      end
      events = [event("a")]
      expect(filter_on_worker(wasm(sidecar.url, "timeout" => 60), events)).to be < 10
      expect_request_failed(events, "answered 500 with a body over 1048576 bytes")
      sidecar.stop
    end

    {
      "headers" => "HTTP/1.1 200 OK\r\nX-Slow: " + "s" * 1000,
      "a body" => "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n{\"event\":{\"message\":\"" + "s" * 1000,
    }.each do |part, trickle|
      it "gives up on #{part} trickled a byte at a time once timeout has passed" do
        sidecar = RawSidecar.new do |socket, _body, _n|
          trickle.each_char do |char|
            socket.write(char)
            sleep 0.1
          end
        end
        events = [event("a")]
        elapsed = filter_on_worker(wasm(sidecar.url, "timeout" => 1), events, within: 10)
        expect(elapsed).to be_between(1, 3)
        expect_request_failed(events, "did not answer in full within 1 s (timeout)")
        sidecar.stop
      end
    end
  end

  describe "a sidecar that stops reading the batch" do
    # Accepts connections and never reads from them, as a paused or hung
    # sidecar does: once the socket's buffers are full, a write waits.
    it "gives up once timeout has passed, however large the batch" do
      server = TCPServer.new("127.0.0.1", 0)
      held = []
      acceptor = Thread.new do
        loop { held << server.accept }
      rescue IOError
        nil
      end
      # Far past what loopback sockets buffer: written in one call, as JRuby
      # once wrote it, the batch waited for ever.
      events = %w[a b c].map { |letter| event(letter * (4 << 20)) }
      filter = wasm("http://127.0.0.1:#{server.addr[1]}", "timeout" => 1)
      elapsed = filter_on_worker(filter, events, within: 20)
      expect(elapsed).to be_between(1, 5)
      events.each do |e|
        expect(e.get("message").size).to eq(4 << 20)
        expect(e.get("tags")).to eq(["_httprequestfailure"])
        expect(failure(e)["kind"]).to eq("request_failed")
        expect(failure(e)["reason"]).to include("did not take the whole batch within 1 s (timeout)")
      end
      expect(filter.logger.lines.map { |line| line[1] })
        .to include("wasmstash did not take the whole batch within 1 s; not retried")
    ensure
      acceptor&.kill
      held&.each(&:close)
      server&.close
    end
  end

  describe "bytes left on a kept-alive connection after an answer" do
    def answer_each(body)
      lines = body.lines.map { |line| %({"event":{"message":"for #{JSON.parse(line)['message']}"}}\n) }
      FakeSidecar.answer(lines.join)
    end

    it "are not read as the next batch's answer when they came with the last one" do
      fake = FakeSidecar.new do |body, n, _head|
        stale = FakeSidecar.answer(%({"event":{"message":"STALE"}}\n) * body.lines.size)
        n == 1 ? answer_each(body) + stale : answer_each(body)
      end
      filter = wasm(fake.url)
      batches = [%w[a1 a2], %w[b1 b2], %w[c1 c2]].map { |messages| messages.map { |m| event(m) } }
      # On one thread: each worker thread has its own connection.
      batches.each { |batch| filter.multi_filter(batch) }
      expect(batches.flatten.map { |e| e.get("message") }).to eq(%w[a1 a2 b1 b2 c1 c2].map { |m| "for #{m}" })
      expect(batches.flatten.map { |e| e.get("tags") }).to all(be_nil)
      expect(fake.requests.size).to eq(3)
      expect(filter.logger.lines.map { |line| line[1] })
        .to include("wasmstash's connection held bytes after its last answer; reconnecting")
      fake.stop
    end

    it "are not read as the next batch's answer over TLS either" do
      key = OpenSSL::PKey::RSA.new(2048)
      cert = OpenSSL::X509::Certificate.new
      cert.version = 2
      cert.serial = 1
      cert.subject = cert.issuer = OpenSSL::X509::Name.parse("/CN=127.0.0.1")
      cert.public_key = key.public_key
      cert.not_before = Time.now - 60
      cert.not_after = Time.now + 3600
      cert.sign(key, OpenSSL::Digest::SHA256.new)
      context = OpenSSL::SSL::SSLContext.new
      context.cert = cert
      context.key = key
      fake = FakeSidecar.new(ssl_context: context) do |body, n, _head|
        stale = FakeSidecar.answer(%({"event":{"message":"STALE"}}\n) * body.lines.size)
        n == 1 ? answer_each(body) + stale : answer_each(body)
      end
      filter = wasm(fake.url, "ssl_verification_mode" => "none")
      batches = [%w[a1 a2], %w[b1 b2]].map { |messages| messages.map { |m| event(m) } }
      batches.each { |batch| filter.multi_filter(batch) }
      expect(batches.flatten.map { |e| e.get("message") }).to eq(%w[a1 a2 b1 b2].map { |m| "for #{m}" })
      expect(fake.requests.size).to eq(2)
      fake.stop
    end

    it "are not read as the next batch's answer when they came after the last one" do
      sidecar = RawSidecar.new do |socket, body, _n|
        socket.write(answer_each(body))
        sleep 0.1
        socket.write(FakeSidecar.answer(%({"event":{"message":"STALE"}}\n) * body.lines.size))
      end
      filter = wasm(sidecar.url)
      first = [event("a")]
      filter.multi_filter(first)
      sleep 0.5
      second = [event("b")]
      filter.multi_filter(second)
      expect((first + second).map { |e| e.get("message") }).to eq(["for a", "for b"])
      expect((first + second).map { |e| e.get("tags") }).to all(be_nil)
      sidecar.stop
    end
  end

  describe "a blank line in a 200 answer" do
    it "fails every event of the request, even when the count of lines adds up" do
      fake = FakeSidecar.new do |body, _n, _head|
        results = body.lines.first(2).map { |l| %({"event":{"message":"result for #{JSON.parse(l)['message']}"}}\n) }
        FakeSidecar.answer("\n" + results.join)
      end
      events = %w[a b c].map { |m| event(m) }
      filter_on_worker(wasm(fake.url), events)
      expect(events.map { |e| e.get("message") }).to eq(%w[a b c])
      events.each do |e|
        expect(e.get("tags")).to eq(["_httprequestfailure"])
        expect(failure(e)["kind"]).to eq("request_failed")
        expect(failure(e)["reason"]).to include("holds a blank line (line 1)")
      end
      fake.stop
    end

    it "counts a line of whitespace alone as blank, with or without its newline" do
      [%({"event":{"message":"done"}}\n \t\n), %({"event":{"message":"done"}}\n  )].each do |answer|
        fake = FakeSidecar.new { FakeSidecar.answer(answer) }
        events = [event("a"), event("b")]
        filter_on_worker(wasm(fake.url), events)
        expect(events.map { |e| e.get("message") }).to eq(%w[a b])
        events.each do |e|
          expect(failure(e)["kind"]).to eq("request_failed")
          expect(failure(e)["reason"]).to include("holds a blank line (line 2)")
        end
        fake.stop
      end
    end

    it "fails every event of the request when it comes after the last result" do
      fake = FakeSidecar.new { FakeSidecar.answer(%({"event":{"message":"done"}}\n\n)) }
      events = [event("a")]
      filter_on_worker(wasm(fake.url), events)
      expect(events.first.get("message")).to eq("a")
      expect(failure(events.first)["reason"]).to include("holds a blank line (line 2)")
      fake.stop
    end
  end

  # The real sidecar never sends one; a proxy that loses its upstream, or
  # a sidecar killed while writing, can. Whole lines prove nothing: the
  # answer's end is what its Content-Length gives.
  describe "a 200 answer that ends before its Content-Length" do
    it "fails every event of the request, even when it holds every result line, and is not sent again" do
      requests = 0
      sidecar = RawSidecar.new do |socket, body, n|
        requests = n
        results = body.lines.map { |l| %({"event":{"message":"result for #{JSON.parse(l)['message']}"}}\n) }.join
        promised = n == 1 ? results.bytesize + 50 : results.bytesize
        socket.write("HTTP/1.1 200 OK\r\nContent-Length: #{promised}\r\n\r\n#{results}")
        socket.close if n == 1
      end
      filter = wasm(sidecar.url)
      events = [event("a"), event("b")]
      filter_on_worker(filter, events)
      expect(events.map { |e| e.get("message") }).to eq(%w[a b])
      events.each do |e|
        expect(e.get("tags")).to eq(["_httprequestfailure"])
        expect(failure(e)["kind"]).to eq("request_failed")
        # A net-http that can be told not to ignore the early end says so itself.
        expect(failure(e)["reason"]).to match(/of the \d+ bytes its Content-Length gives|EOFError/)
        expect(failure(e)["reason"]).to include("may have run")
      end
      expect(requests).to eq(1)
      # The next batch goes on a new connection, and a whole answer is taken.
      later = [event("c")]
      filter_on_worker(filter, later)
      expect(later.first.get("message")).to eq("result for c")
      expect(later.first.get("tags")).to be_nil
      sidecar.stop
    end
  end
end
