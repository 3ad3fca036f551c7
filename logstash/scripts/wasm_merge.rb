# encoding: utf-8
# The last step of the stock-`http`-filter recipe (pipeline/http-filter.conf):
# puts the sidecar's answer back into the event, or cancels the event when the
# sidecar dropped it. Use from a ruby filter:
#
#   ruby { path => "/usr/share/logstash/wasmstash/scripts/wasm_merge.rb"
#          script_params => { "source" => "[@metadata][wasm_response]" } }
#
# The merge rules are the plugin's own (plugin/lib/logstash/filters/wasm/merge.rb),
# so the recipe and the gem give the same events. They are loaded relative to
# this file: keep scripts/ and plugin/lib/ side by side under one directory.
require_relative "../plugin/lib/logstash/filters/wasm/merge"

def register(params)
  @source = params.fetch("source", "[@metadata][wasm_response]")
  @headers = params.fetch("headers", "[@metadata][wasm_headers]")
end

def filter(event)
  response = event.get(@source)
  # No answer: the http filter tagged the event _httprequestfailure; keep it
  # as it is.
  return [event] if response.nil?
  event.remove(@source)
  # The sidecar says a drop in a header, which no event's content can fake;
  # without the headers (no target_headers), its marker body says it.
  return [] if dropped?(event.get(@headers), response)
  unless response.is_a?(Hash)
    LogStash::Filters::WasmMerge.fail(event, LogStash::Filters::WasmMerge::FAILURE_TAG,
                                      "invalid_response",
                                      "the answer was not a JSON object: #{response.to_s[0, 200]}")
    return [event]
  end
  LogStash::Filters::WasmMerge.replace(event, response)
  [event]
end

def dropped?(headers, response)
  if headers.is_a?(Hash)
    value = headers.find { |name, _| name.to_s.casecmp?("x-wasmstash-dropped") }&.last
    return Array(value).map(&:to_s).include?("true")
  end
  response == { "wasmstash" => { "dropped" => true } }
end
