//! A filter's place in a pipeline: the code that makes sure no event is lost.
//!
//! A batch goes to the filter in one call. If that call traps, times out, runs
//! out of memory or returns something that is not a result list, the instance
//! is thrown away and the batch is replayed one event per call, so only the
//! event that caused the failure is marked failed and every other event is
//! still processed. An event is marked only once it has failed on an instance
//! that had served no call before it: a failure on a used instance may be the
//! doing of what earlier calls left there, so the event is tried again on a
//! fresh one. Each result the filter does return is
//! checked before it replaces an event.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::instance::FilterInstance;
use super::module::FilterModule;
use super::outcome::{Failure, FailureKind, StageOutcome};
use super::tripwire;
use crate::event_check::CheckedEvent;

mod replacement;

/// A filter module with the instance that serves it.
pub struct Stage {
    module: FilterModule,
    instance: Option<FilterInstance>,
    /// State to hand a replacement instance, from the last snapshot taken.
    state: Option<Vec<u8>>,
    batch: Vec<u8>,
    recycles: u64,
    /// Largest linear memory any of this stage's instances held after a
    /// call, kept here because a failed call discards its instance, and with
    /// it the figure, often the largest.
    peak_memory: usize,
    /// A stateful filter's batches since its last checkpoint, encoded: a
    /// replacement instance restores the checkpoint
    /// and re-runs them, so it has seen exactly what the lost one had.
    log: Vec<Vec<u8>>,
    log_bytes: usize,
    checkpointed_at: Option<Instant>,
    /// Counters reported by successful calls since last taken. A failed
    /// call's counters are dropped with the rest of its effects, so replayed
    /// events count once.
    counters: BTreeMap<String, i64>,
    /// When the piece of work under way (a batch, a snapshot, a restore)
    /// must stop re-running logs and replaying events: `replay_budget` from
    /// the first re-run or replay it needed, `None` before that. The re-runs
    /// that bring each replacement instance up to date count against it
    /// with the replay, so that a request is bounded as the drain limit
    /// counts it; a stateless filter's replay gets it whole, as before.
    budget_ends: Option<Instant>,
    /// How long the batch under way waited for this stage, shared by all
    /// of a pipeline's workers when its filter keeps state: taken off its
    /// budget, so that workers taking turns on a failing filter add a call
    /// each to a request's time, not a whole budget each.
    waited: Duration,
    /// Whether a failure of the work under way is being isolated (a batch
    /// replayed, an event tried again): then no call runs past the budget.
    /// The re-runs that bring a new instance up to date count against the
    /// budget too, but stop only between batches, as a clean batch whose
    /// instance is replaced is no failure to isolate.
    isolating: bool,
    /// Whether a snapshot failed in the work under way: no other is tried
    /// in it (a checkpoint, or folding a log into one), as each may take a
    /// whole `state_call_timeout_ms`, and `EngineSettings::one_batch`
    /// counts four state calls before a failure.
    snapshot_failed: bool,
}

/// What an event is failed with when a replay's results so far, with its
/// own, pass the memory one call's results may take.
fn over_replay_bound(memory_limit: usize) -> Failure {
    Failure::new(
        FailureKind::OutOfMemory,
        format!(
            "result not kept: isolating a failure in this batch, one event per call, the events' results passed engine.memory_limit_mib ({} MiB) in all, the most one call's results may take",
            memory_limit >> 20
        ),
    )
}

/// A host refusal of one event's result (see [`StageOutcome::from_wire`]).
fn refused_output(outcome: &StageOutcome) -> Option<&Failure> {
    match outcome {
        StageOutcome::Failed(failure) if failure.kind == FailureKind::InvalidOutput => {
            Some(failure)
        }
        _ => None,
    }
}

/// What an event a replay did not reach in time is failed with.
fn not_replayed(budget: std::time::Duration) -> Failure {
    Failure::new(
        FailureKind::NotRun,
        format!(
            "not run: isolating a failure in this batch, one event per call, ran past engine.replay_budget_ms ({} ms)",
            budget.as_millis()
        ),
    )
}

