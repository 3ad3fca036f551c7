//! One live filter instance and every call across the host/guest boundary.
//!
//! Nothing the guest returns is trusted: pointers and lengths are checked
//! against its memory, and every failure of a call comes back as a classified
//! [`Failure`] (trap, timeout, out of memory, invalid output) rather than an
//! error the caller has to interpret.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmstash_sdk::plumbing::wire::{self, ResultKind};
use wasmtime::{Memory, ResourceLimiter, Store, Trap, TypedFunc, WasmParams, WasmResults};

use super::imports::StoreState;
use super::limits::InstanceLimits;
use super::module::{FilterModule, LoadError};
use super::outcome::{Failure, FailureKind, StageOutcome};
use super::printable::printable;
use super::tripwire::{self, Tripwire};
use crate::event_check::CheckedEvent;

/// Longest error message kept from `wasmstash_init` or `wasmstash_restore`
/// (an invalid config, say); the rest is cut, so that a filter cannot put
/// a message as large as its memory into the host's log and answers.
const MAX_MESSAGE: usize = 4096;

/// A message the guest returned, made printable. A longer one than
/// [`MAX_MESSAGE`] keeps its start and its end, and says that it was cut
/// between them: a message names what failed first and why last (a grok
/// pattern, then the position it breaks at), and both must survive. The
/// cut is made after escaping, which can make text several times longer,
/// and only as much of a long message is escaped as could be kept.
fn message_text(bytes: &[u8]) -> String {
    let text = |bytes: &[u8]| printable(&String::from_utf8_lossy(bytes));
    // The start of the escaped `head` and the end of the escaped `tail`.
    let cut = |head: &str, tail: &str| {
        let head = &head[..head.floor_char_boundary(MAX_MESSAGE * 3 / 4)];
        let tail = &tail[tail.ceil_char_boundary(tail.len().saturating_sub(MAX_MESSAGE / 4))..];
        format!("{head} … (cut from {} bytes) … {tail}", bytes.len())
    };
    if bytes.len() <= MAX_MESSAGE {
        let whole = text(bytes);
        return if whole.len() <= MAX_MESSAGE {
            whole
        } else {
            cut(&whole, &whole)
        };
    }
    let head_end = char_start_at_or_before(bytes, MAX_MESSAGE);
    let tail_start = char_start_at_or_before(bytes, bytes.len() - MAX_MESSAGE);
    cut(&text(&bytes[..head_end]), &text(&bytes[tail_start..]))
}

/// The start of the UTF-8 character at `index` (or `index` itself when the
/// bytes are not UTF-8 there), so that a cut never splits a character.
fn char_start_at_or_before(bytes: &[u8], index: usize) -> usize {
    let is_continuation = |i: usize| bytes[i] & 0b1100_0000 == 0b1000_0000;
    let mut start = index;
    while start > 0 && index - start < 3 && is_continuation(start) {
        start -= 1;
    }
    if is_continuation(start) { index } else { start }
}

/// A live instance of a filter module, reused across calls.
pub struct FilterInstance {
    store: Store<StoreState>,
    memory: Memory,
    alloc: TypedFunc<u32, u32>,
    free: TypedFunc<(u32, u32), ()>,
    process: TypedFunc<(u32, u32), u64>,
    snapshot: Option<TypedFunc<(), u64>>,
    restore: Option<TypedFunc<(u32, u32), u64>>,
    /// The input buffer in guest memory (pointer, capacity), reused across calls.
    input: Option<(u32, u32)>,
    /// Keeps each call's deadline; `None` when deadlines are off.
    tripwire: Option<Arc<Tripwire>>,
    /// The deadline of a call that saves or restores state
    /// (`engine.state_call_timeout_ms`).
    state_call_timeout: std::time::Duration,
    /// Largest event a result may make (`engine.max_event_mib`).
    max_event_bytes: usize,
    /// Batches handed to `process`.
    batches_served: u64,
}

