//! The same filter built natively and as WebAssembly must give the same
//! results; these helpers check that for any filter crate and module.

use wasmstash::engine::{Engine, Failure, FailureKind, Stage, StageOutcome};
use wasmstash::event_check::CheckedEvent;
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
        // Both builds get the text the host's check hands a module (line
        // breaks in whitespace made spaces).
        let checked = super::checked(chunk);
        let refs: Vec<&[u8]> = checked.iter().map(CheckedEvent::text).collect();
        let native_results: Vec<Compared> = native
            .process_events(&refs)
            .into_iter()
            .zip(&refs)
            .map(|(outcome, input)| match outcome {
                Outcome::Kept(event) if event == *input => Compared::Unchanged,
                Outcome::Kept(event) => Compared::Changed(event),
                Outcome::Dropped => Compared::Dropped,
                Outcome::Failed(reason) => {
                    Compared::Failed(Failure::new(FailureKind::FilterError, reason))
                }
            })
            .collect();
        let inputs: Vec<&CheckedEvent> = checked.iter().collect();
        let wasm_results: Vec<Compared> = stage
            .process(&inputs)
            .into_iter()
            .zip(&checked)
            .map(|(outcome, input)| {
                let event = match outcome {
                    StageOutcome::Unchanged => return Compared::Unchanged,
                    StageOutcome::Dropped => return Compared::Dropped,
                    StageOutcome::Failed(failure) => return Compared::Failed(failure),
                    StageOutcome::Replaced(event) => event,
                    StageOutcome::Extended(added) => {
                        let mut event = input.clone();
                        event.add(added);
                        event
                    }
                };
                match event.into_text() {
                    text if text == input.text() => Compared::Unchanged,
                    text => Compared::Changed(text),
                }
            })
            .collect();
        assert_eq!(native_results, wasm_results);
        changed += wasm_results
            .iter()
            .filter(|r| matches!(r, Compared::Changed(_)))
            .count();
    }
    changed
}

/// One event's result from either build, a changed event as its whole text.
#[derive(Debug, PartialEq)]
enum Compared {
    Unchanged,
    Changed(Vec<u8>),
    Dropped,
    Failed(Failure),
}
