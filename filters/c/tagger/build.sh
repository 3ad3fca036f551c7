#!/usr/bin/env bash
# Builds tagger.wasm with Debian's clang and wasm-ld: no libc, no SDK.
set -euo pipefail
cd "$(dirname "$0")"
out="${1:-tagger.wasm}"
clang --target=wasm32-unknown-unknown -O2 -nostdlib -mbulk-memory \
  -Wall -Wextra -Werror \
  -Wl,--no-entry -Wl,--strip-all \
  -o "$out" tagger.c
echo "$out"