impl FilterInstance {
    /// Instantiates `module`, checks its ABI version and exports, and runs
    /// its `init` with the module's config.
    pub(crate) fn new(module: &FilterModule) -> Result<FilterInstance, LoadError> {
        let engine = module.engine();
        let mut store = Store::new(engine.wasmtime(), StoreState::new(module));
        store.limiter(|state| &mut state.limits as &mut dyn ResourceLimiter);
        let (instance, tripwire) = tripwire::instantiate(
            engine.watchdog(),
            module.linker(),
            &mut store,
            module.wasmtime_module(),
            |state, tripwire| state.tripwire = Some(tripwire),
        )
        .map_err(|e| {
            let timeout = engine.settings().call_timeout;
            let limits = &mut store.data_mut().limits;
            let table = limits.table_exceeded.take();
            if let Some(why) = super::limits::host_cannot_reserve(&e, module.wasmtime_module()) {
                return LoadError::module(format!("cannot instantiate: {why}"));
            }
            LoadError::module(match failure_of(&e, limits, timeout) {
                // The outermost context says which step (the start
                // function), when there is one; a bare trap is the reason.
                // A memory past the limit: wasmtime's words for the refused
                // grow only repeat the reason's, without the limit.
                Some(failure)
                    if failure.kind == FailureKind::OutOfMemory || e.chain().count() == 1 =>
                {
                    format!("cannot instantiate: {}", failure.reason)
                }
                Some(failure) => format!("cannot instantiate: {e}: {}", failure.reason),
                None => match table {
                    Some(why) => format!("cannot instantiate: {e:#}: {why}"),
                    None => format!("cannot instantiate: {e:#}"),
                },
            })
        })?;

        let version: TypedFunc<(), u32> = typed(&instance, &mut store, "wasmstash_abi_version")?;
        let found = tripwire::guarded(tripwire.as_deref(), || version.call(&mut store, ()))
            .map_err(|e| {
                let timeout = engine.settings().call_timeout;
                let reason = failure_of(&e, &mut store.data_mut().limits, timeout)
                    .map_or_else(|| e.root_cause().to_string(), |failure| failure.reason);
                LoadError::module(format!("wasmstash_abi_version failed: {reason}"))
            })?;
        if let Some(mismatch) = super::module::version_mismatch(found) {
            return Err(LoadError::module(mismatch));
        }
        let memory = instance.get_memory(&mut store, "memory").ok_or_else(|| {
            match module.wasmtime_module().get_export("memory") {
                Some(_) => LoadError::module("module's export `memory` is not a memory"),
                None => LoadError::module("module does not export its memory as `memory`"),
            }
        })?;
        let snapshot = optional_typed(&instance, &mut store, "wasmstash_snapshot")?;
        let restore = optional_typed(&instance, &mut store, "wasmstash_restore")?;
        let mut filter = FilterInstance {
            alloc: typed(&instance, &mut store, "wasmstash_alloc")?,
            free: typed(&instance, &mut store, "wasmstash_free")?,
            process: typed(&instance, &mut store, module.process_export())?,
            snapshot,
            restore,
            memory,
            store,
            input: None,
            max_event_bytes: engine.settings().max_event_bytes,
            state_call_timeout: engine.settings().state_call_timeout,
            tripwire,
            batches_served: 0,
        };
        let init: TypedFunc<(u32, u32), u64> =
            typed(&instance, &mut filter.store, "wasmstash_init")?;
        // Everything before init is the module's doing; from here on it
        // is the config's too, so the error says which (LoadErrorKind).
        filter
            .call_with_bytes(init, module.config_json(), Deadline::Call)
            .map_err(|failure| LoadError::init(format!("init failed: {}", init_advice(failure))))?
            .map_err(|message| LoadError::init(format!("invalid config: {message}")))?;
        Ok(filter)
    }

    /// Runs `process` on an encoded batch of `events` and decodes the
    /// results, checking each changed event against its input.
    pub fn process(
        &mut self,
        batch: &[u8],
        events: &[&CheckedEvent],
    ) -> Result<Vec<StageOutcome>, Failure> {
        let max_event_bytes = self.max_event_bytes;
        // Counted as it starts: an instance whose call fails is thrown away.
        self.batches_served += 1;
        let results = self.results(batch, events.len())?;
        Ok(results
            .into_iter()
            .zip(events)
            .map(|((kind, payload), input)| {
                StageOutcome::from_wire(kind, payload, input, max_event_bytes)
            })
            .collect())
    }

