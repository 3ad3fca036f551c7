#!/usr/bin/env bash
# The templates benchmark: wasmstash's miner natively, the `templates` filter
# in the engine (WebAssembly, with event encoding) and Drain3's mining loop,
# over the contents of the ten Loghub sets repeated, one after the other in
# one run. Usage: bench/templates/run.sh [REPEAT] (default 10 = 200k lines).
set -euo pipefail
cd "$(dirname "$0")/../.."
repeat="${1:-10}"
loghub=../shared/data/loghub
if [ ! -d "$loghub" ]; then
  echo "test data missing: expected the Loghub sets at $loghub (see ../shared/data/README.md)" >&2
  exit 1
fi
python3 -c 'import drain3' 2>/dev/null || { echo "drain3 missing: pip install drain3" >&2; exit 1; }
contents="$(mktemp)"
trap 'rm -f "$contents"' EXIT
python3 bench/templates/contents.py "$loghub" "$contents"
cargo build --release -q -p wasmstash-bench --bin templates
"${CARGO_TARGET_DIR:-target}/release/templates" "$contents" "$repeat"
python3 bench/templates/drain3_loop.py "$contents" "$repeat" plain
python3 bench/templates/drain3_loop.py "$contents" "$repeat" masked
