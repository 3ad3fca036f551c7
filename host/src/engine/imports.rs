//! The `wasmstash` imports of ABI v1 (log, clock, counters), and the
//! per-instance state they reach. They are all a filter can call: no WASI,
//! so no files, sockets or environment. Those that read guest memory
//! (`log`, `metric_add`) read it only within bounds, and stop a call whose
//! deadline has passed; the clock reads none.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::{Caller, Extern, Linker};

use super::counter_names::MAX_COUNTER_NAMES;
use super::limits::InstanceLimits;
use super::log_gate::LogGate;
use super::module::FilterModule;
use super::printable::printable_within;
use super::tripwire::Tripwire;

/// Longest guest log line kept; the rest is cut.
const MAX_LOG_LINE: usize = 4096;

/// Per-instance host state, reachable from host imports.
pub(crate) struct StoreState {
    filter: Arc<str>,
    pub(super) limits: InstanceLimits,
    pub(super) last_error_log: Option<String>,
    pub(super) counters: BTreeMap<String, i64>,
    /// Whether a name was refused for want of room (said once).
    counters_full: bool,
    /// The filter's ration of log lines, which outlives this instance.
    log_gate: Arc<LogGate>,
    /// `EngineSettings::fixed_clock`.
    fixed_clock: Option<i64>,
    /// The instance's deadline, once instantiated with deadlines on.
    pub(super) tripwire: Option<Arc<Tripwire>>,
}

impl StoreState {
    pub(super) fn new(module: &FilterModule) -> StoreState {
        let settings = module.engine().settings();
        StoreState::with_log_gate(module.name(), settings, module.log_gate())
    }

    /// State for an instance of no loaded filter (asking a module its ABI
    /// version): the log's ration is its own.
    pub(super) fn standalone(filter: &str, settings: &super::EngineSettings) -> StoreState {
        let log_gate = Arc::new(LogGate::new(filter, super::log_gate::FILTER_LINES));
        StoreState::with_log_gate(filter, settings, log_gate)
    }

    fn with_log_gate(
        filter: &str,
        settings: &super::EngineSettings,
        log_gate: Arc<LogGate>,
    ) -> StoreState {
        StoreState {
            // Only the log shows it, as a field whose value the log's
            // formatter quotes and escapes (a `&str` is shown as `Debug`).
            filter: filter.into(),
            limits: InstanceLimits::new(settings.memory_limit_bytes),
            last_error_log: None,
            counters: BTreeMap::new(),
            counters_full: false,
            log_gate,
            fixed_clock: settings.fixed_clock,
            tripwire: None,
        }
    }

    /// Ends the call as a timeout if its deadline has passed: see
    /// [`Tripwire::stop_if_sprung`].
    fn stop_if_late(&self) -> wasmtime::Result<()> {
        self.tripwire
            .as_ref()
            .map_or(Ok(()), |t| t.stop_if_sprung())
    }
}

/// The `wasmstash` imports of ABI v1. Nothing else is linked: no WASI, so no
/// files, sockets, environment or clocks beyond what is here.
pub(crate) fn linker(engine: &wasmtime::Engine) -> Linker<StoreState> {
    let mut linker = Linker::new(engine);
    linker
        .func_wrap(
            "wasmstash",
            "log",
            |mut caller: Caller<'_, StoreState>, level: u32, ptr: u32, len: u32| {
                caller.data().stop_if_late()?;
                // An error line is kept for the failure it may explain; any
                // other the log's level hides costs only the bounds check.
                let shown = shown_at(level);
                if level != 1 && !shown {
                    return guest_bytes_in_bounds(&mut caller, ptr, len);
                }
                let text = read_guest_str(&mut caller, ptr, len)?;
                let state = caller.data_mut();
                if level == 1 {
                    state.last_error_log = Some(text.clone());
                }
                // A line the log's level hides takes nothing from the ration,
                // so debug chatter cannot crowd out the errors after it.
                if !shown || !state.log_gate.admit() {
                    return Ok(());
                }
                let filter = state.filter.clone();
                match level {
                    1 => tracing::error!(target: "filter", filter = &*filter, "{text}"),
                    2 => tracing::warn!(target: "filter", filter = &*filter, "{text}"),
                    3 => tracing::info!(target: "filter", filter = &*filter, "{text}"),
                    _ => tracing::debug!(target: "filter", filter = &*filter, "{text}"),
                }
                Ok(())
            },
        )
        .and_then(|l| {
            l.func_wrap(
                "wasmstash",
                "now_unix_nanos",
                |caller: Caller<'_, StoreState>| {
                    caller.data().fixed_clock.unwrap_or_else(|| {
                        std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map(|d| d.as_nanos() as i64)
                            .unwrap_or(0)
                    })
                },
            )
        })
        .and_then(|l| {
            l.func_wrap(
                "wasmstash",
                "metric_add",
                |mut caller: Caller<'_, StoreState>, ptr: u32, len: u32, delta: i64| {
                    caller.data().stop_if_late()?;
                    let name = read_guest_str(&mut caller, ptr, len)?;
                    let state = caller.data_mut();
                    // Bounded per call; the keepers of counters bound them
                    // per filter over time (`counter_names`).
                    if state.counters.len() < MAX_COUNTER_NAMES
                        || state.counters.contains_key(&name)
                    {
                        let count = state.counters.entry(name).or_default();
                        *count = count.saturating_add(delta);
                    } else if !std::mem::replace(&mut state.counters_full, true) {
                        tracing::warn!(
                            target: "filter", filter = &*state.filter,
                            "metric `{name}` not counted: a call counts at most {MAX_COUNTER_NAMES} names"
                        );
                    }
                    Ok(())
                },
            )
        })
        .expect("the wasmstash imports are defined once each");
    linker
}

/// Whether the host's log shows a filter's line of this ABI level.
fn shown_at(level: u32) -> bool {
    match level {
        1 => tracing::enabled!(target: "filter", tracing::Level::ERROR),
        2 => tracing::enabled!(target: "filter", tracing::Level::WARN),
        3 => tracing::enabled!(target: "filter", tracing::Level::INFO),
        _ => tracing::enabled!(target: "filter", tracing::Level::DEBUG),
    }
}

fn read_guest_str(
    caller: &mut Caller<'_, StoreState>,
    ptr: u32,
    len: u32,
) -> wasmtime::Result<String> {
    let text = with_guest_bytes(caller, ptr, len, |bytes| {
        // One byte past the most a line may hold, so that a longer line is
        // cut with the mark that says so.
        let bytes = &bytes[..bytes.len().min(MAX_LOG_LINE + 1)];
        printable_within(&String::from_utf8_lossy(bytes), MAX_LOG_LINE)
    })?;
    Ok(text)
}

/// Traps as [`read_guest_str`] would on a string out of bounds, without
/// reading it.
fn guest_bytes_in_bounds(
    caller: &mut Caller<'_, StoreState>,
    ptr: u32,
    len: u32,
) -> wasmtime::Result<()> {
    with_guest_bytes(caller, ptr, len, |_| ())
}

fn with_guest_bytes<R>(
    caller: &mut Caller<'_, StoreState>,
    ptr: u32,
    len: u32,
    read: impl FnOnce(&[u8]) -> R,
) -> wasmtime::Result<R> {
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else {
        wasmtime::bail!("filter has no exported memory");
    };
    let data = memory.data(&caller);
    let end = (ptr as usize).saturating_add(len as usize);
    let Some(bytes) = data.get(ptr as usize..end) else {
        wasmtime::bail!("filter passed an out-of-bounds string ({len} bytes at {ptr})");
    };
    Ok(read(bytes))
}