    /// Runs `process` on a batch again only for its effect on the filter's
    /// state; the results were taken when it first ran.
    pub fn rerun(&mut self, batch: &[u8]) -> Result<(), Failure> {
        self.results(batch, wire::batch_len(batch)).map(drop)
    }

    /// Runs `process` on an encoded batch of `expected` events: the results,
    /// still in the filter's memory.
    fn results(
        &mut self,
        batch: &[u8],
        expected: usize,
    ) -> Result<Vec<(ResultKind, &[u8])>, Failure> {
        let (ptr, len) = self.write_input(batch)?;
        // The buffer's `alloc` (and `free`) run per call, not per event, and
        // again in a replay: what they count is not counted.
        self.take_counters();
        let packed = self.call(&self.process.clone(), (ptr, len))?;
        let output = self.guest_bytes(packed)?;
        wire::decode_results(output, expected).map_err(|e| {
            Failure::new(
                FailureKind::InvalidOutput,
                format!("malformed results: {e}"),
            )
        })
    }

    /// The filter's state, or `None` when the module keeps none.
    pub fn snapshot(&mut self) -> Result<Option<Vec<u8>>, Failure> {
        let Some(snapshot) = self.snapshot.clone() else {
            return Ok(None);
        };
        let packed = self.call_under(&snapshot, (), Deadline::State)?;
        // Taken per checkpoint and per save, not per event: not counted.
        self.take_counters();
        let state = self.guest_bytes(packed)?;
        Ok((!state.is_empty()).then(|| state.to_vec()))
    }

    /// Hands state from an earlier [`FilterInstance::snapshot`] back to the
    /// filter: `Ok(Err)` when it refuses the state (the instance is sound),
    /// `Err` when the call failed (the instance is not).
    pub fn restore(&mut self, state: &[u8]) -> Result<Result<(), String>, Failure> {
        let Some(restore) = self.restore.clone() else {
            return Ok(Err("module has no wasmstash_restore export".into()));
        };
        let restored = self.call_with_bytes(restore, state, Deadline::State);
        // Per instance, not per event, as `init` is: not counted.
        self.take_counters();
        restored
    }

    /// Whether `process` has run here before: a failure on such an
    /// instance may come from what earlier calls left in it.
    pub fn has_served(&self) -> bool {
        self.batches_served > 0
    }

    /// Bytes of linear memory the instance holds.
    pub fn memory_bytes(&self) -> usize {
        self.memory.data_size(&self.store)
    }

    /// Counters the filter reported through `metric_add` since the last call.
    pub fn take_counters(&mut self) -> BTreeMap<String, i64> {
        std::mem::take(&mut self.store.data_mut().counters)
    }

    /// Copies `bytes` into a fresh guest buffer, calls `func` on it, frees the
    /// buffer, and reads the packed (ptr, len) answer as "empty = ok, else an
    /// error message".
    fn call_with_bytes(
        &mut self,
        func: TypedFunc<(u32, u32), u64>,
        bytes: &[u8],
        deadline: Deadline,
    ) -> Result<Result<(), String>, Failure> {
        let len = guest_len(bytes.len())?;
        let ptr = self.alloc_guest(len)?;
        self.write_guest(ptr, bytes)?;
        let packed = self.call_under(&func, (ptr, len), deadline)?;
        let message = message_text(self.guest_bytes(packed)?);
        self.free_guest(ptr, len)?;
        Ok(if message.is_empty() {
            Ok(())
        } else {
            Err(message)
        })
    }

    /// Puts a batch into the reusable input buffer, growing it when needed.
    fn write_input(&mut self, batch: &[u8]) -> Result<(u32, u32), Failure> {
        let len = guest_len(batch.len())?;
        let ptr = match self.input {
            Some((ptr, capacity)) if capacity >= len => ptr,
            previous => {
                if let Some((ptr, capacity)) = previous {
                    self.input = None;
                    self.free_guest(ptr, capacity)?;
                }
                let capacity = len.max(64 << 10).checked_next_power_of_two().unwrap_or(len);
                let ptr = self.alloc_guest(capacity)?;
                self.input = Some((ptr, capacity));
                ptr
            }
        };
        self.write_guest(ptr, batch)?;
        Ok((ptr, len))
    }

