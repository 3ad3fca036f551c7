# encoding: utf-8
# A stand-in sidecar for the answers a real one gives only when something is
# broken: each request is answered by a block, given the request body and how
# many requests came so far, that returns raw response bytes, or :close to
# drop the connection after reading the whole request.
require "socket"

class FakeSidecar
  attr_reader :requests

  def self.answer(body, code: 200, headers: "")
    "HTTP/1.1 #{code} X\r\nContent-Type: application/x-ndjson\r\n#{headers}" \
      "Content-Length: #{body.bytesize}\r\n\r\n#{body}"
  end

  def initialize(&answer)
    @server = TCPServer.new("127.0.0.1", 0)
    @requests = []
    @lock = Mutex.new
    @answer = answer
    @thread = Thread.new do
      loop { serve(@server.accept) }
    rescue IOError
      nil # `stop` closed the listener (under JRuby, before the kill lands)
    end
  end

  def url
    "http://127.0.0.1:#{@server.addr[1]}"
  end

  def stop
    @thread.kill
    @server.close
  end

  private

  def serve(socket)
    Thread.new do
      while socket.gets
        length = 0
        while (line = socket.gets) && line != "\r\n"
          name, value = line.split(":", 2)
          length = value.to_i if name.casecmp?("content-length")
        end
        body = socket.read(length)
        count = @lock.synchronize { @requests << body; @requests.size }
        out = @answer.call(body, count)
        break if out == :close
        socket.write(out)
      end
    rescue IOError, SystemCallError
      nil
    ensure
      socket.close rescue nil
    end
  end
end
