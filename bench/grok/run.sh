#!/usr/bin/env bash
# The product path of issue 4, as a user runs it: `wasmstash run --pipeline
# apache` (grok COMBINEDAPACHELOG, ECS) over the access log repeated to 1M
# lines, then the peers of ../shared/peers on the same file in the same run.
# Prints a Markdown table for BENCHMARKS.md: wall seconds, lines/s, CPU
# seconds (user + sys, from /usr/bin/time) and lines per CPU-second.
#
#   cargo build --release && bench/grok/run.sh [repeats of the file, default 100]
set -euo pipefail
source "$(dirname "$0")/../common.sh"
repeats="${1:-100}"
peers="$PWD/../shared/peers/run-peer.sh"
needs /usr/bin/time time

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
input="$work/access_${repeats}x.log"
for _ in $(seq "$repeats"); do cat "$log"; done > "$input"
lines=$(wc -l < "$input")
cat "$input" > /dev/null # into the page cache

echo "## grok over ${lines} access-log lines: wasmstash run vs the peers"
echo
echo "Machine: $(nproc) vCPUs ($(lscpu | sed -n 's/Model name: *//p')), $(uname -r), shared with other jobs."
echo
echo "| processor | lines out | wall s | lines/s | CPU s (user+sys) | lines per CPU-second | max RSS MiB |"
echo "|---|---|---|---|---|---|---|"

# wasmstash: output to a file (as the peers write theirs), summary to stderr.
# One worker gives the CPU cost per line; one per core, the wall-clock speed.
export WASMSTASH_CACHE_DIR="$work/cache"
"$bin" run --config examples/wasmstash.toml --pipeline apache "$input" > /dev/null 2>&1 # warm the module cache
for workers in 1 "$(nproc)"; do
  /usr/bin/time -f '%e %U %S %M' -o "$work/time" \
    "$bin" run --config examples/wasmstash.toml --pipeline apache --workers "$workers" "$input" > "$work/out" 2> "$work/err"
  read -r wall user sys rss < "$work/time"
  out=$(wc -l < "$work/out")
  awk -v n="$out" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v k="$workers" 'BEGIN {
    printf "| wasmstash run --pipeline apache --workers %d | %d | %.2f | %.0f | %.2f | %.0f | %.0f |\n", k, n, w, n / w, u + s, n / (u + s), r / 1024 }'
done

for peer in rsyslog-mmnormalize syslog-ng-regexp; do
  if ! figures=$("$peers" "$peer" "$input" 2> "$work/peer.err"); then
    echo "| $peer | failed: $(tail -1 "$work/peer.err") | | | | | |"
    continue
  fi
  python3 - "$peer" "$figures" <<'PY'
import json, sys
peer, f = sys.argv[1], json.loads(sys.argv[2].strip().splitlines()[-1])
cpu = (f.get("user_s") or 0) + (f.get("sys_s") or 0)
lines = f.get("lines_out") or f.get("lines")
wall = f.get("elapsed_s") or f.get("seconds")
rss = (f.get("max_rss_kb") or 0) / 1024
print(f"| {peer} | {lines} | {wall:.2f} | {lines / wall:.0f} | {cpu:.2f} | {lines / cpu:.0f} | {rss:.0f} |")
PY
done