    /// `wasmstash_alloc(len)`, a failure of which says it was that export.
    /// The buffer must lie inside memory, and a null one is refused too: 0
    /// is an allocator's usual "out of memory", and writing there would
    /// overwrite the module's own statics (ABI.md, "Buffers and ownership").
    fn alloc_guest(&mut self, len: u32) -> Result<u32, Failure> {
        let alloc = self.alloc.clone();
        let ptr = (self.call(&alloc, len)).map_err(|f| f.in_export("wasmstash_alloc"))?;
        let size = self.memory.data_size(&self.store) as u64;
        let refused = match len {
            0 => None,
            _ if ptr == 0 => Some("a null pointer, an allocator's usual out of memory".to_string()),
            _ if u64::from(ptr) + u64::from(len) > size => Some(format!(
                "a buffer that does not fit in the module's memory ({size} bytes)"
            )),
            _ => None,
        };
        match refused {
            Some(what) => Err(Failure::new(
                FailureKind::InvalidOutput,
                format!("wasmstash_alloc asked for {len} bytes and returned {ptr}, {what}"),
            )),
            None => Ok(ptr),
        }
    }

    /// `wasmstash_free(ptr, len)`, likewise.
    fn free_guest(&mut self, ptr: u32, len: u32) -> Result<(), Failure> {
        let free = self.free.clone();
        self.call(&free, (ptr, len))
            .map_err(|f| f.in_export("wasmstash_free"))
    }

    /// Copies `bytes` to `ptr`, a buffer [`Self::alloc_guest`] checked, so
    /// that only a host bug could make it fail.
    fn write_guest(&mut self, ptr: u32, bytes: &[u8]) -> Result<(), Failure> {
        (self.memory.write(&mut self.store, ptr as usize, bytes)).map_err(|_| {
            Failure::new(
                FailureKind::InvalidOutput,
                format!(
                    "{} bytes do not fit at {ptr} in the module's memory",
                    bytes.len()
                ),
            )
        })
    }

    /// One call into the guest, under the deadline, its failure classified.
    fn call<P: WasmParams, R: WasmResults>(
        &mut self,
        func: &TypedFunc<P, R>,
        params: P,
    ) -> Result<R, Failure> {
        self.call_under(func, params, Deadline::Call)
    }

    fn call_under<P: WasmParams, R: WasmResults>(
        &mut self,
        func: &TypedFunc<P, R>,
        params: P,
        deadline: Deadline,
    ) -> Result<R, Failure> {
        let state = self.store.data_mut();
        state.last_error_log = None;
        // A grow refused in an earlier call that went on (its module took
        // the -1) says nothing of why this one fails.
        state.limits.memory_exceeded = None;
        state.limits.table_exceeded = None;
        let timeout = self.timeout(deadline);
        let store = &mut self.store;
        let result = tripwire::guarded_for(self.tripwire.as_deref(), timeout, || {
            func.call(store, params)
        });
        result.map_err(|e| self.classify(e, deadline))
    }

    /// The time a call under `deadline` may take; `None` with deadlines off.
    fn timeout(&self, deadline: Deadline) -> Option<std::time::Duration> {
        let tripwire = self.tripwire.as_ref()?;
        Some(match deadline {
            Deadline::Call => tripwire.timeout(),
            Deadline::State => self.state_call_timeout,
        })
    }

    /// The bytes a packed (ptr << 32 | len) return value points at.
    fn guest_bytes(&self, packed: u64) -> Result<&[u8], Failure> {
        let (ptr, len) = ((packed >> 32) as usize, (packed & 0xffff_ffff) as usize);
        self.memory
            .data(&self.store)
            .get(ptr..ptr + len)
            .ok_or_else(|| {
                Failure::new(
                    FailureKind::InvalidOutput,
                    format!("filter returned an out-of-bounds buffer ({len} bytes at {ptr})"),
                )
            })
    }

