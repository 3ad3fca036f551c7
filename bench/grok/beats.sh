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
python3 - "$log" "$repeats" > "$work/events.ndjson" <<'PY'
import json, sys
lines = open(sys.argv[1], encoding="utf-8", errors="replace").read().splitlines()
host = {"name": "web-01", "hostname": "web-01", "architecture": "x86_64",
        "os": {"family": "debian", "name": "Debian GNU/Linux", "kernel": "6.1.0-18-amd64",
               "codename": "bookworm", "type": "linux", "platform": "debian",
               "version": "12 (bookworm)"},
        "id": "8a1f3e9c2b7d4f6a", "containerized": False,
        "ip": ["10.0.3.17", "fe80::4001:aff:fe00:311"], "mac": ["42-01-0A-00-03-11"]}
agent = {"type": "filebeat", "version": "8.15.0", "ephemeral_id": "6b1c-44f0-9a6e-0f3c2b7d",
         "id": "d2f0c5a8-1b7e-4c3e-9f5d-2a6b8c4e1f7a", "name": "web-01"}
for _ in range(int(sys.argv[2])):
    for i, line in enumerate(lines):
        print(json.dumps({
            "@timestamp": "2015-05-20T21:05:15.000Z", "message": line, "agent": agent,
            "ecs": {"version": "8.11.0"}, "host": host,
            "log": {"file": {"path": "/var/log/apache2/access.log", "device_id": "2049",
                             "inode": "1835041"}, "offset": i * 180},
            "input": {"type": "filestream"},
            "event": {"dataset": "apache.access", "module": "apache"},
            "fields": {"env": "production", "team": "web"},
        }, separators=(",", ":")))
PY
events=$(wc -l < "$work/events.ndjson")

export WASMSTASH_CACHE_DIR="$work/cache"
pipeline=(run --config examples/wasmstash.toml --pipeline apache --format ndjson)
head -3 "$work/events.ndjson" | "$bin" "${pipeline[@]}" > /dev/null 2>&1 # warm the module cache
/usr/bin/time -f '%U %S' -o "$work/time" "$bin" "${pipeline[@]}" "$work/events.ndjson" > /dev/null 2> "$work/err"
read -r user sys < "$work/time"
grep -q "$events events in, $events out" "$work/err" || { cat "$work/err" >&2; exit 1; }
awk -v n="$events" -v u="$user" -v s="$sys" 'BEGIN {
  printf "| apache pipeline, Filebeat-shaped NDJSON | %d | %.2f | %.0f |\n", n, u + s, n / (u + s) }'
