//! The same filter built natively and as WebAssembly must give the same
//! results; these helpers check that for any filter crate and module.

use wasmstash::engine::{Engine, Stage, StageOutcome};
use wasmstash_sdk::wire;
use wasmstash_sdk::{Filter, NativeFilter};

use super::{built_module, load, strict_engine};

/// Runs `events` through the native filter and through its module in the
/// engine, in batches of 125 (Logstash's default), and compares every result.
pub fn assert_identical<F: Filter>(module_stem: &str, config: &str, events: &[Vec<u8>]) -> usize {
    assert_identical_on::<F>(&strict_engine(), module_stem, config, events)
}

/// As [`assert_identical`], on a given engine (one with a module cache makes
/// many configs of one module cheap to load).
pub fn assert_identical_on<F: Filter>(
    engine: &Engine,
    module_stem: &str,
    config: &str,
    events: &[Vec<u8>],
) -> usize {
    let mut native = NativeFilter::<F>::new(config.as_bytes()).unwrap();
    let mut stage = Stage::new(load(
        engine,
        module_stem,
        &built_module(module_stem),
        config,
    ));
    let mut batch = Vec::new();
    let mut changed = 0;
    for chunk in events.chunks(125) {
        let refs: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
        wire::encode_batch(refs.iter().copied(), &mut batch);
        let native_results: Vec<StageOutcome> =
            wire::decode_results(native.process_batch(&batch), refs.len())
                .unwrap()
                .into_iter()
                .map(|(kind, payload)| StageOutcome::from_wire(kind, payload))
                .collect();
        let wasm_results = stage.process(&refs);
        assert_eq!(native_results, wasm_results);
        changed += wasm_results
            .iter()
            .filter(|r| matches!(r, StageOutcome::Replaced(_)))
            .count();
    }
    changed
}
