Gem::Specification.new do |s|
  s.name          = "logstash-filter-wasm"
  s.version       = "0.1.0"
  s.licenses      = ["Apache-2.0"]
  s.summary       = "Runs wasmstash WebAssembly filters on whole Logstash batches"
  s.description   = "Sends each pipeline worker batch to a wasmstash sidecar in one HTTP call " \
                    "and replaces the events with the results. Install with " \
                    "bin/logstash-plugin install --no-verify --local logstash-filter-wasm-0.1.0.gem"
  s.authors       = ["wasmstash"]
  s.homepage      = "https://github.com/wasmstash/wasmstash"
  s.require_paths = ["lib"]
  s.files         = Dir["lib/**/*.rb", "spec/**/*.rb", "*.gemspec", "README.md"]
  s.test_files    = Dir["spec/**/*_spec.rb"]
  s.metadata      = { "logstash_plugin" => "true", "logstash_group" => "filter" }

  s.add_runtime_dependency "logstash-core-plugin-api", ">= 1.60", "<= 2.99"
  s.add_development_dependency "rspec", "~> 3"
end
