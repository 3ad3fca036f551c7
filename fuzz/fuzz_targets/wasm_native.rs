//! The `wasm_native` fuzz target: see `src/targets/wasm_native.rs` for what
//! it holds.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| wasmstash_fuzz::targets::wasm_native::run(data));
