//! The fuzz targets' bodies, one module each, so that the replay test
//! (`tests/replay.rs`) runs the same checks as the fuzzer does.

pub mod config;
pub mod event_check;
pub mod filters;
pub mod regex;
pub mod wasm_native;
pub mod wire;