impl Stage {
    pub fn new(module: FilterModule) -> Stage {
        Stage {
            module,
            instance: None,
            state: None,
            batch: Vec::new(),
            recycles: 0,
            peak_memory: 0,
            log: Vec::new(),
            log_bytes: 0,
            checkpointed_at: None,
            counters: BTreeMap::new(),
            budget_ends: None,
            waited: Duration::ZERO,
            isolating: false,
            snapshot_failed: false,
        }
    }

    /// A new piece of work (a batch, a snapshot, a restore) begins: its
    /// budget, its isolation and its failed snapshot are its own.
    fn begin_work(&mut self, waited: Duration) {
        (self.budget_ends, self.waited) = (None, waited);
        (self.isolating, self.snapshot_failed) = (false, false);
    }

    /// Whether a failure is being isolated and its budget has run out, so
    /// that no call may run.
    fn out_of_time(&self) -> bool {
        self.isolating && self.budget_ends.is_some_and(|ends| Instant::now() >= ends)
    }

    /// Isolating a failure from here on: the budget, started if need be,
    /// ends every call ([`tripwire::end_work_by`]). Each within its own
    /// deadline, the instance starts, state restores and calls tried again
    /// that isolating a failure takes could otherwise add up to minutes,
    /// past what the drain limit counts (`EngineSettings::one_batch`).
    fn isolate(&mut self) {
        let ends = self.budget_end();
        self.isolating = true;
        tripwire::end_work_by(ends);
    }

    /// Whether `failure` is a timeout or a failed start that came as the
    /// isolation's budget ran out, which says nothing of the event.
    fn stopped_by_budget(&self, failure: &Failure) -> bool {
        matches!(failure.kind, FailureKind::Timeout | FailureKind::NoInstance) && self.out_of_time()
    }

    /// `outcome`, unless the budget stopped it ([`Stage::stopped_by_budget`]).
    fn unless_out_of_time(&self, outcome: StageOutcome) -> StageOutcome {
        match outcome {
            StageOutcome::Failed(failure) if self.stopped_by_budget(&failure) => {
                let budget = self.module.engine().settings().replay_budget;
                StageOutcome::Failed(not_replayed(budget))
            }
            other => other,
        }
    }

    /// When the budget of re-runs, retries and replays of the work under
    /// way ends; the first ask starts it.
    fn budget_end(&mut self) -> Instant {
        let budget = self.module.engine().settings().replay_budget;
        *self
            .budget_ends
            .get_or_insert_with(|| Instant::now() + budget.saturating_sub(self.waited))
    }

    pub fn module(&self) -> &FilterModule {
        &self.module
    }

    /// Bytes of linear memory the largest of this stage's instances held,
    /// those thrown away after a failure included.
    pub fn peak_memory_bytes(&self) -> usize {
        self.peak_memory
    }

    /// How many times an instance was thrown away after a failure.
    pub fn recycles(&self) -> u64 {
        self.recycles
    }

    /// Runs the filter over `events`; exactly one outcome per event, in order.
    ///
    /// A stateful filter is checkpointed every `engine.checkpoint_interval_ms`
    /// and its successful batches since are logged. An instance thrown away
    /// mid-batch takes that batch's partial updates with it; its replacement
    /// restores the checkpoint and re-runs the log, so it starts exactly
    /// where the batch started, and every event of a replay that succeeds is
    /// logged in turn: each event that comes out processed counted once.
    pub fn process(&mut self, events: &[&CheckedEvent]) -> Vec<StageOutcome> {
        self.process_after_waiting(events, Duration::ZERO)
    }

    /// [`Stage::process`] for a batch that waited `waited` for this stage
    /// (behind other workers' batches), which its replay budget has spent.
    pub fn process_after_waiting(
        &mut self,
        events: &[&CheckedEvent],
        waited: Duration,
    ) -> Vec<StageOutcome> {
        if events.is_empty() {
            return Vec::new();
        }
        self.begin_work(waited);
        tripwire::work_scope(|| self.process_within(events))
    }

