# encoding: utf-8
# The `wasm` filter against a sidecar behind a TLS proxy with a private CA:
# throwaway CAs, server and client certificates made here, TLS proxies
# (support/fake_sidecar.rb with a certificate; one of them requires a client
# certificate) that pass each request on to a real `wasmstash serve`, and
# the `ssl_*` and `headers` settings.
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

  def self.certificate(subject, key, issuer: nil, issuer_key: key, ca: false, san: nil, usage: "serverAuth")
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
      cert.add_extension(ext.create_extension("extendedKeyUsage", usage, false))
      cert.add_extension(ext.create_extension("subjectAltName", san, false)) if san
    end
    cert.sign(issuer_key, OpenSSL::Digest::SHA256.new)
    cert
  end

  # The sidecar's TLS proxy: the request as it came in, path included, goes
  # on to the real sidecar over plain HTTP, and its answer comes back. With
  # `client_ca` it requires a client certificate that chains to it, and
  # ends the handshake with an alert otherwise.
  def self.tls_proxy(sidecar_url, cert, key, client_ca: nil)
    context = OpenSSL::SSL::SSLContext.new
    context.cert = cert
    context.key = key
    if client_ca
      context.cert_store = OpenSSL::X509::Store.new.tap { |store| store.add_cert(client_ca) }
      context.verify_mode = OpenSSL::SSL::VERIFY_PEER | OpenSSL::SSL::VERIFY_FAIL_IF_NO_PEER_CERT
    end
    FakeSidecar.new(ssl_context: context) do |body, _count, head|
      answer = Net::HTTP.post(URI("#{sidecar_url}#{head[:path]}"), body, "Content-Type" => "application/x-ndjson")
      FakeSidecar.answer(answer.body, code: answer.code.to_i)
    end
  end

  ONE_MIB = 1 << 20

  # A TLS endpoint that refuses a body over `limit` bytes from its
  # Content-Length alone, as the sidecar does: it answers 413 without
  # reading the body and closes soon after, so the client, still writing,
  # meets a reset. A smaller body it reads, answering each line with `done LINE`.
  def self.early_refuser(cert, key, limit)
    context = OpenSSL::SSL::SSLContext.new
    context.cert = cert
    context.key = key
    server = TCPServer.new("127.0.0.1", 0)
    acceptor = Thread.new do
      loop do
        Thread.new(server.accept) do |raw|
          socket = OpenSSL::SSL::SSLSocket.new(raw, context).tap { |s| s.sync_close = true }
          socket.accept
          length = 0
          while (line = socket.gets) && line != "\r\n"
            length = line.split(":", 2)[1].to_i if line =~ /\Acontent-length:/i
          end
          if length > limit
            socket.write(FakeSidecar.answer(%({"error":"over #{limit} bytes"}\n), code: 413))
            # The sidecar closes a moment later, not at once: a client
            # still writing meets a reset then, with the answer in hand.
            sleep 0.2
          else
            results = socket.read(length).lines.map do |request|
              %({"event":{"message":"done #{JSON.parse(request)['message'][0, 10]}"}}\n)
            end
            socket.write(FakeSidecar.answer(results.join))
          end
        rescue StandardError
          nil
        ensure
          socket&.close rescue nil
        end
      end
    rescue IOError
      nil
    end
    url = "https://127.0.0.1:#{server.addr[1]}"
    Struct.new(:url, :stop).new(url, -> { acceptor.kill; server.close })
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
    @early_refuser = self.class.early_refuser(ip_cert, server_key, ONE_MIB)
    # Signed by the same CA, but for another host than the url names.
    other_cert = self.class.certificate("/CN=sidecar.example", server_key, issuer: ca, issuer_key: ca_key,
                                                                        san: "DNS:sidecar.example")
    @other_host = self.class.tls_proxy(@server[:url], other_cert, server_key)

    # Mutual TLS: client certificates from their own CA, the one the proxy
    # trusts. One is issued by an intermediate CA, sent along in its file.
    client_ca_key = self.class.key
    client_ca = self.class.certificate("/CN=wasmstash spec client CA", client_ca_key, ca: true)
    @mtls = self.class.tls_proxy(@server[:url], ip_cert, server_key, client_ca: client_ca)
    @client_key = self.class.key
    client = self.class.certificate("/CN=logstash spec client", @client_key, issuer: client_ca, issuer_key: client_ca_key,
                                                                            usage: "clientAuth")
    @client_cert_file = write("client.pem", client.to_pem)
    @client_key_file = write("client-key.pem", @client_key.to_pem)
    intermediate_key = self.class.key
    intermediate = self.class.certificate("/CN=wasmstash spec intermediate CA", intermediate_key, issuer: client_ca,
                                                                                               issuer_key: client_ca_key, ca: true)
    chained = self.class.certificate("/CN=logstash spec chained client", @client_key, issuer: intermediate,
                                                                                   issuer_key: intermediate_key, usage: "clientAuth")
    @chained_cert_file = write("chained.pem", chained.to_pem + intermediate.to_pem)
    rogue_ca_key = self.class.key
    rogue_ca = self.class.certificate("/CN=not the client CA", rogue_ca_key, ca: true)
    rogue = self.class.certificate("/CN=logstash spec client", @client_key, issuer: rogue_ca, issuer_key: rogue_ca_key,
                                                                           usage: "clientAuth")
    @rogue_cert_file = write("rogue.pem", rogue.to_pem)
    @other_key_file = write("other-key.pem", self.class.key.to_pem)
    @encrypted_key_file = write("encrypted-key.pem", @client_key.export(OpenSSL::Cipher.new("aes-128-cbc"), "passphrase"))
  end

  after(:all) do
    [@proxy, @other_host, @mtls, @early_refuser].compact.each(&:stop)
    WasmstashServer.stop(@server) if @server
    FileUtils.rm_rf(@dir) if @dir
  end

  # Writes a file of the spec's certificates and keys; its path.
  def write(name, text)
    File.join(@dir, name).tap { |path| File.write(path, text) }
  end

  # A line from the middle of the client key's PEM: what must never be shown.
  def key_material
    @client_key.to_pem.lines[5].strip
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

  it "fails at once, not retried, when the url is https and the sidecar there serves plain HTTP" do
    plain = @server[:url].sub(%r{\Ahttp://}, "https://")
    filter = wasm(plain)
    batch = events
    started = Time.now
    filter.multi_filter(batch)
    # The 30 s retry budget is not spent on an answer that cannot change.
    expect(Time.now - started).to be < 5
    batch.each do |e|
      expect(e.get("tags")).to eq(["_httprequestfailure"])
      expect(failure(e)["reason"]).to include("the server at #{plain}/v1/pipelines/access/batch does not speak TLS, not retried")
    end
    expect(filter.logger.lines.last[1])
      .to eq("wasmstash's url is https, but the server there does not speak TLS; not retried")
  end

  # JRuby's TLS socket reports the reset as an IOError, which the batch
  # once failed on whole, as sent and possibly run.
  it "reads a 413 a TLS endpoint gives before the body, and halves the batch until the large event is alone" do
    filter = wasm(@early_refuser.url, "ssl_certificate_authorities" => [@ca_file])
    batch = [LogStash::Event.new("message" => "a"), LogStash::Event.new("message" => "b" * (12 * ONE_MIB)),
             LogStash::Event.new("message" => "c")]
    filter.multi_filter(batch)
    expect(batch[0].get("message")).to eq("done a"), failure(batch[0]).inspect
    expect(batch[2].get("message")).to eq("done c")
    expect(batch[1].get("tags")).to eq(["_httprequestfailure"])
    expect(failure(batch[1])["reason"]).to include("answered 413", "this event alone is over the sidecar's limits")
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

  describe "behind a proxy that requires a client certificate" do
    def client_settings(extra = {})
      { "ssl_certificate_authorities" => [@ca_file], "ssl_certificate" => @client_cert_file,
        "ssl_key" => @client_key_file }.merge(extra)
    end

    # jruby-openssl (JRuby 9.3) reports the proxy's close, not its alert:
    # under TLS 1.3, which the proxy here speaks, the events still pass on
    # tagged, at once, but with a reason that does not name the refusal.
    def refusal_told?
      !defined?(JRUBY_VERSION)
    end

    def expect_refused(filter, batch, started, why)
      # The 30 s retry budget is not spent on a handshake that cannot pass.
      expect(Time.now - started).to be < 5
      batch.each do |e|
        expect(e.get("message")).to match(/\A[ab]\z/)
        expect(e.get("[event][dataset]")).to be_nil
        expect(e.get("tags")).to eq(["_httprequestfailure"])
        expect(failure(e)["kind"]).to eq("request_failed")
        unless refusal_told?
          expect(failure(e)["reason"]).to include("the connection failed after the batch was sent")
          next
        end
        expect(failure(e)["reason"]).to include("the TLS server at #{@mtls.url}", "refused the handshake, not retried",
                                                "(#{why}: see ssl_certificate and ssl_key)")
        expect(failure(e)["reason"]).to match(/alert/)
      end
      return unless refusal_told?
      expect(filter.logger.lines.last[1]).to eq("wasmstash TLS handshake refused by the server; not retried")
    end

    it "presents ssl_certificate and ssl_key, and the batch goes through" do
      filter = wasm(@mtls.url, client_settings)
      batch = events
      filter.multi_filter(batch)
      expect(batch.all? { |e| processed?(e) }).to be true
      expect(@mtls.heads.last[:client_cert]).to eq("/CN=logstash spec client")
      expect(shown(filter, batch)).not_to include(key_material)
    end

    it "sends the intermediate CAs that follow the certificate in ssl_certificate" do
      filter = wasm(@mtls.url, client_settings("ssl_certificate" => @chained_cert_file))
      unless Net::HTTP.method_defined?(:extra_chain_cert=)
        expect(filter.logger.lines.map { |line| line[1] }).to include(/intermediate CAs .* cannot send/)
        skip "this Ruby's Net::HTTP cannot send intermediate CAs (JRuby 9.3)"
      end
      batch = events
      filter.multi_filter(batch)
      expect(batch.all? { |e| processed?(e) }).to be true
      expect(@mtls.heads.last[:client_cert]).to eq("/CN=logstash spec chained client")
    end

    it "without a client certificate, passes the events on tagged with the refusal, at once and not retried" do
      passed_on = @mtls.requests.size
      refusals = @mtls.tls_failures.size
      filter = wasm(@mtls.url, "ssl_certificate_authorities" => [@ca_file])
      batch = events
      started = Time.now
      filter.multi_filter(batch)
      expect_refused(filter, batch, started, "it may require a client certificate")
      expect(@mtls.requests.size).to eq(passed_on)
      expect(@mtls.tls_failures.size).to eq(refusals + 1)
    end

    # Under TLS 1.3 the proxy's alert comes after the client's handshake
    # has ended, while the batch is written: a batch larger than the
    # socket buffers meets the closed connection (ECONNRESET) before the
    # alert is read.
    it "tells the refusal too when the batch is too large to be written before the proxy closes" do
      filter = wasm(@mtls.url, "ssl_certificate_authorities" => [@ca_file])
      big = LogStash::Event.new("message" => "x" * 8_000_000)
      filter.multi_filter([big])
      expect(big.get("tags")).to eq(["_httprequestfailure"])
      expect(failure(big)["reason"]).to include(refusal_told? ? "refused the handshake, not retried" : "after the batch was sent")
    end

    it "with a client certificate the proxy does not trust, passes the events on tagged with the refusal" do
      passed_on = @mtls.requests.size
      filter = wasm(@mtls.url, client_settings("ssl_certificate" => @rogue_cert_file))
      batch = events
      started = Time.now
      filter.multi_filter(batch)
      expect_refused(filter, batch, started, "it may not accept the client certificate")
      expect(@mtls.requests.size).to eq(passed_on)
      expect(shown(filter, batch)).not_to include(key_material)
    end

    # URI gives the scheme in lower case, and the client speaks TLS to such
    # a url: the warnings must say what the client does.
    it "takes an upper-case HTTPS:// url as https, in its warnings as in its requests" do
      filter = wasm(@mtls.url.sub("https://", "HTTPS://"), client_settings("ssl_verification_mode" => "none"))
      batch = events
      filter.multi_filter(batch)
      expect(batch.all? { |e| processed?(e) }).to be true
      messages = filter.logger.lines.map { |line| line[1] }
      expect(messages).to include(/ssl_verification_mode is none/)
      expect(messages.grep(/url is not https/)).to be_empty
      expired = self.class.certificate("/CN=logstash spec expired client", @client_key, usage: "clientAuth")
      expired.not_before = Time.now - 7200
      expired.not_after = Time.now - 3600
      expired.sign(@client_key, OpenSSL::Digest::SHA256.new)
      stale = wasm("HTTPS://127.0.0.1:9443", client_settings("ssl_certificate" => write("expired.pem", expired.to_pem)))
      expect(stale.logger.lines.map { |line| line[1] }).to include(/ssl_certificate is not valid now/)
    end

    it "warns that a client certificate is not used with an http url" do
      filter = wasm("http://127.0.0.1:9700", client_settings)
      expect(filter.logger.lines.map { |line| line[1] }).to include(/ssl_certificate and ssl_key are set but url is not https/)
    end
  end

  describe "register with a client certificate" do
    def refusal(settings)
      filter = LogStash::Filters::Wasm.new({ "url" => @mtls.url, "pipeline" => "access" }.merge(settings))
      error = nil
      expect { filter.register }.to raise_error(LogStash::ConfigurationError) { |e| error = e }
      expect(error.message).not_to include(key_material)
      error.message
    end

    it "refuses ssl_certificate without ssl_key" do
      expect(refusal("ssl_certificate" => @client_cert_file)).to include("ssl_certificate is set but ssl_key is not")
    end

    it "refuses ssl_key without ssl_certificate" do
      expect(refusal("ssl_key" => @client_key_file)).to include("ssl_key is set but ssl_certificate is not")
    end

    it "refuses a key that is not the certificate's" do
      message = refusal("ssl_certificate" => @client_cert_file, "ssl_key" => @other_key_file)
      expect(message).to include("ssl_key: the key in #{@other_key_file} does not match ssl_certificate",
                                 "/CN=logstash spec client")
    end

    it "refuses an encrypted key, there being no passphrase setting" do
      message = refusal("ssl_certificate" => @client_cert_file, "ssl_key" => @encrypted_key_file)
      expect(message).to include("ssl_key: the key in #{@encrypted_key_file} is encrypted")
    end

    it "refuses files that cannot be read or hold no certificate or key" do
      expect(refusal("ssl_certificate" => "/nonexistent/client.pem", "ssl_key" => @client_key_file))
        .to include("ssl_certificate: cannot read /nonexistent/client.pem")
      expect(refusal("ssl_certificate" => @client_key_file, "ssl_key" => @client_key_file))
        .to include("ssl_certificate: #{@client_key_file} holds no PEM certificate")
      expect(refusal("ssl_certificate" => @client_cert_file, "ssl_key" => "/nonexistent/key.pem"))
        .to include("ssl_key: cannot read /nonexistent/key.pem")
      expect(refusal("ssl_certificate" => @client_cert_file, "ssl_key" => @client_cert_file))
        .to include("ssl_key: #{@client_cert_file} holds no PEM private key")
    end
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
