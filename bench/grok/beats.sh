#!/usr/bin/env bash
# The apache pipeline over events shaped as Filebeat ships them: each access
# line as `message` beside about 800 bytes of agent, host, log and ECS
# metadata that no filter reads. This is what Logstash hands the sidecar in
# a Beats deployment, and what the bare-line benchmarks leave out: every
# filter still steps over the metadata to find the fields it wants.
# Prints a Markdown row: events, CPU seconds (user + sys), events per
# CPU-second.
#
#   cargo build --release && bench/grok/beats.sh [repeats of the log, default 20]
set -euo pipefail
source "$(dirname "$0")/../common.sh"
repeats="${1:-20}"
needs /usr/bin/time time

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 bench/grok/beats_events.py "$log" "$repeats" > "$work/events.ndjson"
events=$(wc -l < "$work/events.ndjson")

export WASMSTASH_CACHE_DIR="$work/cache"
# One worker: the figure is CPU time per event, which more threads only blur.
pipeline=(run --config examples/wasmstash.toml --pipeline apache --format ndjson --workers 1)
head -3 "$work/events.ndjson" | "$bin" "${pipeline[@]}" > /dev/null 2>&1 # warm the module cache
/usr/bin/time -f '%U %S' -o "$work/time" "$bin" "${pipeline[@]}" "$work/events.ndjson" > /dev/null 2> "$work/err"
read -r user sys < "$work/time"
grep -q "$events events in, $events out" "$work/err" || { cat "$work/err" >&2; exit 1; }
awk -v n="$events" -v u="$user" -v s="$sys" 'BEGIN {
  printf "| apache pipeline, Filebeat-shaped NDJSON | %d | %.2f | %.0f |\n", n, u + s, n / (u + s) }'