    fn process_within(&mut self, events: &[&CheckedEvent]) -> Vec<StageOutcome> {
        if self.module.is_stateful() && self.checkpoint_due() {
            self.checkpoint();
        }
        if let [event] = events {
            let outcome = self.call_alone(event);
            return vec![self.unless_out_of_time(outcome)];
        }
        match self.call(events) {
            Ok(outcomes) => outcomes,
            Err(failure) => {
                if self.module.may_warn_of_failure() {
                    tracing::warn!(
                        filter = self.module.name(),
                        kind = failure.kind.as_str(),
                        "batch of {} failed ({}); replaying one event at a time to isolate it",
                        events.len(),
                        failure.reason
                    );
                }
                self.replay(events)
            }
        }
    }

    /// Runs one event in a call of its own. A failure on an instance that
    /// had served earlier calls may be their doing (memory they leaked,
    /// state they left), so the event is tried once more on a fresh
    /// instance, and only a failure there is the event's. A timeout is not
    /// tried again: it has already taken a whole deadline, and the drain
    /// and replay limits count one per event.
    fn call_alone(&mut self, event: &CheckedEvent) -> StageOutcome {
        let events = std::slice::from_ref(&event);
        let used = self
            .instance
            .as_ref()
            .is_some_and(FilterInstance::has_served);
        let result = match self.call(events) {
            Err(failure) if used && failure.kind != FailureKind::Timeout => {
                // Trying again is isolating a failure: within the budget.
                self.isolate();
                if self.module.may_warn_of_failure() {
                    tracing::warn!(
                        filter = self.module.name(),
                        kind = failure.kind.as_str(),
                        "a call failed ({}) on an instance that had served earlier ones; trying its event again on a fresh instance",
                        failure.reason
                    );
                }
                match self.call(events) {
                    // No fresh instance within the budget: the failure seen
                    // is all there is to say, with where it was seen.
                    Err(retry) if self.stopped_by_budget(&retry) => Err(Failure {
                        reason: format!(
                            "{}; seen on an instance that had served earlier calls, as trying it again on a fresh one ran past engine.replay_budget_ms",
                            failure.reason
                        ),
                        ..failure
                    }),
                    other => other,
                }
            }
            other => other,
        };
        match result {
            Ok(mut single) => single.pop().expect("one result per event"),
            Err(failure) => StageOutcome::Failed(failure),
        }
    }

    /// Runs `events` one per call after their batch failed, so that only the
    /// events that fail alone are marked; for at most `replay_budget`, past
    /// which the rest are failed unrun.
    ///
    /// A batch's results must fit in the instance's memory, so one call
    /// returns at most `engine.memory_limit_mib` of them. Run one per call,
    /// each event could bring back up to `engine.max_event_mib`, and the
    /// host holds them all until the batch is written: a module that fails
    /// every batch and grows every lone event would take the host's memory
    /// to batch size × 16 MiB. The replay's results are held to the bound
    /// the batch's own call had; an event whose result would pass it fails.
    fn replay(&mut self, events: &[&CheckedEvent]) -> Vec<StageOutcome> {
        let settings = self.module.engine().settings();
        let (budget, memory_limit) = (settings.replay_budget, settings.memory_limit_bytes);
        let mut outcomes = Vec::with_capacity(events.len());
        let (mut not_run, mut not_kept, mut held) = (0, 0, 0);
        // The budget starts (or, for a batch whose stateful filter re-ran
        // its log, goes on) here; a batch whose wait spent all of it runs
        // none of its events.
        self.isolate();
        for event in events {
            outcomes.push(if self.out_of_time() {
                not_run += 1;
                StageOutcome::Failed(not_replayed(budget))
            } else {
                let counters = self.counters.clone();
                let outcome = self.call_alone(event);
                // The event whose call the budget stopped is not run either.
                let stopped =
                    matches!(&outcome, StageOutcome::Failed(f) if self.stopped_by_budget(f));
                not_run += usize::from(stopped);
                let outcome = self.unless_out_of_time(outcome);
                let size = outcome.held_bytes();
                if held + size > memory_limit {
                    not_kept += 1;
                    // What the call counted goes with its result.
                    self.counters = counters;
                    if self.module.is_stateful() {
                        self.take_back_last_call();
                    }
                    StageOutcome::Failed(over_replay_bound(memory_limit))
                } else {
                    held += size;
                    outcome
                }
            });
        }
        if not_kept > 0 && self.module.may_warn_of_failure() {
            tracing::warn!(
                filter = self.module.name(),
                "the results of a failed batch's events, run one per call, passed engine.memory_limit_mib ({} MiB) in all: {not_kept} of {} events passed on tagged, their results not kept",
                memory_limit >> 20,
                events.len()
            );
        }
        if not_run > 0 && self.module.may_warn_of_failure() {
            tracing::warn!(
                filter = self.module.name(),
                "replaying the batch took past engine.replay_budget_ms ({} ms): {not_run} of {} events passed on tagged, not run",
                budget.as_millis(),
                events.len()
            );
        }
        outcomes
    }

