# encoding: utf-8
# How a result from wasmstash goes back into a Logstash event. Shared by the
# `wasm` filter plugin and by the ruby step of the stock-`http`-filter recipe
# (logstash/scripts/wasm_merge.rb), so both treat results the same way.
require "json"
require "time"

module LogStash
  module Filters
    module WasmMerge
      NAMESPACE = "[wasmstash]".freeze
      FAILURES = "[wasmstash][failures]".freeze
      DISPLACED = "[wasmstash][displaced]".freeze

      FAILURE_TAG = "_wasmfilter_failure".freeze
      TIMESTAMP_FAILURE = "_timestampparsefailure".freeze
      TAGS_FAILURE = "_tagsparsefailure".freeze
      REASON_LIMIT = 1024

      # Makes `event` hold exactly `fields` (a Hash from the sidecar), keeping
      # its @metadata, which the sidecar never sees. An `@timestamp` Logstash
      # cannot read (a filter may have set any value) is handled as
      # Logstash's json filter handles one: the event keeps its timestamp,
      # is tagged `_timestampparsefailure`, and the value goes to `_@timestamp`.
      # It is read before anything changes, so a failure leaves no event
      # half-merged. A top-level name Logstash would read as a field reference
      # cannot be set as it is; its field is left out and the event records
      # the loss (tagged `tag`) rather than losing it unseen. `tags` that are
      # neither a string nor a list of strings (a filter may have parsed any
      # value there), which Logstash 8's event refuses, go to `_tags` and the
      # event is tagged `_tagsparsefailure`, as Logstash renames them.
      def self.replace(event, fields, tag: FAILURE_TAG, pipeline: nil)
        stamp = fields["@timestamp"]
        parsed = begin
          timestamp(stamp) if stamp.is_a?(String)
        rescue StandardError
          nil
        end
        bad_tags = fields.key?("tags") && !legal_tags?(fields["tags"])
        current = event.to_hash
        current.each_key do |key|
          next if key == "@metadata" || key == "@timestamp" || !settable?(key)
          next if fields.key?(key) && !(key == "tags" && bad_tags)
          event.remove("[#{key}]")
        end
        left_out = []
        fields.each do |key, value|
          next if key == "@metadata" || (key == "tags" && bad_tags)
          if key == "@timestamp"
            if parsed
              event.set("@timestamp", parsed)
            elsif !value.nil?
              event.tag(TIMESTAMP_FAILURE)
              event.set("[_@timestamp]", value)
            end
          elsif settable?(key)
            event.set("[#{key}]", value)
          elsif !(current.key?(key) && current[key] == value)
            # Unchanged, the event's own such field has lost nothing.
            left_out << key
          end
        end
        if bad_tags
          event.set("[_tags]", fields["tags"])
          event.tag(TAGS_FAILURE)
        end
        unless left_out.empty?
          names = left_out.map(&:inspect).join(", ")
          fail(event, tag, "invalid_field_name",
               "result fields left out, as Logstash reads [ and ] in a name as a field reference: #{names}",
               pipeline: pipeline)
        end
        event
      end

      # What Logstash 8's event accepts in `tags`.
      def self.legal_tags?(value)
        value.nil? || value.is_a?(String) || (value.is_a?(Array) && value.all? { |t| t.is_a?(String) })
      end

      # Tags `event` and appends `{filter, pipeline, kind, reason}` to
      # [wasmstash][failures], the way the sidecar records failures. A
      # `wasmstash` field of the event's own that is not an object cannot hold
      # the record (Logstash refuses the set), and a `failures` that is not a
      # list would be replaced by one (or make Elasticsearch refuse the event,
      # as the index template maps it as objects): like the sidecar, each
      # moves to [wasmstash][displaced], as text, instead of being lost.
      def self.fail(event, tag, kind, reason, pipeline: nil)
        event.tag(tag)
        own = event.get(NAMESPACE)
        unless own.nil? || own.is_a?(Hash)
          event.remove(NAMESPACE)
          displace(event, own)
        end
        failures = event.get(FAILURES)
        unless failures.nil? || failures.is_a?(Array)
          event.remove(FAILURES)
          displace(event, failures)
          failures = nil
        end
        record = { "filter" => "wasm" }
        record["pipeline"] = pipeline if pipeline
        record["kind"] = kind
        record["reason"] = clean(reason.to_s)[0, REASON_LIMIT]
        event.set(FAILURES, (failures || []) + [record])
        event
      end

      # Keeps `value` as text at [wasmstash][displaced], after anything
      # already kept there (a list of texts, which a `keyword` field takes).
      def self.displace(event, value)
        kept = event.get(DISPLACED)
        text = as_text(value)
        event.set(DISPLACED, case kept
                             when nil then text
                             when Array then kept + [text]
                             else [kept, text]
                             end)
      end

      def self.settable?(key)
        !key.empty? && !key.include?("[") && !key.include?("]")
      end

      # A reason can quote the bytes that made the event fail; the record
      # itself must still be valid UTF-8, or the output fails on it too.
      def self.clean(text)
        text = text.dup.force_encoding(Encoding::UTF_8)
        text.valid_encoding? ? text : text.scrub("\uFFFD")
      end

      def self.as_text(value)
        return value if value.is_a?(String)
        begin
          JSON.generate(value)
        rescue StandardError
          value.inspect
        end
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
