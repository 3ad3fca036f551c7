# encoding: utf-8
# The first step of the stock-`http`-filter recipe (pipeline/http-filter.conf):
# writes the event, as JSON, where the http filter's `body` reads it. Use from
# a ruby filter:
#
#   ruby { path => "/usr/share/logstash/wasmstash/scripts/wasm_request.rb" }
#
# The JSON is the one the `wasm` plugin sends: the event's fields and its
# @metadata, so that sidecar filters read and write [@metadata][...] as
# Logstash filters do. It leaves out the recipe's own working fields (this
# JSON, the http filter's answer and headers), which would otherwise travel
# inside their own request and come back doubled; wasm_merge.rb removes them
# once the answer is merged. Name them with script_params when the http
# filter's settings use other fields:
#
#   script_params => { "target" => "[@metadata][wasm_request]"
#                      "response" => "[@metadata][wasm_response]"
#                      "headers" => "[@metadata][wasm_headers]" }
#
# The merge rules are the plugin's own (plugin/lib/logstash/filters/wasm/merge.rb),
# loaded relative to this file: keep scripts/ and plugin/lib/ side by side
# under one directory.
require_relative "../plugin/lib/logstash/filters/wasm/merge"

def register(params)
  @target = params.fetch("target", "[@metadata][wasm_request]")
  # Set next to the request, never sent: tells wasm_merge.rb that the
  # request carried the event's @metadata, so the answer's replaces it.
  @sent = LogStash::Filters::WasmMerge::METADATA_SENT
  @leave_out = [@target, params.fetch("response", "[@metadata][wasm_response]"),
                params.fetch("headers", "[@metadata][wasm_headers]"), @sent]
end

def filter(event)
  begin
    json = LogStash::Filters::WasmMerge.request_json(event, leave_out: @leave_out)
  rescue StandardError => e
    # With nothing at the target the http filter sends its body template as
    # it is, which the sidecar refuses: the event passes on unchanged, with
    # this reason.
    event.remove(@target)
    event.remove(@sent)
    LogStash::Filters::WasmMerge.fail(event, LogStash::Filters::WasmMerge::FAILURE_TAG, "invalid_event",
                                      "the event cannot be written as JSON: #{e.class}: #{e.message}")
    return [event]
  end
  event.set(@target, json)
  event.set(@sent, true)
  [event]
end
