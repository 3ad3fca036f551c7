# encoding: utf-8
# How a Logstash event goes to wasmstash, and how the result comes back into
# it. Shared by the `wasm` filter plugin and by the ruby steps of the
# stock-`http`-filter recipe (logstash/scripts/wasm_request.rb and
# wasm_merge.rb), so both send and merge events the same way.
require "json"
require "time"
begin
  # Logstash's own JSON writer, for @metadata (absent outside Logstash).
  require "logstash/json"
rescue LoadError
  nil
end

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
      METADATA = "@metadata".freeze
      # The http-filter recipe's mark that its request carried the event's
      # @metadata (scripts/wasm_request.rb sets it, wasm_merge.rb reads it).
      # A request from the recipe's older one-line ruby step, which sent
      # `event.to_json` alone, has none, and its merge keeps the event's
      # @metadata as that recipe did.
      METADATA_SENT = "[@metadata][wasm_metadata_sent]".freeze

      # The event as JSON for the sidecar: Logstash's own JSON of it
      # (`event.to_json`, which never holds @metadata), plus the event's
      # @metadata as a top-level "@metadata" member when it has any, as
      # Logstash's `to_hash_with_metadata` has it. So a sidecar filter reads
      # and writes [@metadata][...] as a Logstash filter would. `leave_out`
      # names @metadata fields not to send (`[@metadata][wasm_request]`):
      # the recipe's own working fields, which must not travel in their own
      # request. Raises when the event or its @metadata cannot be written as
      # JSON.
      def self.request_json(event, leave_out: [])
        json = event.to_json
        metadata = metadata_to_send(event, leave_out)
        return json if metadata.empty?
        begin
          dumped = dump_json(metadata)
        rescue StandardError => e
          raise JSON::GeneratorError, "its @metadata cannot be written as JSON (#{e.class}: #{e.message})"
        end
        body = json.rstrip
        raise JSON::GeneratorError, "the event's JSON is not an object" unless body.start_with?("{") && body.end_with?("}")
        inner = body[0...-1].b
        inner << "," unless inner.strip == "{"
        inner << "\"@metadata\":" << dumped.b << "}"
        inner.force_encoding(Encoding::UTF_8)
      end

      # The event's @metadata (a copy) without the `leave_out` fields.
      def self.metadata_to_send(event, leave_out)
        metadata = event.get(METADATA)
        return {} unless metadata.is_a?(Hash) && !metadata.empty?
        leave_out.each do |reference|
          keys = reference_path(reference)
          next unless keys.size > 1 && keys.first == METADATA
          metadata = without(metadata, keys.drop(1))
        end
        metadata
      end

      # `hash` without the field at `keys`, copying only the objects on the
      # way to it, so that the event's own @metadata is never changed.
      def self.without(hash, keys)
        return hash unless hash.is_a?(Hash) && hash.key?(keys.first)
        copy = hash.dup
        if keys.size == 1
          copy.delete(keys.first)
        else
          copy[keys.first] = without(copy[keys.first], keys.drop(1))
        end
        copy
      end

      # "[@metadata][a][b]" as ["@metadata", "a", "b"]; a bare name as itself.
      def self.reference_path(reference)
        reference = reference.to_s
        return [reference] unless reference.start_with?("[")
        reference.scan(/\[([^\[\]]+)\]/).flatten
      end

      # Outside Logstash (the specs), Ruby's JSON, without the nesting limit
      # of 100 it has by default and Logstash's writer does not.
      def self.dump_json(value)
        if defined?(LogStash::Json) && LogStash::Json.respond_to?(:dump)
          LogStash::Json.dump(value)
        else
          JSON.generate(value, :max_nesting => false)
        end
      end

      # Makes `event` hold exactly `fields` (a Hash from the sidecar). Its
      # @metadata becomes the result's "@metadata" member, all of it: what a
      # sidecar filter added is there, what one removed is gone, and a result
      # without the member leaves the event with none (the event's own went
      # to the sidecar with it, see `request_json`). A "@metadata" that is not
      # an object, which Logstash's event cannot hold, leaves the event's as
      # it was, and the event is tagged `tag` with the reason. With
      # `metadata: false` (a request sent without @metadata), the event's
      # @metadata is kept and the result's ignored. An `@timestamp` Logstash
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
      # Both marks are written once every field is set, as Logstash's event
      # writes them once its map is read: set among the fields, they would
      # be lost to a `tags` or `_@timestamp` that came later in the result.
      def self.replace(event, fields, tag: FAILURE_TAG, pipeline: nil, metadata: true)
        new_metadata = fields[METADATA]
        bad_metadata = metadata && !(new_metadata.nil? || new_metadata.is_a?(Hash))
        stamp = fields["@timestamp"]
        parsed = begin
          timestamp(stamp) if stamp.is_a?(String)
        rescue StandardError
          nil
        end
        stamp_failed = !parsed && !stamp.nil?
        bad_tags = fields.key?("tags") && !legal_tags?(fields["tags"])
        current = event.to_hash
        current.each_key do |key|
          next if key == METADATA || key == "@timestamp" || !settable?(key)
          next if fields.key?(key) && !(key == "tags" && bad_tags)
          event.remove("[#{key}]")
        end
        left_out = []
        fields.each do |key, value|
          next if key == METADATA || (key == "tags" && bad_tags)
          if key == "@timestamp"
            event.set("@timestamp", parsed) if parsed
          elsif current.key?(key) && same_json?(current[key], value)
            # A field the filter left as it was keeps the event's own value,
            # and with it what JSON cannot carry (a Timestamp comes back as
            # its text, a BigDecimal as a Float). One whose name Logstash
            # cannot set has lost nothing either.
            next
          elsif settable?(key)
            event.set("[#{key}]", value)
          else
            left_out << key
          end
        end
        # Logstash's event replaces its whole @metadata on a set of
        # "@metadata" (with a copy of the hash).
        event.set(METADATA, new_metadata || {}) if metadata && !bad_metadata
        # Logstash's order: the tags first (its event renames them, which
        # makes `_tagsparsefailure` the first tag), then the timestamp.
        if bad_tags
          # Added to what `_tags` holds, as the sidecar's SDK does. Logstash's
          # event (initFailTag) would set `_tags` anew, losing an earlier one:
          # a deliberate difference, since nothing is to be lost silently.
          kept = event.get("[_tags]")
          kept = kept.is_a?(Array) ? kept.dup : [kept].compact
          event.set("[_tags]", kept << fields["tags"])
          event.tag(TAGS_FAILURE)
        end
        if stamp_failed
          event.tag(TIMESTAMP_FAILURE)
          event.set("[_@timestamp]", stamp)
        end
        if bad_metadata
          fail(event, tag, "invalid_result",
               "the result's @metadata is not an object, so the event keeps its own: #{as_text(new_metadata)[0, 200]}",
               pipeline: pipeline)
        end
        unless left_out.empty?
          names = left_out.map(&:inspect).join(", ")
          fail(event, tag, "invalid_field_name",
               "result fields left out, as Logstash reads [ and ] in a name as a field reference: #{names}",
               pipeline: pipeline)
        end
        event
      end

      # Whether `returned`, read from the sidecar's JSON, is what `own` (a
      # value of the event) was written as in the request.
      def self.same_json?(own, returned)
        case own
        when Hash
          returned.is_a?(Hash) && own.size == returned.size &&
            own.all? { |k, v| returned.key?(k) && same_json?(v, returned[k]) }
        when Array
          returned.is_a?(Array) && own.size == returned.size &&
            own.each_index.all? { |i| same_json?(own[i], returned[i]) }
        when LogStash::Timestamp
          returned.is_a?(String) && returned == own.to_iso8601
        when Float, Integer, String, true, false, nil
          own == returned && own.class == returned.class
        else
          same_decimal?(own, returned)
        end
      end

      # A BigDecimal went out as its digits, which come back exactly as an
      # Integer, or as a Float that may have lost some. It is the same only
      # when the number that came back is exactly its own: two decimals
      # that differ past a double's digits read back as one Float, and the
      # filter's may be the other.
      def self.same_decimal?(own, returned)
        return false unless defined?(BigDecimal) && own.is_a?(BigDecimal)
        case returned
        when Integer then own == returned
        when Float then returned.finite? && own == BigDecimal(returned.to_s)
        else false
        end
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
      # What the event brought there is made text too, each member of a
      # list, except a null, which a keyword field passes by.
      def self.displace(event, value)
        kept = event.get(DISPLACED)
        text = as_text(value)
        event.set(DISPLACED, case kept
                             when nil then text
                             when Array then kept.map { |k| k.nil? ? k : as_text(k) } + [text]
                             else [as_text(kept), text]
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
