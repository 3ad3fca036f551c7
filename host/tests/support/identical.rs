//! The same filter built natively and as WebAssembly must give the same
//! results; these helpers check that for any filter crate and module.

use wasmstash::engine::{Engine, Failure, FailureKind, Stage, StageOutcome};
use wasmstash_sdk::{Filter, NativeFilter, Outcome};

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
    let mut changed = 0;
    for chunk in events.chunks(125) {
        let refs: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
        let native_results: Vec<StageOutcome> = native
            .process_events(&refs)
            .into_iter()
            .zip(&refs)
            .map(|(outcome, input)| match outcome {
                Outcome::Kept(event) if event == *input => StageOutcome::Unchanged,
                Outcome::Kept(event) => StageOutcome::Replaced(event),
                Outcome::Dropped => StageOutcome::Dropped,
                Outcome::Failed(reason) => {
                    StageOutcome::Failed(Failure::new(FailureKind::FilterError, reason))
                }
            })
            .collect();
        let wasm_results: Vec<StageOutcome> = stage
            .process(&refs)
            .into_iter()
            .zip(&refs)
            .map(|(outcome, input)| match outcome {
                StageOutcome::Replaced(event) if event == *input => StageOutcome::Unchanged,
                other => other,
            })
            .collect();
        assert_eq!(native_results, wasm_results);
        changed += wasm_results
            .iter()
            .filter(|r| matches!(r, StageOutcome::Replaced(_)))
            .count();
    }
    changed
}
