# encoding: utf-8
# The `wasm` filter against a sidecar behind a TLS proxy with a private CA:
# a throwaway CA and server certificates made here, a TLS proxy
# (support/fake_sidecar.rb with a certificate) that passes each request on
# to a real `wasmstash serve`, and the `ssl_*` and `headers` settings.
require_relative "../spec_helper"
require "logstash/filters/wasm"
require "fileutils"
require "openssl"
require "tmpdir"

describe LogStash::Filters::Wasm do
  HEADER_SECRET = "s3cret-token-7f1e".freeze

  def self.key
    OpenSSL::PKey::RSA.new(2048)
  end

  def self.certificate(subject, key, issuer: nil, issuer_key: key, ca: false, san: nil)
    cert = OpenSSL::X509::Certificate.new
    cert.version = 2
    cert.serial = rand(1 << 62)
    cert.subject = OpenSSL::X509::Name.parse(subject)
    cert.issuer = issuer ? issuer.subject : cert.subject
    cert.public_key = key.public_key
    cert.not_before = Time.now - 60
    cert.not_after = Time.now + 3600
    ext = OpenSSL::X509::ExtensionFactory.new(issuer || cert, cert)
    if ca
      cert.add_extension(ext.create_extension("basicConstraints", "CA:TRUE", true))
      cert.add_extension(ext.create_extension("keyUsage", "keyCertSign,cRLSign", true))
    else
      cert.add_extension(ext.create_extension("basicConstraints", "CA:FALSE", true))
      cert.add_extension(ext.create_extension("extendedKeyUsage", "serverAuth", false))
      cert.add_extension(ext.create_extension("subjectAltName", san, false))
    end
    cert.sign(issuer_key, OpenSSL::Digest::SHA256.new)
    cert
  end

  # The sidecar's TLS proxy: the request as it came in, path included, goes
  # on to the real sidecar over plain HTTP, and its answer comes back.
  def self.tls_proxy(sidecar_url, cert, key)
    context = OpenSSL::SSL::SSLContext.new
    context.cert = cert
    context.key = key
    FakeSidecar.new(ssl_context: context) do |body, _count, head|
      answer = Net::HTTP.post(URI("#{sidecar_url}#{head[:path]}"), body, "Content-Type" => "application/x-ndjson")
      FakeSidecar.answer(answer.body, code: answer.code.to_i)
    end
  end

  before(:all) do
    @server = WasmstashServer.start
    @dir = Dir.mktmpdir("wasmstash-tls-spec")
    ca_key = self.class.key
    ca = self.class.certificate("/CN=wasmstash spec CA", ca_key, ca: true)
    @ca_file = File.join(@dir, "ca.pem")
    File.write(@ca_file, ca.to_pem)
    server_key = self.class.key
    ip_cert = self.class.certificate("/CN=127.0.0.1", server_key, issuer: ca, issuer_key: ca_key, san: "IP:127.0.0.1")
    @proxy = self.class.tls_proxy(@server[:url], ip_cert, server_key)
    # Signed by the same CA, but for another host than the url names.
    other_cert = self.class.certificate("/CN=sidecar.example", server_key, issuer: ca, issuer_key: ca_key,
                                                                        san: "DNS:sidecar.example")
    @other_host = self.class.tls_proxy(@server[:url], other_cert, server_key)
  end

  after(:all) do
    [@proxy, @other_host].compact.each(&:stop)
    WasmstashServer.stop(@server) if @server
    FileUtils.rm_rf(@dir) if @dir
  end

  def wasm(url, extra = {})
    LogStash::Filters::Wasm.new({ "url" => url, "pipeline" => "access", "retry_budget" => 30 }.merge(extra)).tap(&:register)
  end

  def events
    [LogStash::Event.new("message" => "a"), LogStash::Event.new("message" => "b")]
  end

  def processed?(event)
    event.get("[event][dataset]") == "apache.access" && event.get("tags").nil?
  end

  def failure(event)
    Array(event.get("[wasmstash][failures]")).last || {}
  end

  # Whatever the plugin printed or wrote: its log, the events, itself.
  def shown(filter, batch)
    [filter.logger.lines.inspect, batch.map(&:to_json).join, filter.inspect, filter.to_s].join("\n")
  end

  it "verifies the sidecar's certificate against ssl_certificate_authorities and sends the headers" do
    filter = wasm(@proxy.url, "ssl_certificate_authorities" => [@ca_file],
                              "headers" => { "X-Api-Key" => HEADER_SECRET, "Proxy-Authorization" => "Basic #{HEADER_SECRET}" })
    batch = events
    filter.multi_filter(batch)
    expect(batch.all? { |e| processed?(e) }).to be true
    head = @proxy.heads.last
    expect(head[:path]).to eq("/v1/pipelines/access/batch")
    expect(head[:headers]).to include("x-api-key" => HEADER_SECRET, "proxy-authorization" => "Basic #{HEADER_SECRET}",
                                      "content-type" => "application/x-ndjson")
    expect(shown(filter, batch)).not_to include(HEADER_SECRET)
  end

  it "fails at once, not retried, with a tagged reason when the certificate's CA is not trusted" do
    filter = wasm(@proxy.url, "headers" => { "X-Api-Key" => HEADER_SECRET })
    batch = events
    started = Time.now
    filter.multi_filter(batch)
    # The 30 s retry budget is not spent on a certificate that cannot pass.
    expect(Time.now - started).to be < 5
    batch.each do |e|
      expect(e.get("message")).to match(/\A[ab]\z/)
      expect(e.get("tags")).to eq(["_httprequestfailure"])
      expect(failure(e)["kind"]).to eq("request_failed")
      expect(failure(e)["reason"]).to include("TLS verification of wasmstash at #{@proxy.url}", "failed, not retried",
                                              "ssl_certificate_authorities")
    end
    expect(filter.logger.lines.last[1]).to eq("wasmstash TLS verification failed; not retried")
    expect(shown(filter, batch)).not_to include(HEADER_SECRET)
  end

  it "fails with a tagged reason when the certificate is for another host" do
    filter = wasm(@other_host.url, "ssl_certificate_authorities" => [@ca_file])
    batch = events
    filter.multi_filter(batch)
    batch.each do |e|
      expect(e.get("tags")).to eq(["_httprequestfailure"])
      expect(failure(e)["reason"]).to include("TLS verification of wasmstash")
      expect(failure(e)["reason"]).to match(/hostname|match/)
    end
  end

  it "does not check the certificate with ssl_verification_mode none" do
    filter = wasm(@other_host.url, "ssl_verification_mode" => "none")
    batch = events
    filter.multi_filter(batch)
    expect(batch.all? { |e| processed?(e) }).to be true
    expect(filter.logger.lines.map { |line| line[1] }).to include(/ssl_verification_mode is none/)
  end

  it "keeps a refused header's value out of the configuration error" do
    filter = LogStash::Filters::Wasm.new("url" => @proxy.url, "pipeline" => "access",
                                         "headers" => { "X-Api-Key" => "#{HEADER_SECRET}\r\nX-Injected: 1" })
    expect { filter.register }.to raise_error(LogStash::ConfigurationError) { |e|
      expect(e.message).to include("X-Api-Key")
      expect(e.message).not_to include(HEADER_SECRET)
    }
  end
end
