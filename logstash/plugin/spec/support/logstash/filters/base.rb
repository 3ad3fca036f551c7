# Stand-in for logstash-core's filter base class (see ../../logstash_stub.rb).
require_relative "../../logstash_stub"
