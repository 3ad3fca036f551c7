//! The `wire` fuzz target: see `src/targets/wire.rs` for what it holds.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wasmstash_fuzz::targets::wire::run(data));
