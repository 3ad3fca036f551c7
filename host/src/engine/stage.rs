//! A filter's place in a pipeline: the code that makes sure no event is lost.
//!
//! A batch goes to the filter in one call. If that call traps, times out, runs
//! out of memory or returns something that is not a result list, the instance
//! is thrown away and the batch is replayed one event per call on fresh
//! instances, so only the event that caused the failure is marked failed and
//! every other event is still processed. Each result the filter does return is
//! checked before it replaces an event.

use std::collections::BTreeMap;

use wasmstash_sdk::wire::{self, ResultKind};

use super::instance::FilterInstance;
use super::module::FilterModule;
use crate::event_check::check_event;

/// What went wrong for one event, as recorded on the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureKind {
    /// The filter trapped (a panic, an out-of-bounds access, a stack overflow).
    Trap,
    /// The call ran past `engine.call_timeout_ms`.
    Timeout,
    /// The instance hit `engine.memory_limit_mib`.
    OutOfMemory,
    /// The filter's output was not a result list, or not a JSON object.
    InvalidOutput,
    /// The filter itself reported an error for this event.
    FilterError,
}

impl FailureKind {
    /// The Logstash-style tag an affected event carries.
    pub fn tag(self) -> &'static str {
        match self {
            FailureKind::Timeout => "_wasmfilter_timeout",
            _ => "_wasmfilter_failure",
        }
    }

    /// The name recorded under `[wasmstash][failures][n][kind]`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Trap => "trap",
            FailureKind::Timeout => "timeout",
            FailureKind::OutOfMemory => "out_of_memory",
            FailureKind::InvalidOutput => "invalid_output",
            FailureKind::FilterError => "filter_error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub reason: String,
}

impl Failure {
    pub fn new(kind: FailureKind, reason: impl Into<String>) -> Self {
        Failure {
            kind,
            reason: reason.into(),
        }
    }
}

/// What one stage did with one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageOutcome {
    Unchanged,
    Replaced(Vec<u8>),
    Dropped,
    Failed(Failure),
}

impl StageOutcome {
    /// The outcome a decoded ABI result stands for (payload not yet validated).
    pub fn from_wire(kind: ResultKind, payload: &[u8]) -> StageOutcome {
        match kind {
            ResultKind::Unchanged => StageOutcome::Unchanged,
            ResultKind::Replaced => StageOutcome::Replaced(payload.to_vec()),
            ResultKind::Dropped => StageOutcome::Dropped,
            ResultKind::Failed => StageOutcome::Failed(Failure::new(
                FailureKind::FilterError,
                String::from_utf8_lossy(payload).into_owned(),
            )),
        }
    }
}

/// A filter module with the instance that serves it.
pub struct Stage {
    module: FilterModule,
    instance: Option<FilterInstance>,
    /// State to hand a replacement instance, from the last snapshot taken.
    state: Option<Vec<u8>>,
    batch: Vec<u8>,
    recycles: u64,
    /// Counters reported by successful calls since last taken. A failed
    /// call's counters are dropped with the rest of its effects, so replayed
    /// events count once.
    counters: BTreeMap<String, i64>,
}

impl Stage {
    pub fn new(module: FilterModule) -> Stage {
        Stage {
            module,
            instance: None,
            state: None,
            batch: Vec::new(),
            recycles: 0,
            counters: BTreeMap::new(),
        }
    }

    pub fn module(&self) -> &FilterModule {
        &self.module
    }

    /// How many times an instance was thrown away after a failure.
    pub fn recycles(&self) -> u64 {
        self.recycles
    }

