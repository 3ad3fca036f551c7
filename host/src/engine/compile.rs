//! Compiling under a time limit (`engine.compile_timeout_ms`).
//!
//! Cranelift's time grows faster than a module's size in ways the bounds
//! on its shape (`shape`) cannot all foresee: one function of 20,000 locals
//! in 200 KB took half a minute, and a module of many such functions would
//! take an hour. Each compilation runs on a thread of its own, and the load
//! waits for it at most the limit; a compilation that runs past it is given
//! up, and the load fails, saying so.
//!
//! In the `wasmstash` binary the thread compiles in a child process
//! (`compiler_process`), which it kills at the limit, so the CPU and memory
//! a compilation takes are bounded too. A program that embeds the library
//! compiles on the thread itself; wasmtime cannot stop that, so a
//! compilation given up there runs on to its end in the background.
//! Either way its result is neither cached nor handed out, so a module over
//! the limit is refused every time, and a load of the same module while it
//! still runs (by any engine of the process: a reload builds a new one) is
//! refused at once instead of starting another.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Condvar, LazyLock, Mutex};
use std::time::{Duration, Instant};

use wasmtime::Module;

use super::EngineInner;
use super::cache::Compiled;
use super::compiler_process::{self, ChildFailure};
use super::module::LoadError;

/// The compilations running now, by module SHA-256, so that one module is
/// compiled once at a time.
#[derive(Default)]
pub(super) struct Compilations {
    running: Mutex<HashMap<String, Arc<Pending>>>,
}

/// Compilations given up and still running in this process, by module
/// SHA-256: how many of each.
static GIVEN_UP: LazyLock<Mutex<HashMap<String, usize>>> = LazyLock::new(Mutex::default);

/// Modules whose compilation in a child was killed at its deadline, by
/// SHA-256, with the longest `engine.compile_timeout_ms` each ran past. A
/// later load within that limit that finds no compiled module in the cache
/// is refused at once, with the same verdict, rather than compiling for as
/// long again; a larger limit tries again, and a success forgets it.
static TIMED_OUT: LazyLock<Mutex<HashMap<String, Duration>>> = LazyLock::new(Mutex::default);

/// One compilation, as its waiters see it.
struct Pending {
    /// When it is given up if not done: its start plus the limit, for
    /// every waiter alike.
    deadline: Instant,
    state: Mutex<State>,
    finished: Condvar,
}

#[derive(Default)]
enum State {
    #[default]
    Running,
    /// Ran past the limit; nobody waits for it any more.
    GivenUp,
    /// Compiled, or refused with the whole message.
    Done(Result<Compiled, String>),
}

/// Compiles `wasm` (whose SHA-256 is `sha256`) through the engine's cache on
/// a thread of its own, waiting for it at most `engine.compile_timeout`.
pub(super) fn compile(
    engine: &Arc<EngineInner>,
    wasm: &[u8],
    sha256: &str,
) -> Result<Compiled, LoadError> {
    let timeout = engine.settings.compile_timeout;
    // Only a compilation in this process runs on once given up; a child is
    // killed at its deadline (`build`), and a module that took that long is
    // refused there at once (`TIMED_OUT`), after the cache is asked.
    if compiler_process::compiler().is_none() && crate::locked(&GIVEN_UP).contains_key(sha256) {
        return Err(still_running(timeout));
    }
    let (pending, started) = {
        let mut running = crate::locked(&engine.compilations.running);
        match running.get(sha256) {
            Some(pending) => (pending.clone(), false),
            None => {
                let pending = Arc::new(Pending {
                    deadline: Instant::now() + timeout,
                    state: Mutex::default(),
                    finished: Condvar::new(),
                });
                running.insert(sha256.to_owned(), pending.clone());
                (pending, true)
            }
        }
    };
    if started {
        let spawned = start(engine.clone(), pending.clone(), wasm.to_vec(), sha256);
        if let Err(e) = spawned {
            crate::locked(&engine.compilations.running).remove(sha256);
            return Err(LoadError::module(format!(
                "cannot start compiling the module: {e}"
            )));
        }
    }
    let mut state = crate::locked(&pending.state);
    // Whether this load waited for the compilation: loads that waited for
    // the same one are told the same, whichever of them woke first to give
    // it up; a load that came once it was given up is told of an earlier one.
    let mut waited = false;
    loop {
        match &*state {
            State::Done(Ok(compiled)) => return Ok(compiled.clone()),
            State::Done(Err(message)) => return Err(LoadError::module(message.clone())),
            State::GivenUp if waited => return Err(LoadError::module(took_too_long(timeout))),
            State::GivenUp => return Err(LoadError::module(took_too_long_earlier(timeout))),
            State::Running => {}
        }
        let left = pending.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            *state = State::GivenUp;
            *crate::locked(&GIVEN_UP)
                .entry(sha256.to_owned())
                .or_default() += 1;
            return Err(LoadError::module(took_too_long(timeout)));
        }
        state = (pending.finished.wait_timeout(state, left))
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .0;
        waited = true;
    }
}

fn took_too_long(timeout: Duration) -> String {
    format!(
        "compiling the module took longer than {} ms (engine.compile_timeout_ms), so it was \
         given up: a filter this costly to compile is refused",
        timeout.as_millis()
    )
}

fn took_too_long_earlier(timeout: Duration) -> String {
    format!(
        "an earlier compilation of this module took longer than {} ms \
         (engine.compile_timeout_ms) and was given up: a filter this costly to compile is refused",
        timeout.as_millis()
    )
}

