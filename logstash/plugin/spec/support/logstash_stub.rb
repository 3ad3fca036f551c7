# encoding: utf-8
# A thin stand-in for the two pieces of logstash-core that a filter plugin
# touches, LogStash::Event and LogStash::Filters::Base, because Logstash
# itself cannot be installed on the machines these specs run on. It follows
# the documented Event API (get/set/remove with field references, @metadata
# apart from the fields, tag, cancel, to_hash, to_hash_with_metadata,
# to_json, @timestamp as LogStash::Timestamp) and the plugin
# config DSL, and nothing more: the specs exercise the plugin and the real
# wasmstash sidecar, not this file.
require "json"
require "time"
require "bigdecimal"

# Logstash writes an event's BigDecimal as a JSON number (Jackson, with
# Java's BigDecimal#toString: a whole number without a fraction), where
# Ruby's JSON would write its text. Java's scientific form for very small
# or large scales is not imitated.
class BigDecimal
  def to_json(*)
    frac.zero? ? to_i.to_s : to_s("F")
  end
end

module LogStash
  module Filters; end

  # What logstash-core raises for a bad plugin setting; Logstash reports it
  # and does not start the pipeline.
  class ConfigurationError < StandardError; end

  # Logstash's plugin logger takes a message and a Hash of details.
  class StubLogger
    attr_reader :lines

    def initialize
      @lines = []
    end

    %i[error warn info debug].each do |level|
      define_method(level) { |message, details = {}| @lines << [level, message, details] }
    end
  end

  class Timestamp
    attr_reader :time

    def initialize(time = Time.now)
      @time = time.utc
    end

    def self.parse_iso8601(text)
      new(Time.iso8601(text))
    end

    def to_iso8601
      @time.iso8601(3)
    end

    def to_json(*args)
      to_iso8601.to_json(*args)
    end
  end

  class Event
    class InvalidFieldSet < RuntimeError; end
    class InvalidTagsType < RuntimeError; end

    def initialize(data = {})
      @data = deep_copy(data)
      @data["@timestamp"] = Timestamp.new unless @data["@timestamp"].is_a?(Timestamp)
      @data["@version"] ||= "1"
      @cancelled = false
    end

    def get(reference)
      keys = path(reference)
      # Like Logstash: @metadata itself is always an object (a copy), empty
      # when the event has none.
      return deep_copy(@data["@metadata"] || {}) if keys == ["@metadata"]
      keys.reduce(@data) { |node, key| node.is_a?(Hash) ? node[key] : nil }
    end

    def set(reference, value)
      keys = path(reference)
      # Like Logstash 8's Event#setField: setting @metadata replaces all of
      # it with a copy of the hash; anything but a hash fails its cast.
      if keys == ["@metadata"]
        raise TypeError, "@metadata must be a Hash (got #{value.class})" unless value.is_a?(Hash)
        return @data["@metadata"] = deep_copy(value)
      end
      if keys == ["@timestamp"] && !value.is_a?(Timestamp)
        raise TypeError, "wrong argument type #{value.class} (expected LogStash::Timestamp)"
      end
      # Logstash 8's Event#setField: `tags` holds a string or a list of
      # strings, and nothing may be set inside it.
      if keys.first == "tags" && (keys.size > 1 || !(value.nil? || value.is_a?(String) ||
                                                  (value.is_a?(Array) && value.all? { |t| t.is_a?(String) })))
        raise InvalidTagsType, "Could not set field tags to #{value.inspect}"
      end
      # Like Logstash's field accessors: missing parents are created, but a
      # parent that holds a value other than an object is not replaced.
      parent = keys[0..-2].reduce(@data) do |node, key|
        node[key] = {} if node[key].nil?
        unless node[key].is_a?(Hash)
          raise InvalidFieldSet, "Could not set field '#{keys.last}' on parent [#{key}] holding #{node[key].class}: #{reference}"
        end
        node[key]
      end
      parent[keys.last] = deep_copy(value)
    end

    def remove(reference)
      keys = path(reference)
      # Like Logstash: removing @metadata empties it.
      return @data.delete("@metadata") || {} if keys == ["@metadata"]
      parent = keys[0..-2].reduce(@data) { |node, key| node.is_a?(Hash) ? node[key] : nil }
      parent.is_a?(Hash) ? parent.delete(keys.last) : nil
    end

    def tag(name)
      tags = Array(get("tags"))
      set("tags", tags + [name]) unless tags.include?(name)
    end

    def cancel
      @cancelled = true
    end

    def cancelled?
      @cancelled
    end

    # Like Logstash: everything but @metadata.
    def to_hash
      deep_copy(@data.reject { |key, _| key == "@metadata" })
    end

    # Like Logstash: @metadata as a member only when the event has any.
    def to_hash_with_metadata
      metadata = get("@metadata")
      metadata.empty? ? to_hash : to_hash.merge("@metadata" => metadata)
    end

    # Logstash writes the event with Jackson, which has no nesting limit
    # the sidecar's (128) would reach; Ruby's JSON stops at 100 unless told.
    def to_json(*)
      JSON.generate(to_hash, :max_nesting => false)
    end

    private

    def path(reference)
      return [reference] unless reference.start_with?("[")
      reference.scan(/\[([^\[\]]+)\]/).flatten
    end

    def deep_copy(value)
      case value
      when Hash then value.each_with_object({}) { |(k, v), copy| copy[k] = deep_copy(v) }
      when Array then value.map { |v| deep_copy(v) }
      else value
      end
    end
  end

  module Filters
    class Base
      def self.config_name(name = nil)
        @config_name = name if name
        @config_name
      end

      def self.config(name, options = {})
        @options ||= {}
        @options[name.to_s] = options
        attr_reader name
      end

      def self.options
        @options || {}
      end

      attr_reader :logger

      def initialize(params = {})
        params = params.transform_keys(&:to_s)
        self.class.options.each do |name, options|
          raise ArgumentError, "missing required setting `#{name}`" if options[:required] && !params.key?(name)
          instance_variable_set("@#{name}", params.fetch(name, options[:default]))
        end
        @add_tag = Array(params["add_tag"])
        @remove_field = Array(params["remove_field"])
        @logger = StubLogger.new
      end

      # The base class applies decorations on success; add_tag and
      # remove_field (without sprintf) are the ones these specs use.
      def filter_matched(event)
        @remove_field.each { |field| event.remove(field) }
        @add_tag.each { |tag| event.tag(tag) }
      end
    end
  end
end
