# encoding: utf-8
# The `wasm` filter and the http-filter recipe against a real `wasmstash serve`.
require_relative "../spec_helper"
require "logstash/filters/wasm"

RECIPE = File.expand_path("../../../scripts/wasm_merge.rb", __dir__)
RECIPE_REQUEST = File.expand_path("../../../scripts/wasm_request.rb", __dir__)

describe LogStash::Filters::Wasm do
  before(:all) { @server = WasmstashServer.start }
  after(:all) { WasmstashServer.stop(@server) }

  def filter_for(pipeline, extra = {})
    LogStash::Filters::Wasm.new({ "url" => @server[:url], "pipeline" => pipeline }.merge(extra)).tap(&:register)
  end

  def access_event(line, extra = {})
    LogStash::Event.new({ "message" => line, "method" => "get", "@metadata" => { "route" => "web" } }.merge(extra))
  end

  it "sends the whole batch in one request and replaces each event with its result" do
    lines = File.readlines(File.expand_path("../../../../../shared/data/access/apache_logs", __dir__)).first(125)
    events = lines.map { |line| access_event(line.chomp, "tags" => ["beats"]) }
    before = WasmstashServer.metric(@server, 'wasmstash_requests_total{pipeline="access",endpoint="batch",status="200"}')
    result = filter_for("access", "add_tag" => ["wasm_ok"]).multi_filter(events)
    after = WasmstashServer.metric(@server, 'wasmstash_requests_total{pipeline="access",endpoint="batch",status="200"}')
    expect(after - before).to eq(1)
    expect(result.size).to eq(125)
    result.each_with_index do |event, i|
      expect(event.get("message")).to eq(lines[i].chomp)
      expect(event.get("method")).to eq("GET")
      expect(event.get("[event][dataset]")).to eq("apache.access")
      expect(event.get("tags")).to eq(["beats", "wasm_ok"])
      expect(event.get("[@metadata][route]")).to eq("web")
      expect(event.get("@timestamp")).to be_a(LogStash::Timestamp)
    end
  end

  it "keeps the event's own Timestamp and BigDecimal values in the fields a filter left alone" do
    seen = LogStash::Timestamp.new(Time.utc(2026, 12, 5, 3, 4, 5.678r))
    amount = BigDecimal("12.34")
    event = access_event("GET / HTTP/1.1", "seen" => seen, "amount" => amount,
                                           "precise" => BigDecimal("12.340000000000000000001"),
                                           "nested" => { "at" => seen, "n" => 1 })
    filter_for("access").multi_filter([event])
    expect(event.get("method")).to eq("GET")
    expect(event.get("[event][dataset]")).to eq("apache.access")
    expect(event.get("seen")).to be_a(LogStash::Timestamp)
    expect(event.get("seen").to_iso8601).to eq("2026-12-05T03:04:05.678Z")
    expect(event.get("amount")).to be_a(BigDecimal)
    expect(event.get("amount")).to eq(amount)
    # Past a double's digits, what came back cannot be told from a change.
    expect(event.get("precise")).to eq(12.34)
    expect(event.get("[nested][at]")).to be_a(LogStash::Timestamp)
    # What JSON carries as it is compares as itself: an Integer stays one.
    expect(event.get("[nested][n]")).to eq(1)
  end

  it "takes a changed value even where it reads back as the old one would" do
    # Two whole numbers past a double's digits, and two decimals that read
    # back as one Float: the filter's copy must win in both.
    events = [%w[12345678901234567890123 12345678901234567890124],
              %w[0.10000000000000000001 0.10000000000000000002]].map do |big, other|
      LogStash::Event.new("big" => BigDecimal(big), "other" => BigDecimal(other), "kept" => BigDecimal("2.5"))
    end
    filter_for("copy").multi_filter(events)
    expect(events[0].get("other")).to eq(12345678901234567890123)
    expect(events[1].get("other")).to eq(0.1)
    expect(events[1].get("other")).not_to eq(BigDecimal("0.10000000000000000002"))
    # Untouched, and exactly what came back: still the event's BigDecimal.
    expect(events.map { |e| e.get("kept") }).to all(be_a(BigDecimal))
  end

  it "cancels dropped events and passes failed ones through tagged" do
    events = %w[one DROP BAD four].map { |m| LogStash::Event.new("message" => m) }
    result = filter_for("chaos").multi_filter(events)
    expect(result.size).to eq(4)
    expect(result.map(&:cancelled?)).to eq([false, true, false, false])
    expect(result[0].get("[chaos][seen]")).to eq(1)
    expect(result[2].get("tags")).to eq(["_wasmfilter_failure"])
    expect(result[2].get("[wasmstash][failures]").first["kind"]).to eq("trap")
    expect(result[3].get("message")).to eq("four")
  end

  it "applies its common options only to events the sidecar processed without a failure" do
    decorations = { "add_tag" => ["parsed"], "remove_field" => ["message"] }
    chaos = %w[one BAD].map { |m| LogStash::Event.new("message" => m) }
    filter_for("chaos", decorations).multi_filter(chaos)
    expect(chaos[0].get("tags")).to eq(["parsed"])
    expect(chaos[0].get("message")).to be_nil
    # A trap: the raw line stays, and nothing says it was parsed.
    expect(chaos[1].get("tags")).to eq(["_wasmfilter_failure"])
    expect(chaos[1].get("message")).to eq("BAD")
    # A sidecar filter's own failure tag, with no failure record.
    json = ['{"a":1}', "not json"].map { |m| LogStash::Event.new("message" => m) }
    filter_for("json", decorations).multi_filter(json)
    expect([json[0].get("a"), json[0].get("tags"), json[0].get("message")]).to eq([1, ["parsed"], nil])
    expect([json[1].get("tags"), json[1].get("message")]).to eq([["_jsonparsefailure"], "not json"])
    # A custom failure tag is one only when failure_tags names it.
    custom = %w[7 x].map { |m| LogStash::Event.new("message" => m) }
    filter_for("customfail", decorations.merge("failure_tags" => ["unparsed"])).multi_filter(custom)
    expect([custom[0].get("n"), custom[0].get("tags"), custom[0].get("message")]).to eq(["7", ["parsed"], nil])
    expect([custom[1].get("tags"), custom[1].get("message")]).to eq([["unparsed"], "x"])
    unnamed = [LogStash::Event.new("message" => "x")]
    filter_for("customfail", decorations).multi_filter(unnamed)
    expect([unnamed[0].get("tags"), unnamed[0].get("message")]).to eq([%w[unparsed parsed], nil])
    # A failure an earlier filter marked does not hold back this one's options.
    earlier = LogStash::Event.new("message" => "two", "tags" => ["_grokparsefailure"],
                                  "wasmstash" => { "failures" => [{ "filter" => "grok", "kind" => "trap" }] })
    filter_for("chaos", decorations).multi_filter([earlier])
    expect(earlier.get("tags")).to eq(%w[_grokparsefailure parsed])
    expect(earlier.get("message")).to be_nil
  end

  it "takes back a result nested deeper than Ruby's JSON reads by default (100 levels; the sidecar takes 127)" do
    deep = (1..120).reduce("leaf") { |inner, _| { "n" => inner } }
    event = LogStash::Event.new("message" => "x", "method" => "get", "deep" => deep)
    # The stand-in writes events with Ruby's JSON, which has that limit too;
    # Logstash's writer has none.
    allow(event).to receive(:to_json) { JSON.generate(event.to_hash, :max_nesting => false) }
    filter_for("access").multi_filter([event])
    expect(event.get("tags")).to be_nil
    expect(event.get("method")).to eq("GET")
    expect(event.get("[deep]" + "[n]" * 120)).to eq("leaf")
  end

  it "refuses at register a pipeline name the sidecar cannot have" do
    ["", "a b", "_own", ".hidden", "%{[@metadata][route]}", "x" * 65].each do |name|
      filter = LogStash::Filters::Wasm.new("url" => @server[:url], "pipeline" => name)
      expect { filter.register }.to raise_error(LogStash::ConfigurationError, /pipeline must be 1 to 64/)
    end
    filter = LogStash::Filters::Wasm.new("url" => @server[:url], "pipeline" => "%{[@metadata][route]}")
    expect { filter.register }.to raise_error(LogStash::ConfigurationError, /a name, not a %\{\} reference/)
  end

  it "tags every event _httprequestfailure and leaves it unchanged when the sidecar is unreachable" do
    events = [access_event("a"), access_event("b")]
    filter = LogStash::Filters::Wasm.new("url" => "http://127.0.0.1:1", "pipeline" => "access", "retry_budget" => 1, "timeout" => 2)
    filter.register
    started = Time.now
    result = filter.multi_filter(events)
    expect(Time.now - started).to be < 5
    expect(result.map { |e| e.get("tags") }).to eq([["_httprequestfailure"], ["_httprequestfailure"]])
    expect(result.map { |e| e.get("method") }).to eq(%w[get get])
    expect(filter.logger.lines.last[1]).to eq("wasmstash request failed")
  end

  it "keeps an event whose @timestamp Logstash cannot read, tagged as Logstash's json filter would" do
    event = access_event("a")
    before = event.get("@timestamp")
    result = filter_for("stamp").multi_filter([event])
    expect(result.first.get("tags")).to eq(["_timestampparsefailure"])
    expect(result.first.get("_@timestamp")).to eq("yesterday")
    expect(result.first.get("@timestamp").to_iso8601).to eq(before.to_iso8601)
    expect(result.first.get("message")).to eq("a")
  end

  it "keeps the _timestampparsefailure tag when a sidecar filter also tagged the event, and holds back the common options" do
    events = [access_event("a"), access_event("b", "tags" => ["beats"])]
    before = events.map { |e| e.get("@timestamp").to_iso8601 }
    filter_for("stamptag", "add_tag" => ["parsed"], "remove_field" => ["message"]).multi_filter(events)
    expect(events.map { |e| e.get("tags") }).to eq([%w[enriched _timestampparsefailure],
                                                    %w[beats enriched _timestampparsefailure]])
    expect(events.map { |e| e.get("_@timestamp") }).to eq(%w[yesterday yesterday])
    expect(events.map { |e| e.get("@timestamp").to_iso8601 }).to eq(before)
    expect(events.map { |e| e.get("message") }).to eq(%w[a b])
  end

  it "writes the failure marks after the result's fields, whatever their order, as Logstash's event does" do
    merge = LogStash::Filters::WasmMerge
    [%w[@timestamp tags _@timestamp _tags], %w[tags _tags _@timestamp @timestamp]].each do |order|
      result = { "@timestamp" => "yesterday", "tags" => ["enriched"], "_@timestamp" => "own", "_tags" => ["earlier"] }
      event = LogStash::Event.new("message" => "x", "tags" => ["beats"])
      merge.replace(event, order.map { |key| [key, result[key]] }.to_h)
      expect(event.get("tags")).to eq(%w[enriched _timestampparsefailure])
      expect(event.get("_@timestamp")).to eq("yesterday")
      # Tags Logstash refuses are renamed first, then the timestamp tagged.
      result["tags"] = { "a" => 1 }
      merge.replace(event, order.map { |key| [key, result[key]] }.to_h)
      expect(event.get("tags")).to eq(%w[_tagsparsefailure _timestampparsefailure])
      expect(event.get("_@timestamp")).to eq("yesterday")
      expect(event.get("_tags")).to eq(["earlier", { "a" => 1 }])
    end
  end

  it "does not send a batch again after the sidecar took too long to answer it" do
    counted = 'wasmstash_filter_events_total{pipeline="chaos",'
    before = WasmstashServer.metric(@server, counted)
    events = %w[LOOP ok].map { |m| LogStash::Event.new("message" => m) }
    filter = filter_for("chaos", "timeout" => 1, "retries" => 2)
    result = filter.multi_filter(events)
    expect(result.map { |e| e.get("tags") }).to eq([["_httprequestfailure"], ["_httprequestfailure"]])
    expect(filter.logger.lines.last[1]).to include("not retried")
    # The sidecar finishes the one batch it was sent: the loop stopped at
    # its deadline, both events replayed alone.
    deadline = Time.now + 20
    sleep 0.2 until WasmstashServer.metric(@server, counted) - before >= 2 || Time.now > deadline
    sleep 3
    expect(WasmstashServer.metric(@server, counted) - before).to eq(2)
  end

  it "tags events _httprequestfailure when the pipeline does not exist" do
    filter = filter_for("nope")
    result = filter.multi_filter([access_event("a")])
    expect(result.first.get("tags")).to eq(["_httprequestfailure"])
    expect(filter.logger.lines.last[2][:body]).to include("no pipeline `nope`")
  end

  describe "the stock http filter recipe (scripts/wasm_merge.rb)" do
    # What the http filter does between the two ruby steps: POST the body
    # string with the configured header, parse a JSON answer into target_body.
    def http_filter_step(event)
      uri = URI("#{@server[:url]}/v1/pipelines/#{@pipeline}/event")
      request = Net::HTTP::Post.new(uri, "Content-Type" => "application/json")
      request.body = event.get("[@metadata][wasm_request]")
      response = Net::HTTP.start(uri.host, uri.port) { |http| http.request(request) }
      expect(response["Content-Type"]).to eq("application/json")
      event.set("[@metadata][wasm_response]", JSON.parse(response.body))
      event.set("[@metadata][wasm_headers]", response.to_hash.transform_values(&:first))
    end

    def recipe
      script = Object.new
      script.instance_eval(File.read(RECIPE), RECIPE)
      script.register("source" => "[@metadata][wasm_response]")
      script
    end

    def run_recipe(event)
      request = Object.new
      request.instance_eval(File.read(RECIPE_REQUEST), RECIPE_REQUEST)
      request.register({})
      request.filter(event)
      http_filter_step(event)
      recipe.filter(event)
    end

    it "merges the answer back, keeping tags and @metadata" do
      @pipeline = "access"
      event = access_event("GET /", "tags" => ["beats"])
      out = run_recipe(event)
      expect(out.size).to eq(1)
      expect(out.first.get("method")).to eq("GET")
      expect(out.first.get("tags")).to eq(["beats"])
      expect(out.first.get("[@metadata][route]")).to eq("web")
      expect(out.first.get("[@metadata][wasm_response]")).to be_nil
    end

    it "cancels the event the sidecar dropped" do
      @pipeline = "chaos"
      expect(run_recipe(LogStash::Event.new("message" => "DROP"))).to eq([])
    end

    it "keeps a processed event that looks like the drop marker, told by the header" do
      event = LogStash::Event.new("message" => "x")
      event.set("[@metadata][wasm_response]", { "wasmstash" => { "dropped" => true } })
      event.set("[@metadata][wasm_headers]", { "content-type" => "application/json" })
      out = recipe.filter(event)
      expect(out.size).to eq(1)
      expect(out.first.get("[wasmstash][dropped]")).to eq(true)
    end

    it "tags an answer that is not a JSON object, with the reason" do
      event = LogStash::Event.new("message" => "x")
      event.set("[@metadata][wasm_response]", "<html>proxy error</html>")
      out = recipe.filter(event)
      expect(out.first.get("tags")).to eq(["_wasmfilter_failure"])
      expect(out.first.get("[wasmstash][failures]").first["kind"]).to eq("invalid_response")
      expect(out.first.get("message")).to eq("x")
    end
  end
end
