//! The `config` fuzz target: see `src/targets/config.rs` for what it holds.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wasmstash_fuzz::targets::config::run(data));
