//! The `regex` fuzz target: see `src/targets/regex.rs` for what it holds.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wasmstash_fuzz::targets::regex::run(data));
