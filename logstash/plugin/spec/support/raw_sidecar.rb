# encoding: utf-8
# A stand-in sidecar on a raw socket, for answers FakeSidecar cannot give:
# it reads each request on a connection and hands the socket to the block,
# given the request's body and how many requests came so far, to write
# whatever it likes, as slowly as it likes, for as long as it likes. `stop`
# ends it.
require "socket"

class RawSidecar
  attr_reader :url

  def initialize(&answer)
    @server = TCPServer.new("127.0.0.1", 0)
    @url = "http://127.0.0.1:#{@server.addr[1]}"
    @count = 0
    @lock = Mutex.new
    @threads = []
    @acceptor = Thread.new do
      loop { serve(@server.accept, &answer) }
    rescue IOError
      nil
    end
  end

  def stop
    @acceptor.kill
    @threads.each(&:kill)
    @server.close
  end

  private

  def serve(socket, &answer)
    @threads << Thread.new do
      while socket.gets
        length = 0
        while (line = socket.gets) && line != "\r\n"
          length = line.split(":", 2)[1].to_i if line =~ /\Acontent-length:/i
        end
        body = socket.read(length)
        answer.call(socket, body, @lock.synchronize { @count += 1 })
      end
    rescue IOError, SystemCallError
      nil
    ensure
      socket.close rescue nil
    end
  end
end
