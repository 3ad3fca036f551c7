//! The `event_check` fuzz target: see `src/targets/event_check.rs` for what it holds.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wasmstash_fuzz::targets::event_check::run(data));
