//! The WebAssembly engine: one wasmtime `Engine` shared by every filter, with
//! the limits that keep a misbehaving filter from hurting the host.
//!
//! - `cache`: compiled modules on disk, so a restart does not recompile.
//! - `compile`: compiling on a thread of its own, waited for at most
//!   `engine.compile_timeout_ms`.
//! - `compiler_process`: in the binary, that thread's compilation runs in
//!   a child process, bounded in time and memory.
//! - `module`: loading a filter module and checking it speaks ABI v1.
//! - `instance`: one live instance and the calls across the boundary.
//! - `imports`: the functions a filter may call (log, clock, counters).
//! - `inspect`: what a module is, for `wasmstash inspect`.
//! - `stage`: a filter's place in a pipeline; turns traps, timeouts and bad
//!   output into per-event failures instead of lost batches.
//! - `tripwire`: the per-call deadline.

mod binary;
mod cache;
mod compile;
mod compiler_process;
pub mod counter_names;
mod imports;
mod inspect;
mod instance;
mod limits;
mod log_gate;
mod module;
mod outcome;
mod printable;
pub(crate) use printable::{name as printable_name, printable, printable_within};
mod shape;
mod shared_modules;
mod stage;
mod tripwire;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use binary::crate_directory_hint;
pub(crate) use cache::sha256_hex;
pub use compiler_process::{
    Job as CompilerJob, SUBCOMMAND as COMPILER_SUBCOMMAND, compile_in_child_processes,
    run_child as run_compiler, this_program,
};
pub use inspect::{Inspection, inspect, inspect_file};
pub use instance::FilterInstance;
pub(crate) use module::declares_state;
pub use module::{FilterModule, LoadError, LoadErrorKind};
pub use outcome::{Failure, FailureKind, StageOutcome};
pub use stage::Stage;

/// The limits and knobs of the engine, from the `[engine]` config table.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Longest a single call into a filter may run; `None` turns the deadline
    /// (and the tripwire reads compiled into every loop) off.
    pub call_timeout: Option<Duration>,
    /// Longest a call that saves or restores a stateful filter's state
    /// (`wasmstash_snapshot`, `wasmstash_restore`) may run while deadlines
    /// are on. Its own, as its time follows the state's size, not a
    /// batch's: a templates state of 22 MB took 0.8 s to restore.
    pub state_call_timeout: Duration,
    /// Most linear memory one instance may grow to.
    pub memory_limit_bytes: usize,
    /// Where compiled modules are kept across restarts; `None` keeps them in
    /// memory only.
    pub cache_dir: Option<PathBuf>,
    /// Most bytes of compiled modules kept in `cache_dir`; past it, the
    /// entries used longest ago are deleted.
    pub cache_max_bytes: u64,
    /// How often a stateful filter's state is checkpointed in memory (the
    /// batches in between are logged to re-run after a failure); zero
    /// checkpoints before every batch.
    pub checkpoint_interval: Duration,
    /// Longest a failed batch may spend being replayed one event per call to
    /// isolate the failure; the events not reached by then are passed on
    /// tagged, not run. Without it, a filter that runs past the deadline on
    /// every event would hold a batch for events × `call_timeout`.
    pub replay_budget: Duration,
    /// Largest module file read from disk; a bigger one (or a device with
    /// no end) is refused before it is read whole or compiled.
    pub max_module_bytes: u64,
    /// Largest event a filter's result may make; a bigger one fails that
    /// event (`invalid_output`) before it is copied out.
    pub max_event_bytes: usize,
    /// Longest a load waits for a module to compile; past it the module is
    /// refused, and its compilation killed where it runs in a child process
    /// (see `compile`).
    pub compile_timeout: Duration,
    /// Most address space the child process that compiles a module may
    /// take; past it the module is refused. Unused where compilations run
    /// in this process.
    pub compile_memory_bytes: u64,
    /// What the filters' clock import answers, in nanoseconds since the
    /// Unix epoch, instead of the system clock: a fixed "now" for
    /// repeatable golden tests (`wasmstash test --now`). Not a config key.
    pub fixed_clock: Option<i64>,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            call_timeout: Some(Duration::from_millis(1000)),
            state_call_timeout: Duration::from_secs(10),
            memory_limit_bytes: 64 << 20,
            cache_dir: default_cache_dir(),
            cache_max_bytes: 512 << 20,
            checkpoint_interval: Duration::from_secs(1),
            replay_budget: Duration::from_secs(30),
            max_module_bytes: 16 << 20,
            max_event_bytes: 16 << 20,
            compile_timeout: Duration::from_secs(60),
            compile_memory_bytes: 1 << 30,
            fixed_clock: None,
        }
    }
}

/// What the bounds below count for one call when `call_timeout` is off and
/// calls have no deadline to go by.
const UNBOUNDED_CALL: Duration = Duration::from_secs(30);

