# encoding: utf-8
# A stand-in sidecar for the answers a real one gives only when something is
# broken: each request is answered by a block, given the request body, how
# many requests came so far and the request's path and headers, that returns
# raw response bytes, or :close to drop the connection after reading the
# whole request. With an SSLContext it speaks TLS, as a proxy in front of a
# sidecar would, and one whose context verifies peers requires a client
# certificate, as a proxy set up for mutual TLS does.
require "openssl"
require "socket"

class FakeSidecar
  # `heads`: each request's path, headers (names in lower case), its
  # connection (numbered from 1 as accepted), and, over TLS, the subject of
  # the client's certificate (nil without one);
  # `tls_failures`: the TLS handshakes that failed, with OpenSSL's reason.
  attr_reader :requests, :heads, :tls_failures

  # The sidecar's refusal of a request it did not run: 429 or 503, with its
  # Retry-After and the header saying so, as `wasmstash serve` gives it.
  def self.not_run(body, code:, retry_after: 0)
    answer(body, code: code, headers: "Retry-After: #{retry_after}\r\nX-Wasmstash-Not-Run: 1\r\n")
  end

  def self.answer(body, code: 200, headers: "")
    "HTTP/1.1 #{code} X\r\nContent-Type: application/x-ndjson\r\n#{headers}" \
      "Content-Length: #{body.bytesize}\r\n\r\n#{body}"
  end

  def initialize(ssl_context: nil, bind: "127.0.0.1", &answer)
    @server = TCPServer.new(bind, 0)
    @ssl_context = ssl_context
    @requests = []
    @heads = []
    @tls_failures = []
    @lock = Mutex.new
    @answer = answer
    @thread = Thread.new do
      connections = 0
      loop { serve(@server.accept, connections += 1) }
    rescue IOError
      nil # `stop` closed the listener (under JRuby, before the kill lands)
    end
  end

  def url(host = "127.0.0.1")
    "#{@ssl_context ? 'https' : 'http'}://#{host}:#{@server.addr[1]}"
  end

  def stop
    @thread.kill
    @server.close
  end

  private

  # The handshake runs here, not in the accept loop, so that a client that
  # refuses the certificate fails only its own connection.
  def handshake(socket)
    return socket unless @ssl_context
    tls = OpenSSL::SSL::SSLSocket.new(socket, @ssl_context)
    tls.sync_close = true
    tls.sync = true
    begin
      tls.accept
    rescue OpenSSL::SSL::SSLError => e
      @lock.synchronize { @tls_failures << e.message }
      raise
    end
  end

  def serve(socket, connection)
    Thread.new do
      socket = handshake(socket)
      client_cert = socket.respond_to?(:peer_cert) && socket.peer_cert ? socket.peer_cert.subject.to_s : nil
      while (request_line = socket.gets)
        length = 0
        headers = {}
        while (line = socket.gets) && line != "\r\n"
          name, value = line.split(":", 2)
          headers[name.downcase] = value.strip
          length = value.to_i if name.casecmp?("content-length")
        end
        body = socket.read(length)
        head = { :path => request_line.split(" ")[1], :headers => headers, :connection => connection,
                 :client_cert => client_cert }
        count = @lock.synchronize { @requests << body; @heads << head; @requests.size }
        out = @answer.call(body, count, head)
        break if out == :close
        socket.write(out)
      end
    rescue IOError, SystemCallError, OpenSSL::SSL::SSLError
      nil
    ensure
      socket.close rescue nil
    end
  end
end
