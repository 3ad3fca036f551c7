//! A module refused for memory when compiled on several threads is tried
//! once more on one (`compiler_process::compile`): threads side by side
//! reach a peak that one thread never does, so the retry loads a module
//! that fits; and the retry gets only the CPU time the first try spent,
//! and a second, so a module that is slow as well as large keeps its
//! memory refusal rather than taking the whole compile timeout. Both are
//! CPU time, so neither verdict depends on how busy the machine is.
//!
//! The numbers below hold for this build's Cranelift, in debug and release
//! builds: a function of 100,000 constants summed takes about 100 MiB
//! while it compiles, and about half a second of CPU. Two such functions
//! fit under [`CAP_MIB`] one after the other (measured: from 176 MiB in a
//! release build, 208 in a debug one), not side by side (refused up to 272
//! and 320).

mod support;

use std::time::Duration;

use support::*;
use wasmstash::engine::{Engine, EngineSettings};

/// Values summed by each of the module's large functions.
const VALUES: usize = 100_000;

/// The compiler's address-space cap: above one large function's peak on
/// one thread, below two side by side.
const CAP_MIB: u64 = 240;

/// An engine that compiles in children of the built binary, under
/// [`CAP_MIB`], waiting long enough that the compile timeout never ends a
/// try here.
fn engine() -> Engine {
    wasmstash::engine::compile_in_child_processes(env!("CARGO_BIN_EXE_wasmstash").into());
    Engine::new(EngineSettings {
        cache_dir: None,
        compile_memory_bytes: CAP_MIB << 20,
        compile_timeout: Duration::from_secs(600),
        ..Default::default()
    })
    .unwrap()
}

/// A filter with `functions` more functions, each summing [`VALUES`]
/// constants: what Cranelift keeps per value is what makes the peak.
fn with_large_functions(functions: usize) -> String {
    let sum = format!(
        "{}{}",
        "(i64.const 1)".repeat(VALUES),
        "(i64.add)".repeat(VALUES - 1)
    );
    let large: String = (0..functions)
        .map(|i| format!("(func $large{i} (result i64) {sum})\n"))
        .collect();
    let process = format!("{ALL_UNCHANGED} {RETURN_OUTPUT_AT_2048}");
    with_function(&wat_filter(&process), &large)
}

/// `wat` as a binary. Text is read in a child of its own under the same
/// cap, where these modules' text would not fit: these tests are about
/// compiling.
fn as_binary(wat: &str) -> Vec<u8> {
    wat::parse_str(wat).unwrap()
}

/// Whether compilations here run on more than one thread: on one, there
/// is no first try on several to be refused, and nothing to retry.
fn several_threads() -> bool {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    if threads < 2 {
        eprintln!("one CPU: compilations run on one thread, and there is no retry to test");
    }
    threads >= 2
}

/// Both tests compile several large functions at once; side by side they
/// would each see the other's threads as load.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Two large functions: compiled side by side they pass the cap, and the
/// first try is refused; one after the other they fit, within a second
/// more than the first try's CPU time (it stopped partway through both),
/// so the retry loads the module, which then runs.
#[test]
fn a_module_that_fits_on_one_thread_loads_after_the_retry() {
    let _alone = one_at_a_time();
    if !several_threads() {
        return;
    }
    let wasm = as_binary(&with_large_functions(2));
    let module = load(&engine(), "large", &wasm, "{}");
    let results = as_json(pipeline(module).process(message_events(&["kept"])));
    assert_eq!(results[0]["message"], "kept", "{results:?}");
}

/// Twelve large functions: the first try is refused as soon as two
/// are compiled side by side, and compiling them all on one thread takes
/// seconds more CPU time than that try spent, so the retry is stopped and
/// the memory refusal stands (without the bound it ran on, to load the
/// module long after or to reach the compile timeout).
#[test]
fn a_retry_past_the_first_tries_cpu_time_keeps_the_memory_refusal() {
    let _alone = one_at_a_time();
    if !several_threads() {
        return;
    }
    let wasm = as_binary(&with_large_functions(12));
    let error = load_error_on(&engine(), &wasm, "{}");
    assert!(
        error.contains(&format!(
            "compiling the module needed more than the {CAP_MIB} MiB of address space that \
             engine.compile_memory_mib allows, so it was refused"
        )),
        "{error}"
    );
}
