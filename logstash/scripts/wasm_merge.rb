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
end

def filter(event)
  response = event.get(@source)
  # No answer (the http filter tagged _httprequestfailure): keep the event as is.
  return [event] unless response.is_a?(Hash)
  # The sidecar's answer for a dropped event; returning no events cancels it.
  return [] if response == { "wasmstash" => { "dropped" => true } }
  event.remove(@source)
  LogStash::Filters::WasmMerge.replace(event, response)
  [event]
end