fn still_running(timeout: Duration) -> LoadError {
    LoadError::module(format!(
        "an earlier compilation of this module ran past engine.compile_timeout_ms ({} ms) and \
         is still running; a filter this costly to compile is refused",
        timeout.as_millis()
    ))
}

/// Starts the thread that compiles `wasm` and hands the result to `pending`.
fn start(
    engine: Arc<EngineInner>,
    pending: Arc<Pending>,
    wasm: Vec<u8>,
    sha256: &str,
) -> std::io::Result<()> {
    let sha256 = sha256.to_owned();
    std::thread::Builder::new()
        .name("wasmstash-compile".into())
        .spawn(move || {
            let tripwire = engine.watchdog.is_some();
            let compiled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let deadline = pending.deadline;
                (engine.cache).compile(&engine.wasmtime, &sha256, tripwire, deadline, || {
                    build(&engine, &wasm, &sha256, tripwire, deadline)
                })
            }))
            .unwrap_or_else(|_| Err("the compiler panicked".into()));
            // Out of the running set before its waiters are told: a load
            // that comes after them starts afresh, and finds the cache or
            // the timed-out record, rather than taking this compilation's
            // verdict as if it had waited for it.
            crate::locked(&engine.compilations.running).remove(&sha256);
            let mut state = crate::locked(&pending.state);
            match *state {
                State::Running => *state = State::Done(compiled),
                State::GivenUp => {
                    let mut given_up = crate::locked(&GIVEN_UP);
                    if let Some(count) = given_up.get_mut(&sha256) {
                        *count -= 1;
                        if *count == 0 {
                            given_up.remove(&sha256);
                        }
                    }
                }
                State::Done(_) => {}
            }
            drop(state);
            pending.finished.notify_all();
        })
        .map(drop)
}

/// Compiles `wasm`, with the deadline's tripwire if asked: in a child
/// process when this is the `wasmstash` binary, else here. An error is the
/// whole message for the operator.
fn build(
    engine: &EngineInner,
    wasm: &[u8],
    sha256: &str,
    tripwire: bool,
    deadline: Instant,
) -> Result<Module, String> {
    let in_process = || {
        let wasm = prepare(&engine.wasmtime, wasm, tripwire)?;
        Module::new(&engine.wasmtime, &wasm).map_err(invalid)
    };
    let Some(program) = compiler_process::compiler() else {
        return in_process();
    };
    let timeout = engine.settings.compile_timeout;
    if crate::locked(&TIMED_OUT)
        .get(sha256)
        .is_some_and(|&ran_past| ran_past >= timeout)
    {
        return Err(took_too_long_earlier(timeout));
    }
    let memory = engine.settings.compile_memory_bytes;
    let artifact = match compiler_process::compile(program, wasm, tripwire, memory, deadline) {
        Ok(artifact) => {
            crate::locked(&TIMED_OUT).remove(sha256);
            artifact
        }
        Err(ChildFailure::CannotStart(why)) => {
            // Where exec is refused (a seccomp or AppArmor profile), a
            // filter still loads; only its compilation is less bounded.
            tracing::warn!(
                "{why}; compiling in this process instead, where only the wait for it is bounded"
            );
            return in_process();
        }
        Err(
            ChildFailure::Refused(message)
            | ChildFailure::OutOfMemory(message)
            | ChildFailure::OutOfCpu(message)
            | ChildFailure::Broke(message),
        ) => return Err(message),
        // Before the waiters are told, so that a load after them is
        // refused at once whichever of them saw the deadline first.
        Err(ChildFailure::Killed) => {
            let mut timed_out = crate::locked(&TIMED_OUT);
            let ran_past = timed_out.entry(sha256.to_owned()).or_default();
            *ran_past = (*ran_past).max(timeout);
            return Err(took_too_long(timeout));
        }
    };
    // SAFETY: the artifact is what `Engine::precompile_module` wrote for
    // this module in a child running this very executable (`/proc/self/exe`,
    // which names it even if its file is replaced), with the same engine
    // configuration (`wasmtime_config`) and tripwire rewrite: the child's
    // answer opened with this build's mark. wasmtime still checks the
    // artifact's header and refuses one from another version or
    // configuration.
    unsafe { Module::deserialize(&engine.wasmtime, &artifact) }.map_err(|e| {
        format!("the compiler process wrote an artifact this engine cannot load: {e:#}")
    })
}

/// `wasm` as it is compiled: with the deadline's tripwire if asked. An
/// error is the whole message for the operator.
pub(super) fn prepare<'a>(
    engine: &wasmtime::Engine,
    wasm: &'a [u8],
    tripwire: bool,
) -> Result<Cow<'a, [u8]>, String> {
    if !tripwire {
        // Compiling validates it.
        return Ok(Cow::Borrowed(wasm));
    }
    // Validated as it came: the rewrite adds a memory, and code that is
    // invalid only for naming that memory's index would pass afterwards.
    Module::validate(engine, wasm).map_err(invalid)?;
    // Its refusals are limits of the deadline's, worded as such.
    Ok(Cow::Owned(super::tripwire::instrument(wasm)?))
}

/// Why wasmtime refused to validate or compile a module.
pub(super) fn invalid(error: wasmtime::Error) -> String {
    format!("not a valid WebAssembly module: {error:#}")
}
