//! The `filters` fuzz target: see `src/targets/filters.rs` for what it holds.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wasmstash_fuzz::targets::filters::run(data));
