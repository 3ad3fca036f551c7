# encoding: utf-8
# The `wasm` filter: sends each pipeline worker's batch to a wasmstash
# sidecar in as few HTTP calls as its limits allow and puts the results back
# into the events.
#
#   filter { wasm { url => "http://127.0.0.1:9700" pipeline => "access" } }
#
# Logstash hands a filter the worker batch through multi_filter (125 events by
# default). One call per batch instead of one per event is the point of this
# plugin over the stock http filter.
#
# Every live event leaves multi_filter processed, cancelled (a filter dropped
# it), or unchanged with a tag and a record under [wasmstash][failures] saying
# why. Nothing that goes wrong, here or in the sidecar, may stop the worker.
require "logstash/filters/base"
require "logstash/namespace"
require "logstash/filters/wasm/client"
require "logstash/filters/wasm/merge"
require "json"
require "openssl"
require "uri"

class LogStash::Filters::Wasm < LogStash::Filters::Base
  config_name "wasm"

  # Base URL of the sidecar (http or https), with no query or fragment.
  config :url, :validate => :string, :default => "http://127.0.0.1:9700"
  # The sidecar pipeline to run.
  config :pipeline, :validate => :string, :required => true
  # Seconds a request may take, from its first byte sent to the last byte
  # of the answer (a sidecar writes an answer whole, so in practice the wait
  # for it); a connect gets at most 10 of them besides. An answer that
  # takes longer, even one trickled a byte at a time, fails the request.
  # It must outlast the sidecar's worst case: after waiting up to
  # server.queue_timeout_ms for a worker, a batch holds each filter that
  # fails it for 8 x engine.call_timeout_ms plus engine.replay_budget_ms
  # (38 s at the defaults; 95 s for a stateful filter, see the README).
  config :timeout, :validate => :number, :default => 180
  # Retries after a 429 or a 503 (the sidecar's "busy" or "shutting
  # down") marked X-Wasmstash-Not-Run, which say the batch was not run (not
  # after a proxy's unmarked 503): at least this many, more within
  # retry_budget. Once the batch has been sent, a broken
  # connection or a late answer is not retried: the sidecar may have run
  # it, and its stateful filters would count it twice.
  config :retries, :validate => :number, :default => 3
  # Longest wait between retries, in seconds (the sidecar's Retry-After,
  # capped); never under 0.05, so 0 does not retry in a tight loop.
  config :max_retry_wait, :validate => :number, :default => 5
  # Seconds a batch's requests may spend failing (failed connects, busy
  # answers) and waiting to try again (connects wait from 0.2 s, doubling up to
  # max_retry_wait; busy answers wait their Retry-After). A sidecar being
  # restarted refuses connections, then answers 503 while it loads, for
  # longer than a few quick retries, and nothing of the batch has run yet.
  # 0: no retry of a connect, busy answers only `retries` times.
  config :retry_budget, :validate => :number, :default => 60
  # PEM files of the CAs that sign the certificate of an https url (the
  # sidecar's TLS proxy). When set, they are the only CAs trusted; when not,
  # the system's are.
  config :ssl_certificate_authorities, :validate => :path, :list => true
  # "full": the certificate must chain to a trusted CA and name the url's
  # host. "none": not checked at all, which leaves `headers` to whoever can
  # sit in the middle.
  config :ssl_verification_mode, :validate => %w[full none], :default => "full"
  # A client certificate, for a TLS proxy that requires one (mutual TLS):
  # ssl_certificate is a PEM file with the certificate, optionally followed
  # by its intermediate CAs; ssl_key a PEM file with its private key,
  # unencrypted. Both or neither. The names and the pairing are those of
  # Logstash's http filter and http output, which have no key passphrase
  # either.
  config :ssl_certificate, :validate => :path
  config :ssl_key, :validate => :path
  # Extra headers on every request: an API key, a proxy's Authorization.
  # The plugin never logs them or writes them into events.
  config :headers, :validate => :hash, :default => {}
  # The sidecar's server.max_batch_events and server.max_body_bytes: larger
  # batches are sent as several requests. Set them as the sidecar has them.
  config :max_batch_events, :validate => :number, :default => 10_000
  config :max_body_bytes, :validate => :number, :default => 16_777_216
  # The sidecar's engine.max_event_mib, in bytes: the largest event a filter
  # may make. It bounds the answer the plugin reads (see
  # WasmClient::ResultLines.limit); set it as the sidecar has it.
  config :max_event_bytes, :validate => :number, :default => 16_777_216
  # The most one answer may hold, in bytes (default: four times
  # max_body_bytes, 64 MiB): it is read whole into the worker's memory, so
  # it is bounded as a whole as well as line by line. Past it the request's
  # events fail, tagged tag_on_request_failure.
  config :max_answer_bytes, :validate => :number
  # Tags that, added by the sidecar's filters, mean an event failed there,
  # besides those starting with `_` (Logstash's mark of a failure tag): a
  # custom tag_on_failure such as "unparsed". The common options
  # (add_tag, remove_field, ...) are held back from such an event.
  config :failure_tags, :validate => :string, :list => true, :default => []
  # Tag for events whose call did not succeed; they pass through unchanged.
  config :tag_on_request_failure, :validate => :string, :default => "_httprequestfailure"
  # Tag for an event that failed on its own (refused by the sidecar, a
  # result that cannot be merged, an event that cannot be sent).
  config :tag_on_failure, :validate => :string, :default => "_wasmfilter_failure"

  # Under JRuby, Logstash's Java side can raise Java exceptions, which are
  # not StandardErrors, and one that escapes a filter stops the worker. A
  # stack overflow is not one either (SystemStackError; under JRuby maybe a
  # java.lang.StackOverflowError): nothing the plugin parses can nest deep
  # enough for one (see RESULT_NESTING), but should something still
  # overflow, its events pass on tagged, the stack unwound by then.
  LAST_RESORT = if defined?(JRUBY_VERSION)
                  require "java"
                  [StandardError, SystemStackError, Java::JavaLang::Exception, Java::JavaLang::StackOverflowError]
                else
                  [StandardError, SystemStackError]
                end.freeze

  # The deepest a correct result line nests: the sidecar refuses an event
  # nested 128 deep (its own object counting as 1), in a request and in a
  # filter's output, so an event holds at most 127, and `{"event":...}`
  # adds one. Ruby's JSON parser recurses once per level: without a bound,
  # a deeper line overflows the stack.
  RESULT_NESTING = 128

  EXCERPT = 300

  # Headers the plugin sets itself, which frame the batch.
  OWN_HEADERS = %w[content-type content-length transfer-encoding].freeze
  # The plugin sends the body uncompressed, and the sidecar decodes none:
  # any coding but identity gets a 415 on every batch, and identity says
  # nothing.
  BODY_CODING = "content-encoding".freeze
  # What marks a web browser's request, which the sidecar refuses (403) on
  # its pipeline endpoints: an Origin of any value, a Sec-Fetch-Site other
  # than `none`. Either would fail every batch.
  BROWSER_HEADERS = %w[origin sec-fetch-site].freeze
  # RFC 9110's token: anything else would make a malformed request.
  HEADER_NAME = /\A[!\#$%&'*+\-.^_`|~0-9A-Za-z]+\z/.freeze
  # PEM blocks: a certificate, a private key (PKCS#1, SEC1, PKCS#8, or one
  # of them encrypted).
  PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----/m.freeze
  PEM_PRIVATE_KEY = /-----BEGIN ((?:RSA |EC |DSA |ENCRYPTED )?PRIVATE KEY)-----.+?-----END \1-----/m.freeze

  def register
    validate_settings
    base = @url.end_with?("/") ? @url : "#{@url}/"
    @uri = URI.join(base, "v1/pipelines/#{URI.encode_www_form_component(@pipeline)}/batch")
    # After the url is parsed: the warnings tell by the scheme the client
    # will use, which URI gives in lower case (`HTTPS://` is TLS too).
    tls_warnings(@uri.scheme == "https")
    @client = LogStash::Filters::WasmClient.new(@uri, :timeout => @timeout, :retries => @retries.to_i,
                                                :max_retry_wait => @max_retry_wait, :retry_budget => @retry_budget,
                                                :logger => @logger, :pipeline => @pipeline,
                                                :ssl_verify => @ssl_verification_mode != "none",
                                                :cert_store => @cert_store, :client_cert => @client_cert,
                                                :client_key => @client_key, :client_chain => @client_chain,
                                                :headers => @request_headers,
                                                :max_answer_bytes => answer_bound)
  end

  # Logstash prints a plugin in some of its own messages; header values and
  # credentials in the url (tokens, passwords) stay out of them.
  def inspect
    shown = { "url" => LogStash::Filters::WasmClient.without_credentials(@url), "pipeline" => @pipeline }
    shown["headers"] = @headers.keys.map { |name| [name, "<redacted>"] }.to_h if @headers.is_a?(Hash) && !@headers.empty?
    "<#{self.class.name} #{shown.map { |k, v| "#{k}=>#{v.inspect}" }.join(', ')}>"
  end
  alias to_s inspect

  def filter(event)
    multi_filter([event])
  end

  def multi_filter(events)
    live = events.reject(&:cancelled?)
    # Events given their outcome so far: whatever raises past the per-event
    # rescues, the others still get a tag and a reason.
    settled = {}.compare_by_identity
    retrying = LogStash::Filters::WasmClient::Retrying.new
    begin
      chunks(serialise(live, settled)).each { |chunk| send_chunk(chunk, settled, retrying) }
    rescue *LAST_RESORT => e
      give_up(live, settled, e)
    end
    events
  end

  def close
    @client.close if @client
  end

  private

  def validate_settings
    problems = []
    problems << "timeout must be above 0 (got #{@timeout.inspect})" unless positive?(@timeout)
    unless @retries.is_a?(Numeric) && @retries >= 0 && @retries <= MAX_RETRIES
      problems << "retries must be 0 to #{MAX_RETRIES} (got #{@retries.inspect})"
    end
    unless @max_retry_wait.is_a?(Numeric) && @max_retry_wait >= 0
      problems << "max_retry_wait must be 0 or more (got #{@max_retry_wait.inspect})"
    end
    # Seconds past a day would hold a worker longer than anything can need,
    # and far past it are more than Ruby's clocks and sleeps take.
    %w[timeout max_retry_wait retry_budget].each do |name|
      value = instance_variable_get("@#{name}")
      next unless value.is_a?(Numeric) && value > MAX_SECONDS
      problems << "#{name} must be at most #{MAX_SECONDS} seconds, a day (got #{value.inspect})"
    end
    %w[tag_on_failure tag_on_request_failure].each do |name|
      value = instance_variable_get("@#{name}")
      problems << "#{name} must not be empty: it is how a failed event is told" if value.to_s.strip.empty?
    end
    problems << "max_batch_events must be 1 or more (got #{@max_batch_events.inspect})" unless positive?(@max_batch_events, 1)
    problems << "max_body_bytes must be 1 or more (got #{@max_body_bytes.inspect})" unless positive?(@max_body_bytes, 1)
    problems << "max_event_bytes must be 1 or more (got #{@max_event_bytes.inspect})" unless positive?(@max_event_bytes, 1)
    unless @max_answer_bytes.nil? || positive?(@max_answer_bytes, 1)
      problems << "max_answer_bytes must be 1 or more (got #{@max_answer_bytes.inspect})"
    end
    unless @retry_budget.is_a?(Numeric) && @retry_budget >= 0
      problems << "retry_budget must be 0 or more (got #{@retry_budget.inspect})"
    end
    problems << url_problem
    problems << pipeline_problem
    problems.concat(tls_problems)
    problems.concat(header_problems)
    problems.compact!
    raise LogStash::ConfigurationError, "wasm filter: #{problems.join('; ')}" unless problems.empty?
  end

  # Reads the CA files into @cert_store, so that a bad file stops the
  # pipeline at start rather than failing every batch.
  def tls_problems
    problems = []
    unless %w[full none].include?(@ssl_verification_mode)
      problems << "ssl_verification_mode must be \"full\" or \"none\" (got #{@ssl_verification_mode.inspect})"
    end
    problems.concat(client_certificate_problems)
    files = Array(@ssl_certificate_authorities)
    return problems if files.empty?
    @cert_store = OpenSSL::X509::Store.new
    files.each do |path|
      begin
        pems = File.read(path.to_s).scan(PEM_CERTIFICATE)
        if pems.empty?
          problems << "ssl_certificate_authorities: #{path} holds no PEM certificate"
          next
        end
        pems.each { |pem| @cert_store.add_cert(OpenSSL::X509::Certificate.new(pem)) }
      rescue SystemCallError, IOError, OpenSSL::OpenSSLError => e
        problems << "ssl_certificate_authorities: cannot read #{path} (#{e.class}: #{e.message})"
      end
    end
    problems
  end

  # Reads ssl_certificate and ssl_key into @client_cert, @client_chain and
  # @client_key, so that a bad pair stops the pipeline at start rather than
  # failing every batch at the proxy. A message names the setting and the
  # file, never what the key file holds.
  def client_certificate_problems
    certificate = @ssl_certificate.to_s
    key = @ssl_key.to_s
    return [] if certificate.empty? && key.empty?
    if certificate.empty? || key.empty?
      given, missing = certificate.empty? ? %w[ssl_key ssl_certificate] : %w[ssl_certificate ssl_key]
      return ["#{given} is set but #{missing} is not: a client certificate needs both, or neither"]
    end
    certificates, problem = read_client_certificates(certificate)
    return [problem] if problem
    @client_key, problem = read_client_key(key)
    return [problem] if problem
    unless certificates.first.check_private_key(@client_key)
      @client_key = nil
      return ["ssl_key: the key in #{key} does not match ssl_certificate (#{certificate}, for #{certificates.first.subject})"]
    end
    @client_cert = certificates.first
    @client_chain = certificates.drop(1)
    []
  end

  def read_client_certificates(path)
    pems = File.read(path).scan(PEM_CERTIFICATE)
    return [nil, "ssl_certificate: #{path} holds no PEM certificate"] if pems.empty?
    [pems.map { |pem| OpenSSL::X509::Certificate.new(pem) }, nil]
  rescue SystemCallError, IOError, OpenSSL::OpenSSLError => e
    [nil, "ssl_certificate: cannot read #{path} (#{e.class}: #{e.message})"]
  end

  # Only the first PEM private key block of the file is parsed, with an
  # empty passphrase given, so that OpenSSL never asks for one on a
  # terminal. OpenSSL's own messages say what failed, not what was read.
  def read_client_key(path)
    block = File.read(path)[PEM_PRIVATE_KEY]
    return [nil, "ssl_key: #{path} holds no PEM private key"] unless block
    if block.start_with?("-----BEGIN ENCRYPTED") || block =~ /^Proc-Type:\s*4,ENCRYPTED/
      return [nil, "ssl_key: the key in #{path} is encrypted; the plugin takes an unencrypted PEM key " \
                   "(there is no passphrase setting, as in Logstash's http filter)"]
    end
    key = OpenSSL::PKey.read(block, "")
    # JRuby 9.3's EC keys have only private_key?.
    private = key.respond_to?(:private?) ? key.private? : key.respond_to?(:private_key?) && key.private_key?
    unless private
      hint = " (JRuby 9.3 reads an EC key only as BEGIN EC PRIVATE KEY: convert it with `openssl ec`)" if defined?(JRUBY_VERSION)
      return [nil, "ssl_key: #{path} holds no private key that can be read#{hint}"]
    end
    [key, nil]
  rescue SystemCallError, IOError, OpenSSL::OpenSSLError, ArgumentError => e
    [nil, "ssl_key: cannot read #{path} (#{e.class}: #{e.message})"]
  end

  def tls_warnings(https)
    if !Array(@ssl_certificate_authorities).empty? && !https
      @logger.warn("ssl_certificate_authorities is set but url is not https://; it is not used", :pipeline => @pipeline)
    end
    client_certificate_warnings(https)
    return unless https && @ssl_verification_mode == "none"
    @logger.warn("ssl_verification_mode is none: the sidecar's certificate is not checked", :pipeline => @pipeline)
  end

  def client_certificate_warnings(https)
    return unless @client_cert
    unless https
      @logger.warn("ssl_certificate and ssl_key are set but url is not https://; they are not used", :pipeline => @pipeline)
      return
    end
    if !@client_chain.empty? && !Net::HTTP.method_defined?(:extra_chain_cert=)
      @logger.warn("ssl_certificate holds intermediate CAs after the certificate, which this Ruby's Net::HTTP " \
                   "cannot send (JRuby 9.3): only the certificate is sent, so the proxy must know them",
                   :pipeline => @pipeline, :certificate => @ssl_certificate.to_s)
    end
    return if Time.now.between?(@client_cert.not_before, @client_cert.not_after)
    @logger.warn("ssl_certificate is not valid now (valid from #{@client_cert.not_before.utc} to " \
                 "#{@client_cert.not_after.utc}); a proxy that checks client certificates will refuse it",
                 :pipeline => @pipeline, :certificate => @ssl_certificate.to_s)
  end

  # Checks `headers` into @request_headers. A message names the header,
  # never its value.
  def header_problems
    @request_headers = {}
    return ["headers must be a hash of names to values (got a #{@headers.class})"] unless @headers.is_a?(Hash)
    @headers.each_with_object([]) do |(name, value), problems|
      name = name.to_s
      if name !~ HEADER_NAME
        problems << "headers: #{name.inspect} is not a valid header name"
      elsif OWN_HEADERS.include?(name.downcase)
        problems << "headers: #{name} is set by the plugin"
      elsif name.downcase == BODY_CODING
        problems << "headers: #{name} cannot be set: the plugin sends the body uncompressed, and the sidecar " \
                    "refuses any other coding (415)"
      elsif browser_mark?(name, value)
        problems << "headers: #{name} cannot be set: it marks a web browser's request, which the sidecar " \
                    "refuses (403)"
      elsif !(value.is_a?(String) || value.is_a?(Numeric)) || value.to_s =~ /[\r\n\0]/
        problems << "headers: the value of #{name} must be one line of text"
      else
        @request_headers[name] = value.to_s
      end
    end
  end

  # The sidecar's own test (Sec-Fetch-Site `none` is a typed address, which
  # it lets through).
  def browser_mark?(name, value)
    name = name.downcase
    return false unless BROWSER_HEADERS.include?(name)
    name == "origin" || !value.to_s.strip.casecmp?("none")
  end

  # The most seconds `timeout`, `max_retry_wait` and `retry_budget` take.
  MAX_SECONDS = 86_400
  # The most `retries`: each busy answer waits at least 50 ms, whatever
  # the budget, so a thousand hold a batch a minute at least.
  MAX_RETRIES = 1000

  # `max_answer_bytes`, or four times `max_body_bytes`: a result line may
  # be twice its request line, and filters add fields besides.
  def answer_bound
    (@max_answer_bytes || 4 * @max_body_bytes).to_i
  end

  def positive?(value, at_least = nil)
    value.is_a?(Numeric) && (at_least ? value >= at_least : value > 0)
  end

  # The sidecar's rule for a pipeline name, which is part of its URLs: a
  # name it cannot have would fail every batch with a 404.
  def pipeline_problem
    name = @pipeline.to_s
    return nil if name =~ /\A[A-Za-z0-9._-]{1,64}\z/ && !name.start_with?(".", "_")
    hint = " (it is a name, not a %{} reference)" if name.include?("%{")
    "pipeline must be 1 to 64 ASCII letters, digits, `-`, `_` or `.`, not starting with `.` or `_`, " \
      "as a pipeline of the sidecar's config is named#{hint} (got #{@pipeline.inspect})"
  end

  # A message quotes the url without what may be credentials, parsed or
  # not (URI's own error message quotes the whole text, password included).
  def url_problem
    text = @url.to_s
    shown = LogStash::Filters::WasmClient.without_credentials(text)
    got = "got #{shown.inspect}"
    got += ", credentials left out" unless shown == text
    uri = begin
      URI.parse(text)
    rescue URI::InvalidURIError
      nil
    end
    return "url is not a URL (#{got})" unless uri
    unless %w[http https].include?(uri.scheme) && uri.host && !uri.host.empty?
      return "url must be an http:// or https:// URL with a host (#{got})"
    end
    # URI takes any digits; MRI would then send to the port modulo 65536,
    # and JRuby fail every batch for the whole retry_budget.
    return "url's port must be 1 to 65535 (#{got})" unless (1..65_535).cover?(uri.port)
    # The plugin puts its own path after the url's and drops a query or
    # fragment (URI.join). One here, or an `@` in the path, is most likely
    # a password's unencoded `#`, `?` or `/`, which made a piece of it the
    # host the batches would go to, shown in every log line and reason.
    return nil unless uri.query || uri.fragment || uri.path.include?("@")
    "url must have no query, fragment or `@` in its path (#{got}; a password's `@`, `/`, `?` or `#` " \
      "must be percent-encoded)"
  end

  # [[event, json], ...] for the events that can be written as JSON, each
  # with its @metadata (see WasmMerge.request_json); one that cannot is
  # failed alone, and the rest of the batch still goes.
  def serialise(live, settled)
    live.each_with_object([]) do |event, items|
      begin
        items << [event, LogStash::Filters::WasmMerge.request_json(event)]
      rescue *LAST_RESORT => e
        failed(event, settled, @tag_on_failure, "invalid_event", "the event cannot be written as JSON: #{e.class}: #{e.message}")
      end
    end
  end

  # Groups the items into requests within the sidecar's limits. An event
  # that is over max_body_bytes by itself goes alone: the sidecar decides.
  def chunks(items)
    groups = []
    current = []
    bytes = 0
    items.each do |item|
      size = item[1].bytesize + 1
      if !current.empty? && (current.size >= @max_batch_events || bytes + size > @max_body_bytes)
        groups << current
        current = []
        bytes = 0
      end
      current << item
      bytes += size
    end
    groups << current unless current.empty?
    groups
  end

  # Sends one request and settles its events. A 413 (over the sidecar's
  # limits, which may be lower than ours) splits the request in halves until
  # what is refused is a single event, so one oversized event fails alone.
  def send_chunk(chunk, settled, retrying)
    body = chunk.map { |_, line| line }.join("\n") << "\n"
    limits = chunk.map { |_, line| LogStash::Filters::WasmClient::ResultLines.limit(line.bytesize, @max_event_bytes) }
    answer = @client.post(body, limits, retrying)
    if answer.code == 413 && chunk.size > 1
      @logger.debug("wasmstash refused #{chunk.size} events as too large; sending them in halves", :pipeline => @pipeline)
      half = (chunk.size + 1) / 2
      send_chunk(chunk[0, half], settled, retrying)
      send_chunk(chunk[half..-1], settled, retrying)
      return
    end
    lines, reason = result_lines(answer, chunk.size)
    if lines.nil?
      chunk.each { |event, _| failed(event, settled, @tag_on_request_failure, "request_failed", reason) }
      return
    end
    unreadable = chunk.each_with_index.map { |(event, _), index| apply(event, lines[index], settled) }.compact
    return if unreadable.empty?
    # Each such event has its reason; the log says that the sidecar, or
    # something in its place, answers with what no sidecar writes.
    @logger.warn("#{unreadable.size} of wasmstash's #{chunk.size} result line(s) are no result; their events " \
                 "pass on tagged", :pipeline => @pipeline, :first => unreadable.first)
  end

  # One result line per event, or nil and the reason there are none.
  def result_lines(answer, expected)
    return [nil, answer.error] if answer.error
    unless answer.code == 200
      @logger.error("wasmstash answered #{answer.code}", :pipeline => @pipeline, :body => answer.body[0, 500])
      # The sidecar's error line ends with a newline, which the reason does not need.
      shown = answer.body[0, EXCERPT].to_s.rstrip
      shown = answer.body.empty? ? "(no body)" : "(a blank body)" if shown.empty?
      reason = "wasmstash answered #{answer.code}: #{shown}"
      reason += " (this event alone is over the sidecar's limits)" if answer.code == 413 && expected == 1
      return [nil, reason]
    end
    # A blank line never gets here: the client refuses an answer holding
    # one as it reads it (WasmClient::ResultLines).
    lines = answer.body.split("\n")
    return [lines, nil] if lines.size == expected
    @logger.error("wasmstash returned #{lines.size} results for #{expected} events", :pipeline => @pipeline)
    [nil, "wasmstash returned #{lines.size} result line(s) for #{expected} events; none can be matched to its event"]
  end

  # Settles `event` with its result `line`. Returns the reason when the
  # line is no result a sidecar writes, else nil.
  def apply(event, line, settled)
    result = begin
      JSON.parse(line, :max_nesting => RESULT_NESTING)
    rescue JSON::NestingError
      # Before ParserError, its superclass: the line may be JSON, but no
      # correct result.
      return unreadable(event, settled, @tag_on_failure, "invalid_result",
                        "result line nests deeper than #{RESULT_NESTING} levels, deeper than the sidecar writes")
    rescue JSON::ParserError => e
      return unreadable(event, settled, @tag_on_request_failure, "invalid_response",
                        "result line is not JSON: #{e.message}")
    end
    if !result.is_a?(Hash)
      unreadable(event, settled, @tag_on_failure, "invalid_result", "result line is not a JSON object: #{line[0, EXCERPT]}")
    elsif result["dropped"] == true
      event.cancel
      settled[event] = true
      nil
    elsif result["event"].is_a?(Hash)
      before = failure_marks(event)
      LogStash::Filters::WasmMerge.replace(event, result["event"], :tag => @tag_on_failure, :pipeline => @pipeline)
      # Logstash's common options apply "if this filter is successful": an
      # event a sidecar filter failed on (a trap, a timeout, grok's
      # `_grokparsefailure`) or the merge could not take whole keeps what it
      # has, such as the `message` a remove_field would take.
      filter_matched(event) unless failed_since?(event, before)
      settled[event] = true
      nil
    elsif result.key?("error")
      # The sidecar's own answer for a line it took for no event.
      failed(event, settled, @tag_on_failure, "invalid_input", result["error"])
      nil
    else
      unreadable(event, settled, @tag_on_failure, "invalid_result", "unexpected result line: #{line[0, EXCERPT]}")
    end
  rescue *LAST_RESORT => e
    # Whatever the result holds, one event's failure must not stop the
    # pipeline worker (and, with a persisted queue, replay into it again).
    unreadable(event, settled, @tag_on_failure, "invalid_result", "#{e.class}: #{e.message}")
  end

  # What tells a failure: the event's failure records and its tags that
  # begin with `_`, Logstash's mark of a failure tag (`_grokparsefailure`,
  # `_dateparsefailure`, `_wasmfilter_timeout`).
  def failure_marks(event)
    records = event.get(LogStash::Filters::WasmMerge::FAILURES)
    tags = event.get("tags")
    failure_tag = ->(tag) { tag.is_a?(String) && (tag.start_with?("_") || @failure_tags.include?(tag)) }
    [records.is_a?(Array) ? records.size : 0, Array(tags).select(&failure_tag)]
  end

  def failed_since?(event, before)
    records_before, tags_before = before
    records, tags = failure_marks(event)
    records > records_before || !(tags - tags_before).empty?
  end

  def failed(event, settled, tag, kind, reason)
    LogStash::Filters::WasmMerge.fail(event, tag, kind, reason, :pipeline => @pipeline)
    settled[event] = true
  end

  # `failed`, for a result line that is no result; returns the reason.
  def unreadable(event, settled, tag, kind, reason)
    failed(event, settled, tag, kind, reason)
    reason
  end

  # Something raised outside the per-event rescues: every event without an
  # outcome yet passes on, tagged, with the error as the reason.
  def give_up(live, settled, error)
    @logger.error("wasm filter failed on a batch; its unsettled events pass on tagged",
                  :pipeline => @pipeline, :error => "#{error.class}: #{error.message}")
    live.each do |event|
      next if settled[event] || event.cancelled?
      begin
        LogStash::Filters::WasmMerge.fail(event, @tag_on_failure, "plugin_error", "#{error.class}: #{error.message}",
                                          :pipeline => @pipeline)
      rescue *LAST_RESORT
        begin
          event.tag(@tag_on_failure)
        rescue *LAST_RESORT
          nil # Nothing more can be written on this event; the log has the error.
        end
      end
    end
  end
end
