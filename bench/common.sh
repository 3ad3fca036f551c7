# Sourced by the benchmark scripts that drive the `wasmstash` binary. Moves
# to the checkout's root and sets `bin` (the release binary) and `log` (the
# real access log), stopping with what to do when either is missing; `needs
# CMD PACKAGE` stops unless a tool is installed.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/wasmstash"
log="$PWD/../shared/data/access/apache_logs"
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 1; }
[ -f "$log" ] || { echo "missing $log (see README)" >&2; exit 1; }

needs() {
  command -v "$1" >/dev/null || { echo "needs $1 (apt-get install $2)" >&2; exit 1; }
}