    fn classify(&mut self, error: wasmtime::Error, deadline: Deadline) -> Failure {
        let timeout = self.timeout(deadline);
        let state = self.store.data_mut();
        let mut failure = failure_of(&error, &mut state.limits, timeout)
            .unwrap_or_else(|| Failure::new(FailureKind::Trap, error.root_cause().to_string()));
        if deadline == Deadline::State
            && failure.kind == FailureKind::Timeout
            && !tripwire::work_ended()
        {
            failure.reason = format!(
                "{} while saving or restoring its state (engine.state_call_timeout_ms)",
                failure.reason
            );
        }
        if let Some(logged) = state.last_error_log.take() {
            failure.reason = format!("{}; the filter logged: {logged}", failure.reason);
        }
        failure
    }
}

/// Which deadline a call runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deadline {
    /// The calls' own (`engine.call_timeout_ms`).
    Call,
    /// A state's save or restore (`engine.state_call_timeout_ms`).
    State,
}

/// The failure `error` stands for when it is a trap or a limit the host
/// set, in an operator's words; `None` for any other error. `timeout` is
/// the deadline in force, whether set by the config or `--call-timeout-ms`.
fn failure_of(
    error: &wasmtime::Error,
    limits: &mut InstanceLimits,
    timeout: Option<std::time::Duration>,
) -> Option<Failure> {
    // A grow refused earlier in the call is what a trap comes of (an
    // allocator aborts), but not a call stopped for time: the filter went
    // on after the refusal, and its kind is what the replay acts on.
    match (limits.memory_exceeded.take(), error.downcast_ref::<Trap>()) {
        (Some(refused), Some(trap @ Trap::Interrupt)) => {
            let mut failure = stopped_by(trap, timeout);
            failure.reason = format!("{}{AFTER_REFUSED_GROW}{refused}", failure.reason);
            Some(failure)
        }
        (Some(refused), _) => Some(Failure::new(FailureKind::OutOfMemory, refused)),
        // A refused table grow is answered -1 too; a module that traps on
        // it is told what the limit was, as for memory.
        (None, trap) => {
            let mut failure = stopped_by(trap?, timeout);
            if let Some(refused) = limits.table_exceeded.take() {
                failure.reason = format!(
                    "{}, after a table grow was refused: {refused}",
                    failure.reason
                );
            }
            Some(failure)
        }
    }
}

/// What a stopped call's reason adds when its memory could not grow first
/// (an allocator may spin on a grow it is refused).
const AFTER_REFUSED_GROW: &str = ", after it was refused memory: ";

/// A trap in a word, as failures name it: `trap: ` and wasmtime's words for
/// it, without their own `wasm trap: ` (which made "trap: wasm trap: ...").
pub(crate) fn trap_text(trap: &Trap) -> String {
    let words = trap.to_string();
    format!(
        "trap: {}",
        words.strip_prefix("wasm trap: ").unwrap_or(&words)
    )
}

/// The failure a trap of a call is.
fn stopped_by(trap: &Trap, timeout: Option<std::time::Duration>) -> Failure {
    match trap {
        // Stopped, or not started, where isolating a failure had used up
        // its budget: no deadline of the call's own was passed.
        Trap::Interrupt if tripwire::work_ended() => Failure::new(
            FailureKind::Timeout,
            "stopped where isolating a failure in its batch used up engine.replay_budget_ms, before its own deadline",
        ),
        Trap::Interrupt => {
            let limit = timeout
                .map(|t| format!(" of {} ms", t.as_millis()))
                .unwrap_or_default();
            Failure::new(
                FailureKind::Timeout,
                format!("filter ran past its deadline{limit} and was stopped"),
            )
        }
        Trap::StackOverflow => Failure::new(
            FailureKind::Trap,
            "trap: call stack exhausted (unbounded recursion?)",
        ),
        trap => Failure::new(FailureKind::Trap, trap_text(trap)),
    }
}

