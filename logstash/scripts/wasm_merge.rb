# encoding: utf-8
# The last step of the stock-`http`-filter recipe (pipeline/http-filter.conf):
# puts the sidecar's answer back into the event, or cancels the event when the
# sidecar dropped it. Use from a ruby filter:
#
#   ruby { path => "/usr/share/logstash/wasmstash/scripts/wasm_merge.rb"
#          script_params => { "source" => "[@metadata][wasm_response]" } }
#
# The answer's @metadata replaces the event's, as with the plugin, when the
# request came from wasm_request.rb (which sent the event's @metadata); after
# the older one-line request step (`event.to_json`), the event's is kept.
# Either way the recipe's working fields (the request, the answer and its
# headers; script_params "request", "source" and "headers") are removed,
# whatever the outcome, so a copy of the event does not ride along in
# @metadata.
#
# The merge rules are the plugin's own (plugin/lib/logstash/filters/wasm/merge.rb),
# so the recipe and the gem give the same events. They are loaded relative to
# this file: keep scripts/ and plugin/lib/ side by side under one directory.
require_relative "../plugin/lib/logstash/filters/wasm/merge"

def register(params)
  @source = params.fetch("source", "[@metadata][wasm_response]")
  @headers = params.fetch("headers", "[@metadata][wasm_headers]")
  @request = params.fetch("request", "[@metadata][wasm_request]")
  @sent = LogStash::Filters::WasmMerge::METADATA_SENT
end

def filter(event)
  response = event.get(@source)
  headers = event.get(@headers)
  metadata_sent = event.get(@sent) == true
  [@source, @headers, @request, @sent].each { |field| event.remove(field) }
  # No answer: the http filter tagged the event _httprequestfailure; its
  # fields and @metadata stay as they are.
  return [event] if response.nil?
  # The sidecar says a drop in a header, which no event's content can fake;
  # without the headers (no target_headers), its marker body says it.
  return [] if dropped?(headers, response)
  unless response.is_a?(Hash)
    LogStash::Filters::WasmMerge.fail(event, LogStash::Filters::WasmMerge::FAILURE_TAG,
                                      "invalid_response",
                                      "the answer was not a JSON object: #{response.to_s[0, 200]}")
    return [event]
  end
  LogStash::Filters::WasmMerge.replace(event, response, metadata: metadata_sent)
  [event]
end

def dropped?(headers, response)
  if headers.is_a?(Hash)
    value = headers.find { |name, _| name.to_s.casecmp?("x-wasmstash-dropped") }&.last
    return Array(value).map(&:to_s).include?("true")
  end
  response == { "wasmstash" => { "dropped" => true } }
end
