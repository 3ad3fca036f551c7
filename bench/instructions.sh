#!/usr/bin/env bash
# Instructions per event of the apache pipeline (`wasmstash run --pipeline
# apache`), counted by cachegrind. On a shared 2-vCPU machine timings move
# by 10-30% from run to run, so a change of a few percent cannot be timed;
# an instruction count is exact and repeatable, and comparing two builds
# with it takes one run each. It counts work, not time: a change that trades
# instructions for cache misses, or the reverse, needs a timing as well.
#
# Two inputs: the access log's lines, and the same lines as Filebeat ships
# them (bench/grok/beats_events.py). Start-up (module hashing, the compiled
# module cache) is taken out by subtracting a run over the first 10 events.
# Prints a Markdown table, a row per binary.
#
#   cargo build --release && bench/instructions.sh [events, default 20000] [BINARY ...]
#
# With no BINARY, the release build. To compare two builds, copy each one's
# target/release/wasmstash aside and name both.
set -euo pipefail
source "$(dirname "$0")/common.sh"
events="${1:-20000}"
shift || true
binaries=("$@")
[ "${#binaries[@]}" -gt 0 ] || binaries=("$bin")
needs valgrind valgrind

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
repeats=$(((events + 9999) / 10000))
for _ in $(seq "$repeats"); do cat "$log"; done | head -n "$events" > "$work/lines.log"
python3 bench/grok/beats_events.py "$log" "$repeats" | head -n "$events" > "$work/beats.ndjson"
head -n 10 "$work/lines.log" > "$work/lines10.log"
head -n 10 "$work/beats.ndjson" > "$work/beats10.ndjson"

# Instructions of one run of BINARY over FILE. One worker, so that how
# valgrind interleaves threads cannot move the count.
count() {
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
    "$1" run --config examples/wasmstash.toml --pipeline apache --workers 1 "$2" 2>&1 > /dev/null |
    sed -n 's/.*I *refs: *//p' | tr -d ,
}

export WASMSTASH_CACHE_DIR="$work/cache"
echo "| build | instructions per access line | per Filebeat-shaped event |"
echo "|---|---|---|"
for binary in "${binaries[@]}"; do
  [ -x "$binary" ] || { echo "not an executable: $binary" >&2; exit 1; }
  # Warm the module cache under valgrind: it hides some CPU features, so
  # wasmtime's settings (and the cache key) differ from a plain run's, and
  # a cold cache would count a parallel compile, which is not repeatable.
  count "$binary" "$work/lines10.log" > /dev/null
  per_line=$(( ($(count "$binary" "$work/lines.log") - $(count "$binary" "$work/lines10.log")) / (events - 10) ))
  per_beats=$(( ($(count "$binary" "$work/beats.ndjson") - $(count "$binary" "$work/beats10.ndjson")) / (events - 10) ))
  echo "| \`$binary\` | $per_line | $per_beats |"
done