/// A failed init's reason, with the setting that would let this config
/// start where a limit stopped it: at init only the config can have asked
/// for more, so the operator is the one to act.
fn init_advice(failure: Failure) -> String {
    // Moving the config in and out takes the module's allocator a moment
    // whatever the config; one that runs out of time there is at fault.
    let in_allocator = ["wasmstash_alloc", "wasmstash_free"]
        .iter()
        .any(|export| failure.is_in_export(export));
    let refused_memory = failure.reason.contains(AFTER_REFUSED_GROW);
    if failure.kind == FailureKind::Timeout && in_allocator && !refused_memory {
        return format!(
            "{}; the module's allocator did not return, which no config setting changes",
            failure.reason
        );
    }
    let memory = "memory_limit_mib in the config's [engine] (run: --memory-limit-mib)";
    let setting = match failure.kind {
        FailureKind::OutOfMemory => memory,
        FailureKind::Timeout if refused_memory => memory,
        FailureKind::Timeout => "call_timeout_ms in the config's [engine] (run: --call-timeout-ms)",
        _ => return failure.reason,
    };
    format!(
        "{}; if this filter config needs more than that to start, raise {setting}",
        failure.reason
    )
}

fn guest_len(len: usize) -> Result<u32, Failure> {
    u32::try_from(len)
        .map_err(|_| Failure::new(FailureKind::InvalidOutput, "batch larger than 4 GiB"))
}

fn typed<P, R>(
    instance: &wasmtime::Instance,
    store: &mut Store<StoreState>,
    name: &str,
) -> Result<TypedFunc<P, R>, LoadError>
where
    P: wasmtime::WasmParams,
    R: wasmtime::WasmResults,
{
    // Loading checked the exports and their signatures (`export_problems`)
    // before any instance exists, so these only say what wasmtime found.
    let func = (instance.get_func(&mut *store, name))
        .ok_or_else(|| LoadError::module(format!("no function export `{name}`")))?;
    func.typed(&*store)
        .map_err(|e| LoadError::module(format!("export `{name}`: {e}")))
}

fn optional_typed<P, R>(
    instance: &wasmtime::Instance,
    store: &mut Store<StoreState>,
    name: &str,
) -> Result<Option<TypedFunc<P, R>>, LoadError>
where
    P: wasmtime::WasmParams,
    R: wasmtime::WasmResults,
{
    match instance.get_export(&mut *store, name) {
        Some(_) => typed(instance, store, name).map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_MESSAGE, message_text};

    #[test]
    fn a_long_message_keeps_its_start_and_end_whole_characters() {
        // `é` is two bytes: every cut point falls inside one somewhere.
        for pad in 0..2 {
            let text = format!("{}{}why", "x".repeat(pad), "é".repeat(MAX_MESSAGE));
            let cut = message_text(text.as_bytes());
            assert!(cut.starts_with(&format!("{}é", "x".repeat(pad))), "{pad}");
            assert!(cut.ends_with("ééwhy"), "{pad}");
            assert!(!cut.contains('\u{fffd}'), "{pad}: a character was split");
            assert!(cut.contains(" … (cut from "), "{cut}");
            assert!(cut.len() < MAX_MESSAGE + 100);
        }
    }

    #[test]
    fn a_short_message_or_one_not_in_utf8_is_kept_as_it_is() {
        assert_eq!(message_text(b"bad \n config"), "bad \\n config");
        assert_eq!(message_text(b"\n"), "\\n");
        let bytes = vec![0x80u8; MAX_MESSAGE + 10];
        let cut = message_text(&bytes);
        assert!(cut.contains(&format!("(cut from {} bytes)", MAX_MESSAGE + 10)));
    }

    #[test]
    fn a_message_that_escaping_makes_long_keeps_its_end() {
        // 4000 bytes, under the cap, six times that escaped.
        let bytes = [vec![0x1bu8; 3990], b"the reason".to_vec()].concat();
        let cut = message_text(&bytes);
        assert!(
            cut.starts_with("\\u{1b}") && cut.ends_with("the reason"),
            "{cut}"
        );
        assert!(cut.len() < MAX_MESSAGE + 100, "{}", cut.len());
    }
}