    /// One call on the current instance. Any failure discards the instance,
    /// whose memory can no longer be trusted.
    fn call(&mut self, events: &[&CheckedEvent]) -> Result<Vec<StageOutcome>, Failure> {
        let mut batch = std::mem::take(&mut self.batch);
        self.module.encode_batch(events, &mut batch);
        let mut result = self
            .instance()
            .and_then(|instance| instance.process(&batch, events));
        if self.module.is_stateful() {
            // The filter has counted an event whose result the host
            // refuses: the call is failed whole and its instance goes, so
            // that the event fails alone in the replay and no state holds it.
            let refused = (result.as_ref().ok())
                .and_then(|outcomes| outcomes.iter().find_map(refused_output))
                .cloned();
            if let Some(failure) = refused {
                result = Err(failure);
            }
            if result.is_ok() {
                self.log_bytes += batch.len();
                self.log.push(batch.clone());
            }
        }
        self.batch = batch;
        // Linear memory never shrinks, so its size after the call is the
        // most the call used.
        if let Some(instance) = &self.instance {
            self.peak_memory = self.peak_memory.max(instance.memory_bytes());
        }
        match result {
            Ok(outcomes) => {
                if let Some(instance) = &mut self.instance {
                    for (name, delta) in instance.take_counters() {
                        let count = self.counters.entry(name).or_default();
                        *count = count.saturating_add(delta);
                    }
                }
                Ok(outcomes)
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

    /// Makes the stage's instance now, if it has none, rather than at its
    /// first batch: a pipeline whose instances cannot all be held at once
    /// (an address-space limit, each reserving its memory's range) is then
    /// refused before it reads an event, not failing every one.
    pub fn start_instance(&mut self) -> Result<(), Failure> {
        self.instance().map(|_| ())
    }

    fn instance(&mut self) -> Result<&mut FilterInstance, Failure> {
        if self.instance.is_none() {
            self.instance = Some(self.new_instance()?);
        }
        Ok(self.instance.as_mut().expect("set above"))
    }

    /// Counters the filter reported through `metric_add` in successful calls
    /// since the last take.
    pub fn take_counters(&mut self) -> BTreeMap<String, i64> {
        std::mem::take(&mut self.counters)
    }

    /// Bytes of batches logged since the last checkpoint, to re-run on a
    /// replacement instance; bounded by `MAX_LOG_BYTES` and a batch.
    pub fn logged_bytes(&self) -> usize {
        self.log_bytes
    }

    /// The live instance, if any (for metrics such as its memory).
    pub fn live_instance(&mut self) -> Option<&mut FilterInstance> {
        self.instance.as_mut()
    }
}
