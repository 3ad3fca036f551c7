# encoding: utf-8
# The `wasm` filter: sends each pipeline worker's whole batch to a wasmstash
# sidecar in one HTTP call and puts the results back into the events.
#
#   filter { wasm { url => "http://127.0.0.1:9700" pipeline => "access" } }
#
# Logstash hands a filter the worker batch through multi_filter (125 events by
# default). One call per batch instead of one per event is the point of this
# plugin over the stock http filter.
require "logstash/filters/base"
require "logstash/namespace"
require "logstash/filters/wasm/merge"
require "json"
require "net/http"
require "uri"

class LogStash::Filters::Wasm < LogStash::Filters::Base
  config_name "wasm"

  # Base URL of the sidecar.
  config :url, :validate => :string, :default => "http://127.0.0.1:9700"
  # The sidecar pipeline to run.
  config :pipeline, :validate => :string, :required => true
  # Seconds to wait for the answer (a connection gets at most 10 of them).
  # It must outlast the sidecar's worst case: when a filter runs past its
  # deadline, the sidecar replays the batch one event at a time, so a batch
  # can take up to the batch size times engine.call_timeout_ms.
  config :timeout, :validate => :number, :default => 180
  # Retries after a connection error, a 429 or a 503 (the sidecar's "busy").
  # A request that was sent and not answered in time is not retried: the
  # sidecar may have run it, and its stateful filters would count it twice.
  config :retries, :validate => :number, :default => 3
  # Longest wait between retries, in seconds (the sidecar's Retry-After, capped).
  config :max_retry_wait, :validate => :number, :default => 5
  # Tag for events whose call did not succeed; they pass through unchanged.
  config :tag_on_request_failure, :validate => :string, :default => "_httprequestfailure"
  # Tag for an event the sidecar refused on its own (invalid event).
  config :tag_on_failure, :validate => :string, :default => "_wasmfilter_failure"

  RETRYABLE = [429, 503].freeze

  def register
    base = @url.end_with?("/") ? @url : "#{@url}/"
    @uri = URI.join(base, "v1/pipelines/#{URI.encode_www_form_component(@pipeline)}/batch")
    @connections = {}
    @connections_lock = Mutex.new
  end

  def filter(event)
    multi_filter([event])
  end

  def multi_filter(events)
    live = events.reject(&:cancelled?)
    return events if live.empty?
    body = live.map(&:to_json).join("\n") << "\n"
    lines = post(body, live.size)
    if lines.nil?
      live.each { |event| event.tag(@tag_on_request_failure) }
      return events
    end
    live.each_with_index { |event, index| apply(event, lines[index]) }
    events
  end

  def close
    @connections_lock.synchronize do
      @connections.each_value { |http| http.finish if http.started? rescue nil }
      @connections.clear
    end
  end

  private

  def apply(event, line)
    result = JSON.parse(line)
    if result["dropped"] == true
      event.cancel
    elsif result["event"].is_a?(Hash)
      LogStash::Filters::WasmMerge.replace(event, result["event"])
      filter_matched(event)
    else
      reason = result["error"] || "unexpected result line: #{line[0, 200]}"
      LogStash::Filters::WasmMerge.fail(event, @tag_on_failure, "invalid_input", reason)
    end
  rescue JSON::ParserError => e
    LogStash::Filters::WasmMerge.fail(event, @tag_on_request_failure, "invalid_response", e.message)
  rescue StandardError => e
    # Whatever the result holds, one event's failure must not stop the
    # pipeline worker (and, with a persisted queue, replay into it again).
    LogStash::Filters::WasmMerge.fail(event, @tag_on_failure, "invalid_result", "#{e.class}: #{e.message}")
  end

  # Returns one result line per event, or nil after logging why not.
  def post(body, expected)
    attempt = 0
    begin
      attempt += 1
      request = Net::HTTP::Post.new(@uri)
      request["Content-Type"] = "application/x-ndjson"
      request.body = body
      response = connection.request(request)
      code = response.code.to_i
      if RETRYABLE.include?(code) && attempt <= @retries
        sleep([response["Retry-After"].to_f, 0.1].max.clamp(0, @max_retry_wait))
        raise RetryLater
      end
      unless code == 200
        @logger.error("wasmstash answered #{code}", :pipeline => @pipeline, :body => response.body.to_s[0, 500])
        return nil
      end
      lines = response.body.split("\n")
      if lines.size != expected
        @logger.error("wasmstash returned #{lines.size} results for #{expected} events", :pipeline => @pipeline)
        return nil
      end
      lines
    rescue RetryLater
      retry
    rescue Net::ReadTimeout => e
      drop_connection
      @logger.error("wasmstash did not answer within #{@timeout} s; not retried, as it may have run the batch",
                    :pipeline => @pipeline, :url => @uri.to_s, :error => e.message)
      nil
    rescue StandardError => e
      drop_connection
      if attempt <= @retries
        sleep([0.1 * (2**attempt), @max_retry_wait].min)
        retry
      end
      @logger.error("wasmstash request failed", :pipeline => @pipeline, :url => @uri.to_s, :error => e.message)
      nil
    end
  end

  class RetryLater < StandardError; end

  # One persistent connection per pipeline worker thread.
  def connection
    @connections_lock.synchronize do
      http = @connections[Thread.current]
      return http if http&.started?
      http = Net::HTTP.new(@uri.host, @uri.port)
      http.use_ssl = @uri.scheme == "https"
      http.open_timeout = [@timeout, 10].min
      http.read_timeout = @timeout
      http.keep_alive_timeout = 30
      http.start
      @connections[Thread.current] = http
    end
  end

  def drop_connection
    @connections_lock.synchronize do
      http = @connections.delete(Thread.current)
      http.finish if http&.started? rescue nil
    end
  end
end
