# Stand-in for logstash-core's namespace file (see ../logstash_stub.rb).
module LogStash
  module Filters; end
end