    /// Runs the filter over `events`; exactly one outcome per event, in order.
    ///
    /// A stateful filter is checkpointed first, and again after each event
    /// that succeeds during a replay: an instance thrown away mid-batch takes
    /// that batch's partial updates with it, and its replacement starts from
    /// the state just before the event it is given, so every event that
    /// comes out processed was counted exactly once.
    pub fn process(&mut self, events: &[&[u8]]) -> Vec<StageOutcome> {
        if events.is_empty() {
            return Vec::new();
        }
        let stateful = self.module.is_stateful();
        if stateful {
            self.checkpoint();
        }
        match self.call(events) {
            Ok(outcomes) => outcomes,
            Err(failure) if events.len() == 1 => vec![StageOutcome::Failed(failure)],
            Err(failure) => {
                tracing::warn!(
                    filter = self.module.name(),
                    kind = failure.kind.as_str(),
                    "batch of {} failed ({}); replaying one event at a time to isolate it",
                    events.len(),
                    failure.reason
                );
                events
                    .iter()
                    .map(|event| match self.call(std::slice::from_ref(event)) {
                        Ok(mut single) => {
                            if stateful {
                                self.checkpoint();
                            }
                            single.pop().expect("one result per event")
                        }
                        Err(failure) => StageOutcome::Failed(failure),
                    })
                    .collect()
            }
        }
    }

    /// One call on the current instance. Any failure discards the instance,
    /// whose memory can no longer be trusted.
    fn call(&mut self, events: &[&[u8]]) -> Result<Vec<StageOutcome>, Failure> {
        let mut batch = std::mem::take(&mut self.batch);
        wire::encode_batch(events.iter().copied(), &mut batch);
        let result = self
            .instance()
            .and_then(|instance| instance.process(&batch, events.len()));
        self.batch = batch;
        match result {
            Ok(outcomes) => {
                if let Some(instance) = &mut self.instance {
                    for (name, delta) in instance.take_counters() {
                        *self.counters.entry(name).or_default() += delta;
                    }
                }
                Ok(outcomes.into_iter().map(validate).collect())
            }
            Err(failure) => {
                // Count only instances thrown away, not a replacement that
                // could not be started.
                if self.instance.take().is_some() {
                    self.recycles += 1;
                }
                Err(failure)
            }
        }
    }

    fn instance(&mut self) -> Result<&mut FilterInstance, Failure> {
        if self.instance.is_none() {
            let mut instance = self.module.instantiate().map_err(|e| {
                Failure::new(
                    FailureKind::Trap,
                    format!("could not start a new instance: {e}"),
                )
            })?;
            if let Some(state) = &self.state
                && let Err(e) = instance.restore(state)
            {
                tracing::error!(
                    filter = self.module.name(),
                    "restoring state into a new instance failed: {e}"
                );
            }
            self.instance = Some(instance);
        }
        Ok(self.instance.as_mut().expect("set above"))
    }

    /// Remembers the live state for a replacement instance. A checkpoint
    /// that fails keeps the previous one: older, but never double-counted.
    fn checkpoint(&mut self) {
        if let Err(failure) = self.snapshot() {
            tracing::warn!(
                filter = self.module.name(),
                "checkpoint failed, keeping the previous one: {}",
                failure.reason
            );
        }
    }

    /// Drops the live instance (its state can no longer be trusted); the
    /// next call starts a new one from the last checkpoint.
    pub fn discard_instance(&mut self) {
        self.instance = None;
    }

    /// Takes the filter's state and remembers it for replacement instances.
    pub fn snapshot(&mut self) -> Result<Option<Vec<u8>>, Failure> {
        let state = self.instance()?.snapshot()?;
        self.state.clone_from(&state);
        Ok(state)
    }

    /// Restores state into this stage's instance (and any that replace it).
    pub fn restore(&mut self, state: Vec<u8>) -> Result<(), String> {
        let instance = self.instance().map_err(|f| f.reason)?;
        instance.restore(&state)?;
        self.state = Some(state);
        Ok(())
    }

    /// Counters the filter reported through `metric_add` in successful calls
    /// since the last take.
    pub fn take_counters(&mut self) -> BTreeMap<String, i64> {
        std::mem::take(&mut self.counters)
    }

    /// The live instance, if any (for metrics such as its memory).
    pub fn live_instance(&mut self) -> Option<&mut FilterInstance> {
        self.instance.as_mut()
    }
}

/// A replaced event must still be one JSON object without duplicate keys.
fn validate(outcome: StageOutcome) -> StageOutcome {
    match outcome {
        StageOutcome::Replaced(event) => match check_event(&event) {
            Ok(()) => StageOutcome::Replaced(event),
            Err(e) => StageOutcome::Failed(Failure::new(
                FailureKind::InvalidOutput,
                format!("filter returned an invalid event: {e}"),
            )),
        },
        other => other,
    }
}
