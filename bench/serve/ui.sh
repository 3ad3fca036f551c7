#!/usr/bin/env bash
# What an open live view (/ui) costs the hot path (issue 8): wrk against the
# batch endpoint (1000 real access-log lines per call, 4 connections) with no
# page open and with one open, in alternating rounds so drift on a shared
# machine hits both sides alike. "Page open" is a client holding the page's
# server-sent-event stream, which is what makes the server sample; the
# browser's own drawing happens on another machine in real use.
#
#   cargo build --release && bench/serve/ui.sh [seconds per round, default 10] [rounds, default 4]
set -euo pipefail
source "$(dirname "$0")/../common.sh"
source bench/serve/server.sh
seconds="${1:-10}"
rounds="${2:-4}"
needs wrk wrk

work="$(mktemp -d)"
page=""
trap 'kill "$server" $page 2>/dev/null || true; rm -rf "$work"' EXIT
{
  cat <<TOML
[server]
watch = false
workers = 2

[server.ui]
mask_fields = ["[log][original]"]
TOML
  access_pipeline
} > "$work/bench.toml"
start_server "$work/bench.toml" "$work"

# CPU seconds (user + system, all threads) the server has used so far.
cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$server/stat"
}

ui_work_seconds() {
  curl -s "$url/metrics" | awk '/^wasmstash_ui_work_microseconds_total / { printf "%.3f", $2 / 1e6; found = 1 } END { if (!found) print 0 }'
}

run_wrk() {
  WASMSTASH_LOG="$log" WASMSTASH_BATCH=1000 wrk -t2 -c4 -d"$seconds"s \
    -s bench/serve/events.lua "$url/v1/pipelines/access/batch" 2>&1 |
    sed -n 's/.*requests=\([0-9]*\) non200=\([0-9]*\).*/\1 \2/p'
}

echo "## The live view's cost on the hot path"
echo
echo "Machine: $(nproc) vCPUs ($(lscpu | sed -n 's/Model name: *//p')), $(uname -r); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "Batch endpoint, 1000 real access-log lines per call, 4 connections, ${seconds} s per round; server, wrk and the page's stream client share the machine."
echo
echo "| round | page | events/s | server CPU µs per event | live view's own work, % of server CPU | non-200 | updates received |"
echo "|---|---|---|---|---|---|---|"
total_off=0; total_on=0; cpu_off=0; cpu_on=0; work_on=0
for round in $(seq 1 "$rounds"); do
  # Alternate which side goes first, so a trend in the machine's load
  # does not favour one side.
  order="off on"; [ $((round % 2)) = 0 ] && order="on off"
  for mode in $order; do
    updates="–"
    if [ "$mode" = on ]; then
      curl -sN "$url/ui/events" > "$work/sse" &
      page=$!
      sleep 1.5
    fi
    cpu_before=$(cpu_seconds); work_before=$(ui_work_seconds)
    read -r requests non200 < <(run_wrk)
    cpu=$(awk -v a="$cpu_before" -v b="$(cpu_seconds)" 'BEGIN { printf "%.3f", b - a }')
    view_work=$(awk -v a="$work_before" -v b="$(ui_work_seconds)" 'BEGIN { printf "%.3f", b - a }')
    if [ "$mode" = on ]; then
      kill "$page"; wait "$page" 2>/dev/null || true; page=""
      updates=$(grep -c '^event: update' "$work/sse" || true)
      total_on=$((total_on + requests)); cpu_on=$(awk -v a="$cpu_on" -v b="$cpu" 'BEGIN { print a + b }')
      work_on=$(awk -v a="$work_on" -v b="$view_work" 'BEGIN { print a + b }')
    else
      total_off=$((total_off + requests)); cpu_off=$(awk -v a="$cpu_off" -v b="$cpu" 'BEGIN { print a + b }')
    fi
    eps=$(awk -v r="$requests" -v s="$seconds" 'BEGIN { printf "%.0f", r * 1000 / s }')
    per_event=$(awk -v c="$cpu" -v r="$requests" 'BEGIN { printf "%.3f", c * 1e6 / (r * 1000) }')
    share=$(awk -v w="$view_work" -v c="$cpu" 'BEGIN { printf "%.2f", w * 100 / c }')
    echo "| $round | $mode | $eps | $per_event | $share | $non200 | $updates |"
  done
done
echo
awk -v on="$total_on" -v off="$total_off" -v n="$rounds" -v s="$seconds" -v con="$cpu_on" -v coff="$cpu_off" -v work_on="$work_on" 'BEGIN {
  printf "Mean over %d rounds: %.0f events/s without a page, %.0f with one open (%+.2f%%).\n",
    n, off * 1000 / (n * s), on * 1000 / (n * s), (on - off) * 100 / off
  a = coff * 1e6 / (off * 1000); b = con * 1e6 / (on * 1000)
  printf "Server CPU per event: %.3f µs without a page, %.3f µs with one open (%+.2f%%).\n", a, b, (b - a) * 100 / a
  printf "The live view'"'"'s own work (sampling digest and updates, timed by the server) with a page open: %.2f%% of the server'"'"'s CPU.\n", work_on * 100 / con }'
