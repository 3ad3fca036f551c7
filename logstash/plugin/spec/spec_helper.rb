# Puts the Logstash stand-in first on the load path (see support/logstash_stub.rb)
# and gives the specs a real `wasmstash serve` on a loopback port.
$LOAD_PATH.unshift(File.expand_path("support", __dir__))
$LOAD_PATH.unshift(File.expand_path("../lib", __dir__))
require "logstash_stub"
require "open3"
require "net/http"
require "tmpdir"
require "fileutils"
require "fake_sidecar"

module WasmstashServer
  def self.binary
    bin = ENV["WASMSTASH_BIN"] || File.expand_path("../../../target/release/wasmstash", __dir__)
    raise "wasmstash binary not found at #{bin}; build it (cargo build --release) or set WASMSTASH_BIN" unless File.executable?(bin)
    bin
  end

  # The chaos test filter the cargo build compiles next to the binary; a
  # binary copied elsewhere names it with WASMSTASH_CHAOS_MODULE.
  def self.chaos_module
    path = ENV["WASMSTASH_CHAOS_MODULE"] ||
           File.expand_path("../wasm-filters/wasm32-unknown-unknown/wasm-filter/wasmstash_filter_chaos.wasm", File.dirname(binary))
    raise "chaos test module not found at #{path}" unless File.exist?(path)
    path
  end

  # `server` is extra [server] settings, for the specs of the sidecar's
  # limits; `listen` a fixed address, for the specs of a sidecar that starts late.
  def self.start(server = "", listen: "127.0.0.1:0")
    dir = Dir.mktmpdir("wasmstash-spec")
    config = File.join(dir, "wasmstash.toml")
    File.write(config, <<~TOML)
      [server]
      watch = false
      #{server}

      [[pipelines.access.filters]]
      filter = "mutate"
      config = { add_field = { "[event][dataset]" = "apache.access" }, uppercase = ["method"] }

      [[pipelines.chaos.filters]]
      module = "#{chaos_module}"
      config = { drop_on = "DROP", panic_on = "BAD", loop_on = "LOOP" }

      # Text at @timestamp, which the built-in filters refuse to write as
      # Logstash's refuse it; the test filter writes it on request.
      [[pipelines.stamp.filters]]
      module = "#{chaos_module}"
      config = { timestamp_text = "yesterday" }

      # The same, then a tag: the result's `tags` follows its `@timestamp`.
      [[pipelines.stamptag.filters]]
      module = "#{chaos_module}"
      config = { timestamp_text = "yesterday" }

      [[pipelines.stamptag.filters]]
      filter = "mutate"
      config = { add_tag = ["enriched"] }

      [[pipelines.copy.filters]]
      filter = "mutate"
      config = { copy = { "big" = "other" } }

      [[pipelines.json.filters]]
      filter = "json"
      config = { source = "message" }

      [[pipelines.customfail.filters]]
      filter = "grok"
      config = { match = { message = ["^%{INT:n}$"] }, tag_on_failure = ["unparsed"] }

      # The message's members set as they are, `tags` that Logstash's
      # event refuses included (the json filter refuses them, as
      # Logstash's does); the test filter writes them on request.
      [[pipelines.rawjson.filters]]
      module = "#{chaos_module}"
      config = { merge_message = true }

      # Reads, writes and removes @metadata fields, as Logstash filters do.
      [[pipelines.meta.filters]]
      filter = "mutate"
      config = { copy = { "[@metadata][beat]" = "[agent][type]" }, add_field = { "[@metadata][index]" = "logs-%{[@metadata][beat]}" }, remove_field = ["[@metadata][secret]"] }

      [[pipelines.nometa.filters]]
      filter = "mutate"
      config = { remove_field = ["[@metadata]"] }

      [[pipelines.badmeta.filters]]
      module = "#{chaos_module}"
      config = { metadata_text = "oops" }

      [[pipelines.badmeta.filters]]
      filter = "mutate"
      config = { add_field = { "touched" = "yes" } }
    TOML
    stdin, stdout, wait = Open3.popen2({ "RUST_LOG" => "wasmstash=error,filter=off" }, binary, "serve", "--config", config, "--listen", listen)
    stdin.close
    line = stdout.gets.to_s
    address = line[%r{listening on (http://\S+)}, 1] or raise "unexpected output from wasmstash: #{line.inspect}"
    deadline = Time.now + 60
    until (Net::HTTP.get_response(URI("#{address}/readyz")).code == "200" rescue false)
      raise "wasmstash never became ready" if Time.now > deadline
      sleep 0.05
    end
    { url: address, pid: wait.pid, wait: wait, dir: dir }
  end

  # Stops the sidecar and removes its config directory, which would
  # otherwise be left in /tmp by every run of the specs.
  def self.stop(server)
    Process.kill("TERM", server[:pid])
    server[:wait].value
  ensure
    FileUtils.remove_entry(server[:dir]) if server[:dir] && File.directory?(server[:dir])
  end

  def self.metric(server, line_prefix)
    text = Net::HTTP.get(URI("#{server[:url]}/metrics"))
    text.lines.find { |l| l.start_with?(line_prefix) }.to_s.split.last.to_i
  end
end
