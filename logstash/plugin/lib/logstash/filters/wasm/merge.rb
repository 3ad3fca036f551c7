# encoding: utf-8
# How a result from wasmstash goes back into a Logstash event. Shared by the
# `wasm` filter plugin and by the ruby step of the stock-`http`-filter recipe
# (logstash/scripts/wasm_merge.rb), so both treat results the same way.
require "time"

module LogStash
  module Filters
    module WasmMerge
      FAILURES = "[wasmstash][failures]".freeze

      TIMESTAMP_FAILURE = "_timestampparsefailure".freeze

      # Makes `event` hold exactly `fields` (a Hash from the sidecar), keeping
      # its @metadata, which the sidecar never sees. An `@timestamp` Logstash
      # cannot read (a filter may have set any string) is handled as
      # Logstash's json filter handles one: the event keeps its timestamp,
      # is tagged `_timestampparsefailure`, and the text goes to `_@timestamp`.
      # It is read before anything changes, so a failure leaves no event
      # half-merged.
      def self.replace(event, fields)
        stamp = fields["@timestamp"]
        parsed = begin
          timestamp(stamp) if stamp.is_a?(String)
        rescue StandardError
          nil
        end
        event.to_hash.each_key do |key|
          next if key == "@metadata" || key == "@timestamp" || fields.key?(key)
          event.remove("[#{key}]")
        end
        fields.each do |key, value|
          next if key == "@metadata"
          if key == "@timestamp"
            if parsed
              event.set("@timestamp", parsed)
            elsif value.is_a?(String)
              event.tag(TIMESTAMP_FAILURE)
              event.set("[_@timestamp]", value)
            end
          elsif key.include?("[") || key.include?("]")
            # Logstash would read such a key as a field reference; keep it
            # from landing somewhere else.
            next
          else
            event.set("[#{key}]", value)
          end
        end
        event
      end

      # Tags `event` and records why, the way the sidecar records failures.
      def self.fail(event, tag, kind, reason)
        event.tag(tag)
        failures = event.get(FAILURES)
        failures = [] unless failures.is_a?(Array)
        event.set(FAILURES, failures + [{ "filter" => "wasm", "kind" => kind, "reason" => reason.to_s[0, 1024] }])
        event
      end

      def self.timestamp(text)
        if LogStash::Timestamp.respond_to?(:parse_iso8601)
          LogStash::Timestamp.parse_iso8601(text)
        else
          LogStash::Timestamp.new(Time.iso8601(text))
        end
      end
    end
  end
end
