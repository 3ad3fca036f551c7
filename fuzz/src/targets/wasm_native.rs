//! Every built-in filter as the sidecar runs it (its embedded WebAssembly
//! module, in the engine, behind the host's checks) against the same crate
//! built natively, on configs and events no one wrote. The two must agree:
//! both accept the config or both refuse it, and every event gets the same
//! outcome, byte for byte. The builds differ where it matters most here:
//! each has its own SIMD code for scanning JSON text and changing case,
//! and the module is fed keyed batches where the native build scans the
//! keys itself. `host/tests/native_vs_wasm.rs` checks the same on the
//! access log; this target checks it on what the fuzzer makes.
//!
//! Input: as the `filters` target reads it.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use wasmstash::builtins;
use wasmstash::engine::{Engine, EngineSettings, FilterModule, Stage, StageOutcome};
use wasmstash::event_check::CheckedEvent;
use wasmstash_sdk::{Filter, NativeFilter, Outcome};

use super::filters::{WithFilter, read, with_filter};

/// One input, as the fuzz target of this name gets it.
pub fn run(data: &[u8]) {
    if let Some((which, config, events)) = read(data) {
        with_filter(
            which,
            Compare {
                config,
                events: &events,
            },
        );
    }
}

struct Compare<'a> {
    config: &'a [u8],
    events: &'a [CheckedEvent],
}

impl WithFilter for Compare<'_> {
    fn with<F: Filter>(self, name: &'static str) {
        let native = NativeFilter::<F>::new(self.config);
        let module = module(name, self.config);
        let (mut native, module) = match (native, module) {
            (Ok(native), Ok(module)) => (native, module),
            (Err(native), Err(wasm)) => {
                // The module's message is cut at 4 KiB; a shorter one is
                // the native one, behind the host's words for an init error.
                if native.len() < 2048 && !native.chars().any(char::is_control) {
                    assert!(wasm.contains(&native), "native {native:?}, wasm {wasm:?}");
                }
                return;
            }
            (native, wasm) => panic!(
                "one build refuses the config: native {:?}, wasm {:?}",
                native.err(),
                wasm.err()
            ),
        };
        // Answers that read the clock may straddle a millisecond between
        // the two builds; a real difference survives a retry.
        for attempt in 0.. {
            let native_outcomes = native_outcomes(&mut native, self.events);
            let wasm_outcomes = wasm_outcomes(&module, self.events);
            if native_outcomes == wasm_outcomes {
                return;
            }
            assert!(
                attempt < 3,
                "{name}: native and WebAssembly differ:\n native {native_outcomes:?}\n wasm   {wasm_outcomes:?}"
            );
            native = NativeFilter::<F>::new(self.config).expect("accepted before");
        }
    }
}

fn native_outcomes<F: Filter>(
    filter: &mut NativeFilter<F>,
    events: &[CheckedEvent],
) -> Vec<Outcome> {
    let texts: Vec<&[u8]> = events.iter().map(CheckedEvent::text).collect();
    filter.process_events(&texts)
}

/// The module's outcomes, in the native build's terms: a kept event is its
/// whole text, whether the module replaced it or extended it.
fn wasm_outcomes(module: &FilterModule, events: &[CheckedEvent]) -> Vec<Outcome> {
    let mut stage = Stage::new(module.clone());
    let inputs: Vec<&CheckedEvent> = events.iter().collect();
    let outcomes = stage.process(&inputs);
    outcomes
        .into_iter()
        .zip(events)
        .map(|(outcome, input)| match outcome {
            StageOutcome::Unchanged => Outcome::Kept(input.text().to_vec()),
            StageOutcome::Dropped => Outcome::Dropped,
            StageOutcome::Failed(failure) => Outcome::Failed(failure.reason),
            StageOutcome::Replaced(event) => Outcome::Kept(event.into_text()),
            StageOutcome::Extended(added) => {
                let mut event = input.clone();
                event.add(added);
                Outcome::Kept(event.into_text())
            }
        })
        .collect()
}

/// Loaded modules by filter and config: loading one checks and hashes the
/// module's bytes and instantiates it, so a config the fuzzer keeps while
/// it changes the events is loaded once.
type Loaded = HashMap<(&'static str, Vec<u8>), Result<FilterModule, String>>;

fn module(name: &'static str, config: &[u8]) -> Result<FilterModule, String> {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    static LOADED: Mutex<Option<Loaded>> = Mutex::new(None);
    let engine = ENGINE.get_or_init(|| {
        Engine::new(EngineSettings {
            // No deadline: a slow event must not count as a difference.
            call_timeout: None,
            // Compiled once per run, then read back from here.
            cache_dir: Some(std::env::temp_dir().join("wasmstash-fuzz-module-cache")),
            compile_timeout: Duration::from_secs(600),
            ..EngineSettings::default()
        })
        .expect("an engine")
    });
    let mut loaded = LOADED.lock().unwrap_or_else(|e| e.into_inner());
    let loaded = loaded.get_or_insert_with(HashMap::new);
    if loaded.len() > 256 {
        loaded.clear();
    }
    let key = (name, config.to_vec());
    loaded
        .entry(key)
        .or_insert_with(|| {
            let wasm = builtins::find(name).expect("a built-in").wasm;
            FilterModule::load(engine, name, wasm, config).map_err(|e| e.to_string())
        })
        .clone()
}
