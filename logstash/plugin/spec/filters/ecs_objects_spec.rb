# encoding: utf-8
# scripts/ecs_objects.rb, the stack pipeline's step that moves a text value
# out of the way of an object the index template maps (host, service, ...).
# Run with the Logstash Event stand-in, which refuses a set through a
# concrete value as Logstash's event does.
require_relative "../spec_helper"

describe "scripts/ecs_objects.rb" do
  let(:script_path) { File.expand_path("../../../scripts/ecs_objects.rb", __dir__) }

  def script(params = {})
    Object.new.tap do |s|
      s.instance_eval(File.read(script_path), script_path)
      s.register(params)
    end
  end

  def run(fields, params = {})
    event = LogStash::Event.new(fields)
    expect(script(params).filter(event)).to eq([event])
    event
  end

  it "moves text at host and service to their ECS name fields" do
    event = run("message" => "x", "host" => "web-1", "service" => "api")
    expect(event.get("host")).to eq("name" => "web-1")
    expect(event.get("service")).to eq("name" => "api")
    expect(event.get("message")).to eq("x")
  end

  it "moves each field to the ECS field for its text" do
    event = run("user" => "alice", "url" => "https://example.com/a", "user_agent" => "curl/8.5",
                "source" => "10.0.0.1", "process" => "sshd")
    expect(event.get("[user][name]")).to eq("alice")
    expect(event.get("[url][original]")).to eq("https://example.com/a")
    expect(event.get("[user_agent][original]")).to eq("curl/8.5")
    expect(event.get("[source][address]")).to eq("10.0.0.1")
    expect(event.get("[process][name]")).to eq("sshd")
  end

  it "moves numbers, booleans and lists of text as they are" do
    event = run("host" => ["web-1", "web-2"], "service" => 7, "user" => false)
    expect(event.get("[host][name]")).to eq(["web-1", "web-2"])
    expect(event.get("[service][name]")).to eq(7)
    expect(event.get("[user][name]")).to eq(false)
  end

  it "leaves objects, missing fields and lists of objects alone" do
    event = run("host" => { "name" => "web-1", "ip" => ["10.0.0.1"] },
                "service" => [{ "name" => "a" }], "user" => nil)
    expect(event.get("host")).to eq("name" => "web-1", "ip" => ["10.0.0.1"])
    expect(event.get("service")).to eq([{ "name" => "a" }])
    expect(event.to_hash).to include("user" => nil)
  end

  it "leaves fields with no ECS text field alone" do
    event = run("event" => "login", "log" => "a line", "http" => "1.1")
    expect(event.get("event")).to eq("login")
    expect(event.get("log")).to eq("a line")
    expect(event.get("http")).to eq("1.1")
  end

  it "takes more moves from script_params" do
    event = run({ "log" => "warn" }, "moves" => { "log" => "[log][level]" })
    expect(event.get("[log][level]")).to eq("warn")
  end

  # Without the script, Logstash's event refuses the very set the stack's
  # pipeline makes next ([service][name] from the dataset), which is why
  # the step runs first.
  it "runs before a set under the field would be refused" do
    event = LogStash::Event.new("service" => "api")
    expect { event.set("[service][type]", "x") }.to raise_error(LogStash::Event::InvalidFieldSet)
    script.filter(event)
    event.set("[service][type]", "x")
    expect(event.get("service")).to eq("name" => "api", "type" => "x")
  end
end
