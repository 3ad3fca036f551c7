#!/usr/bin/env bash
# Benchmarks `wasmstash serve` with wrk on loopback over the real access log
# (issue 3): the single-event endpoint at 1, 8 and 25 connections, the batch
# endpoint at 125 and 1000 events per call, idle RSS, and RSS across a run of
# 10 million events. Prints a Markdown report for BENCHMARKS.md.
#
#   cargo build --release && bench/serve/run.sh [seconds per cell, default 10]
set -euo pipefail
source "$(dirname "$0")/../common.sh"
source bench/serve/server.sh
seconds="${1:-10}"
needs wrk wrk

work="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null || true; cp "$work/err" /tmp/wasmstash-serve-bench.err 2>/dev/null; rm -rf "$work"' EXIT
{
  cat <<TOML
[server]
watch = false
workers = 2
max_batch_events = 10000
TOML
  access_pipeline
} > "$work/bench.toml"
start_server "$work/bench.toml" "$work"
sleep 1
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$server/status"; }
idle_rss=$(rss_kib)

wrk_cell() { # connections, events per request, seconds, endpoint
  # wrk shares the 2 cores with the server. One wrk thread drives the
  # single-event cells with a lower p99 than two (fewer threads to schedule);
  # the batch cells, with larger bodies to write, go faster with two.
  local threads=2
  [ "$4" = event ] && threads=1
  WASMSTASH_LOG="$log" WASMSTASH_BATCH="$2" wrk -t"$threads" -c"$1" -d"$3"s --latency \
    -s bench/serve/events.lua "$url/v1/pipelines/access/$4" 2>&1
}
field() { sed -n "s/.*$1=\([0-9]*\).*/\1/p"; }

echo "## wasmstash serve on loopback"
echo
echo "Machine: $(nproc) vCPUs ($(lscpu | sed -n 's/Model name: *//p')), $(uname -r); wrk on the same machine, 1 thread for the event cells, 2 for batch."
echo "Pipeline: two mutate filters over \`{\"message\": line}\` events from the real access log; ${seconds} s per cell."
echo
echo "| endpoint | connections | events per request | requests/s | events/s | MiB/s of raw log | p50 | p99 | non-200 |"
echo "|---|---|---|---|---|---|---|---|---|"
avg_line=$(awk '{ total += length($0) } END { printf "%.1f", total / NR }' "$log")
for cell in "event 1 1" "event 8 1" "event 25 1" "batch 4 125" "batch 4 1000"; do
  set -- $cell
  out="$(wrk_cell "$2" "$3" "$seconds" "$1")"
  requests=$(echo "$out" | field requests)
  non200=$(echo "$out" | field non200)
  p50=$(echo "$out" | field p50_us)
  p99=$(echo "$out" | field p99_us)
  rps=$(awk -v r="$requests" -v s="$seconds" 'BEGIN { printf "%.0f", r / s }')
  eps=$(awk -v r="$requests" -v s="$seconds" -v b="$3" 'BEGIN { printf "%.0f", r * b / s }')
  mibs=$(awk -v e="$eps" -v l="$avg_line" 'BEGIN { printf "%.1f", e * (l + 1) / 1048576 }')
  echo "| $1 | $2 | $3 | $rps | $eps | $mibs | ${p50} µs | ${p99} µs | $non200 |"
done

echo
echo "Idle RSS after start: $((idle_rss / 1024)) MiB."
# 10 million events through the batch endpoint, 1000 per call, RSS sampled.
start_rss=$(rss_kib)
requests_needed=10000
samples=""
sent=0
while [ "$sent" -lt "$requests_needed" ]; do
  out="$(WASMSTASH_LOG="$log" WASMSTASH_BATCH=1000 wrk -t2 -c4 -d5s -s bench/serve/events.lua "$url/v1/pipelines/access/batch" 2>&1)"
  sent=$((sent + $(echo "$out" | field requests)))
  samples="$samples $(( $(rss_kib) / 1024 ))"
done
echo "RSS across $((sent * 1000 / 1000000)) million events (1000 per call), sampled every 5 s: start $((start_rss / 1024)) MiB, then$samples MiB."
