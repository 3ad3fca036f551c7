# encoding: utf-8
# @metadata across the sidecar, with the `wasm` filter and with the stock http
# filter recipe: sidecar filters read the event's @metadata as Logstash
# filters would, and what they write there, or remove, is what the event has
# after the merge.
require_relative "../spec_helper"
require "logstash/filters/wasm"

describe "@metadata and the sidecar" do
  before(:all) { @server = WasmstashServer.start }
  after(:all) { WasmstashServer.stop(@server) }

  let(:scripts) { File.expand_path("../../../scripts", __dir__) }

  def wasm(pipeline, url = @server[:url])
    LogStash::Filters::Wasm.new("url" => url, "pipeline" => pipeline).tap(&:register)
  end

  # An event as Beats sends it: the agent in @metadata, beside a field that
  # a sidecar filter removes and one it leaves alone.
  def beats_event(message = "GET /")
    LogStash::Event.new("message" => message,
                        "@metadata" => { "beat" => "filebeat", "secret" => "s3cr3t", "route" => "web" })
  end

  def failure(event)
    Array(event.get("[wasmstash][failures]")).last || {}
  end

  describe "the wasm filter" do
    it "lets sidecar filters read the event's @metadata" do
      event = beats_event
      wasm("meta").multi_filter([event])
      expect(event.get("tags")).to be_nil
      expect(event.get("[agent][type]")).to eq("filebeat")
    end

    it "gives the event what sidecar filters wrote under @metadata, and not what they removed" do
      event = beats_event
      wasm("meta").multi_filter([event])
      expect(event.get("@metadata")).to eq("beat" => "filebeat", "route" => "web", "index" => "logs-filebeat")
      # Still @metadata: nothing of it among the fields an output writes.
      expect(event.to_hash.keys).not_to include("@metadata", "index", "beat")
      expect(event.get("message")).to eq("GET /")
    end

    it "adds @metadata to an event that had none" do
      event = LogStash::Event.new("message" => "x")
      wasm("meta").multi_filter([event])
      # Logstash leaves a reference to a missing field as written.
      expect(event.get("[@metadata][index]")).to eq("logs-%{[@metadata][beat]}")
    end

    it "sends each event's @metadata as a member of its JSON only when it has some" do
      sidecar = FakeSidecar.new do |body|
        FakeSidecar.answer(body.lines.map { |line| %({"event":#{line.chomp}}\n) }.join)
      end
      with_metadata = beats_event
      without = LogStash::Event.new("message" => "plain")
      wasm("meta", sidecar.url).multi_filter([with_metadata, without])
      sent = sidecar.requests.first.lines.map { |line| JSON.parse(line) }
      expect(sent[0]["@metadata"]).to eq("beat" => "filebeat", "secret" => "s3cr3t", "route" => "web")
      expect(sent[0]).to eq(JSON.parse(JSON.generate(with_metadata.to_hash_with_metadata)))
      expect(sent[1]).not_to have_key("@metadata")
      expect(with_metadata.get("[@metadata][secret]")).to eq("s3cr3t")
    ensure
      sidecar&.stop
    end

    it "empties @metadata when sidecar filters removed all of it" do
      event = beats_event
      wasm("nometa").multi_filter([event])
      expect(event.get("tags")).to be_nil
      expect(event.get("@metadata")).to eq({})
      expect(event.get("message")).to eq("GET /")
    end

    it "keeps the event's @metadata, tagged with the reason, when the result's is not an object" do
      event = beats_event
      wasm("badmeta").multi_filter([event])
      expect(event.get("tags")).to eq(["_wasmfilter_failure"])
      expect(failure(event)).to include("kind" => "invalid_result", "pipeline" => "badmeta")
      expect(failure(event)["reason"]).to include("@metadata is not an object", "oops")
      expect(event.get("@metadata")).to eq("beat" => "filebeat", "secret" => "s3cr3t", "route" => "web")
      expect(event.get("touched")).to eq("yes")
    end

    it "fails alone an event whose @metadata cannot be written as JSON, and sends the rest" do
      broken = beats_event("a")
      broken.set("[@metadata][ratio]", Float::NAN)
      fine = beats_event("b")
      wasm("meta").multi_filter([broken, fine])
      expect(broken.get("tags")).to eq(["_wasmfilter_failure"])
      expect(failure(broken)["kind"]).to eq("invalid_event")
      expect(failure(broken)["reason"]).to include("@metadata cannot be written as JSON")
      expect(fine.get("tags")).to be_nil
      expect(fine.get("[@metadata][index]")).to eq("logs-filebeat")
    end
  end

  describe "the event's JSON" do
    it "is a JSON object with @metadata alone when the event has no other field" do
      event = LogStash::Event.new("@metadata" => { "a" => 1 })
      event.remove("@timestamp")
      event.remove("@version")
      expect(JSON.parse(LogStash::Filters::WasmMerge.request_json(event))).to eq("@metadata" => { "a" => 1 })
    end

    it "leaves out the named @metadata fields without changing the event" do
      event = LogStash::Event.new("m" => 1, "@metadata" => { "keep" => 1, "wasm" => { "request" => "{}", "other" => 2 } })
      json = LogStash::Filters::WasmMerge.request_json(event, leave_out: ["[@metadata][wasm][request]", "[@metadata][none]"])
      expect(JSON.parse(json)["@metadata"]).to eq("keep" => 1, "wasm" => { "other" => 2 })
      expect(event.get("[@metadata][wasm][request]")).to eq("{}")
    end
  end

  describe "the stock http filter recipe" do
    def script(name, params = {})
      path = File.join(scripts, name)
      Object.new.tap do |context|
        context.instance_eval(File.read(path), path)
        context.register(params)
      end
    end

    # What the http filter does between the two ruby steps: POST the body
    # string, parse the JSON answer into target_body, headers into
    # target_headers.
    def http_filter_step(event, pipeline)
      uri = URI("#{@server[:url]}/v1/pipelines/#{pipeline}/event")
      request = Net::HTTP::Post.new(uri, "Content-Type" => "application/json")
      request.body = event.get("[@metadata][wasm_request]")
      response = Net::HTTP.start(uri.host, uri.port) { |http| http.request(request) }
      event.set("[@metadata][wasm_response]", JSON.parse(response.body))
      event.set("[@metadata][wasm_headers]", response.to_hash.transform_values(&:first))
    end

    def merge(event)
      script("wasm_merge.rb", "source" => "[@metadata][wasm_response]").filter(event)
    end

    it "sends the event's @metadata but not the recipe's own fields, and merges the answer's back" do
      event = beats_event
      # Left over from an earlier call, say: never sent along.
      event.set("[@metadata][wasm_headers]", { "content-type" => "text/plain" })
      event.set("[@metadata][wasm_response]", { "message" => "old" })
      expect(script("wasm_request.rb").filter(event)).to eq([event])
      sent = JSON.parse(event.get("[@metadata][wasm_request]"))
      expect(sent["@metadata"]).to eq("beat" => "filebeat", "secret" => "s3cr3t", "route" => "web")
      expect(sent.reject { |key, _| key == "@metadata" }).to eq(JSON.parse(event.to_json))
      http_filter_step(event, "meta")
      out = merge(event)
      expect(out).to eq([event])
      expect(event.get("tags")).to be_nil
      expect(event.get("[agent][type]")).to eq("filebeat")
      # The answer's @metadata, and none of the recipe's working fields.
      expect(event.get("@metadata")).to eq("beat" => "filebeat", "route" => "web", "index" => "logs-filebeat")
    end

    it "does not carry one stage's request into the next" do
      event = beats_event
      sent = 2.times.map do
        script("wasm_request.rb").filter(event)
        request = event.get("[@metadata][wasm_request]")
        http_filter_step(event, "meta")
        merge(event)
        JSON.parse(request)["@metadata"]
      end
      # The second stage gets the first one's @metadata, with no request,
      # answer or headers of the first in it.
      expect(sent.last).to eq("beat" => "filebeat", "route" => "web", "index" => "logs-filebeat")
      # add_field on a field that exists makes a list, as in Logstash.
      expect(event.get("@metadata")).to eq("beat" => "filebeat", "route" => "web", "index" => ["logs-filebeat"] * 2)
    end

    it "removes the recipe's fields, and keeps @metadata, when the http filter got no answer" do
      event = beats_event
      script("wasm_request.rb").filter(event)
      event.tag("_httprequestfailure")
      expect(merge(event)).to eq([event])
      expect(event.get("@metadata")).to eq("beat" => "filebeat", "secret" => "s3cr3t", "route" => "web")
    end

    it "keeps the event's @metadata after the older one-line request step, which did not send it" do
      event = beats_event
      event.set("[@metadata][wasm_request]", event.to_json)
      http_filter_step(event, "nometa")
      merge(event)
      expect(event.get("tags")).to be_nil
      expect(event.get("@metadata")).to eq("beat" => "filebeat", "secret" => "s3cr3t", "route" => "web")
    end

    it "tags an event that cannot be written as JSON, with the reason, and sets no request" do
      event = beats_event
      event.set("[@metadata][ratio]", Float::NAN)
      script("wasm_request.rb").filter(event)
      expect(event.get("tags")).to eq(["_wasmfilter_failure"])
      expect(failure(event)).to include("kind" => "invalid_event")
      expect(event.get("[@metadata][wasm_request]")).to be_nil
    end
  end
end
