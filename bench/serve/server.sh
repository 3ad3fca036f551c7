# Sourced by the `wasmstash serve` benchmarks (run.sh, ui.sh), which post
# access-log lines to the same filter chain and start the server the same
# way.

# The chain, for a config's tail: what a site might run on access logs
# before grok: keep the original, label the dataset, tag, normalise.
access_pipeline() {
  cat <<'TOML'
[[pipelines.access.filters]]
filter = "mutate"
config = { copy = { "message" = "[event][original]" }, add_field = { "[event][dataset]" = "apache.access" }, add_tag = ["access"] }

[[pipelines.access.filters]]
filter = "mutate"
config = { strip = ["message"], rename = { "[event][original]" = "[log][original]" } }
TOML
}

# `start_server CONFIG DIR`: starts `wasmstash serve` on a free loopback port
# with its stdout and stderr in DIR/out and DIR/err, and waits until it
# answers /readyz. Sets `server` (its pid) and `url`. Stops the script, with
# the server's last words, if it exits while starting.
start_server() {
  "$bin" serve --config "$1" --listen 127.0.0.1:0 > "$2/out" 2> "$2/err" &
  server=$!
  until grep -q listening "$2/out" 2>/dev/null; do
    kill -0 "$server" 2>/dev/null || { echo "wasmstash serve exited:" >&2; tail -5 "$2/err" >&2; exit 1; }
    sleep 0.05
  done
  url="$(sed -n 's/.*listening on //p' "$2/out")"
  until curl -sf "$url/readyz" >/dev/null; do sleep 0.05; done
}