impl EngineSettings {
    /// Longest one batch may hold a filter's stage, whatever the filter
    /// does. Until a call fails, each call runs within its own deadline,
    /// and there are at most so many: starting an instance (its start
    /// function, the ABI version, `alloc`, `init`, `free`: five calls) and
    /// the batch's call (the input buffer's `free` and `alloc`, then
    /// `process`: three). A stateful filter's new instance also restores
    /// the checkpoint (`alloc`, the restore, `free`), re-runs the batches
    /// logged since within `replay_budget` (stopping between them: one
    /// more, up to three calls, may start just before its end), then folds
    /// them into a checkpoint in a second instance (a snapshot, an
    /// instance's start, a restore), and should that one refuse the
    /// checkpoint, a third starts from `init`; and the batch may begin with
    /// a checkpoint. Once a snapshot has failed, no other is tried in the
    /// batch, so that those are at most four state calls. From the first failure on, isolating it (instances
    /// restarted, state restored, calls tried again, events replayed) ends
    /// within the same `replay_budget`, which then holds every call
    /// (`Stage`). With no deadline a call's time is unknown: a call and one
    /// more, and for a stateful filter two state calls, are counted as
    /// 30 s each.
    pub fn one_batch(&self, stateful: bool) -> Duration {
        let Some(call) = self.call_timeout else {
            let calls = if stateful { 4 } else { 2 };
            return UNBOUNDED_CALL * calls + self.replay_budget;
        };
        let before_failure = match stateful {
            true => call * 25 + self.state_call_timeout * 4,
            false => call * 8,
        };
        before_failure + self.replay_budget
    }
}

/// `$WASMSTASH_CACHE_DIR`, else `$XDG_CACHE_HOME/wasmstash`, else
/// `~/.cache/wasmstash`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let from_env = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    from_env("WASMSTASH_CACHE_DIR")
        .or_else(|| from_env("XDG_CACHE_HOME").map(|d| d.join("wasmstash")))
        .or_else(|| from_env("HOME").map(|d| d.join(".cache/wasmstash")))
}

/// The shared engine. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    wasmtime: wasmtime::Engine,
    settings: EngineSettings,
    cache: cache::ModuleCache,
    watchdog: Option<tripwire::Watchdog>,
    compilations: compile::Compilations,
    shared_modules: shared_modules::SharedModules,
}

impl Engine {
    pub fn new(settings: EngineSettings) -> anyhow::Result<Engine> {
        let wasmtime = wasmtime::Engine::new(&wasmtime_config())?;
        let watchdog = settings.call_timeout.map(tripwire::Watchdog::start);
        let cache = cache::ModuleCache::new(settings.cache_dir.clone(), settings.cache_max_bytes);
        Ok(Engine {
            inner: Arc::new(EngineInner {
                wasmtime,
                settings,
                cache,
                watchdog,
                compilations: compile::Compilations::default(),
                shared_modules: shared_modules::SharedModules::default(),
            }),
        })
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.inner.settings
    }

    pub(crate) fn wasmtime(&self) -> &wasmtime::Engine {
        &self.inner.wasmtime
    }

    /// Compiles a module (binary, whose SHA-256 is `sha256`), with the
    /// tripwire when deadlines are on, or loads it from the cache; refuses
    /// it if that takes longer than `compile_timeout`.
    /// A module another filter of this engine holds is shared, not
    /// compiled or read again (`shared_modules`).
    pub(crate) fn compile(
        &self,
        wasm: &[u8],
        sha256: &str,
    ) -> Result<shared_modules::Held, LoadError> {
        if let Some(held) = self.inner.shared_modules.find(sha256) {
            return Ok(held);
        }
        let compiled = compile::compile(&self.inner, wasm, sha256)?;
        Ok(self.inner.shared_modules.hold(sha256, compiled))
    }

    /// Keeps the call deadline; `None` when deadlines are off.
    pub(crate) fn watchdog(&self) -> Option<&tripwire::Watchdog> {
        self.inner.watchdog.as_ref()
    }
}

/// The engine's configuration, the same in the process that compiles a
/// module as in the one that runs it (`compiler_process`).
fn wasmtime_config() -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    // Calls between a module's functions stay calls: the deadline's
    // reads are told apart by offsets that repeat from one function to
    // the next (engine/tripwire/rewrite.rs), and inlining one function
    // into another would let Cranelift merge two of them.
    config.compiler_inlining(wasmtime::Inlining::No);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    // ABI v1 is 32-bit; a 64-bit memory would only widen what a module
    // can ask of the limiter.
    config.wasm_memory64(false);
    // Relaxed SIMD may otherwise answer differently on another CPU, and a
    // stateful filter's state moves between hosts (ABI.md, Conventions).
    config.relaxed_simd_deterministic(true);
    if profiling_requested() {
        // perf reads /tmp/perf-<pid>.map to name JIT code, so `perf
        // record` and `perf report` show guest functions by name.
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    config
}

/// `WASMSTASH_PERF_MAP=1` names compiled filter code for Linux `perf`. It
/// is a switch for people tuning a filter, not a setting: it changes nothing
/// but what a profiler can see.
fn profiling_requested() -> bool {
    std::env::var_os("WASMSTASH_PERF_MAP").is_some_and(|v| !v.is_empty() && v != "0")
}
