//! A stage's instance, made, and when it replaces a lost one, brought to
//! where that one stood. A stateful filter is checkpointed (a snapshot of
//! its state) and its batches since are logged; a replacement restores the
//! checkpoint and re-runs the log. Each step that fails leaves the stage in
//! a state its next replacement agrees with, and so does the live
//! instance: neither has batches the other lacks.

use std::time::{Duration, Instant};

use super::Stage;
use crate::engine::instance::FilterInstance;
use crate::engine::outcome::{Failure, FailureKind};
use crate::engine::tripwire;

/// A stateful stage checkpoints early when the batches logged since its last
/// checkpoint exceed this, so the log's memory stays bounded.
const MAX_LOG_BYTES: usize = 64 << 20;

/// Why no new instance was made: a failure being isolated had used up its
/// budget (the log of a stateful filter is kept for the next batch's).
fn not_started() -> Failure {
    Failure::new(
        FailureKind::NoInstance,
        "not started: isolating a failure in this batch had used up engine.replay_budget_ms",
    )
}

impl Stage {
    /// A new instance brought to where the lost one stood: the last
    /// checkpoint restored, then the batches logged since re-run (and that
    /// state handed on to a fresh instance, see below). A step
    /// that fails as a call (a trap, the deadline) leaves that instance's
    /// memory untrustworthy, so it is thrown away and the next one starts
    /// without that step.
    pub(super) fn new_instance(&mut self) -> Result<FilterInstance, Failure> {
        // What it restores and re-runs is what the stage holds: each step
        // that fails drops what the next instance must not have, so the
        // state and the log always say what is left to do.
        loop {
            // Past the budget of a failure being isolated, nothing starts;
            // what a step stopped there left is not lost, but waits for the
            // next batch's new instance.
            if self.out_of_time() {
                return Err(not_started());
            }
            // Not the event's doing, nor a trap of a call: said as its own
            // kind, so that a host short of memory is not read as a filter
            // that crashes.
            let mut instance = self.module.instantiate().map_err(|e| {
                Failure::new(
                    FailureKind::NoInstance,
                    format!("could not start a new instance: {e}"),
                )
            })?;
            let restored = self.state.as_deref().map(|state| instance.restore(state));
            if let Some(Ok(Err(reason)) | Err(Failure { reason, .. })) = restored {
                // A refusal may come halfway through reading the state, so
                // that instance goes too, as one that failed would.
                if !self.out_of_time() {
                    self.lose_checkpoint(&reason);
                }
                continue;
            }
            if !self.log.is_empty()
                && let Err(failure) = self.rerun_log(&mut instance)
            {
                if !self.out_of_time() {
                    self.lose_log(&failure.reason);
                }
                continue; // out of time, that returns: not started
            }
            // Those events were counted when they first ran.
            instance.take_counters();
            if self.log.is_empty() || self.snapshot_failed {
                return Ok(instance);
            }
            // What the re-runs left in memory besides the state (a leak,
            // say) is left behind: the state goes through a snapshot, which
            // becomes the checkpoint, into the next instance this loop
            // makes. Else a filter that leaks on every call would fill each
            // replacement with the log's leaks again, and fail every event
            // until the next checkpoint. A snapshot that fails leaves that
            // instance untrusted: it is built again, as it was.
            match instance.snapshot() {
                Ok(state) => {
                    self.state = state;
                    self.clear_log();
                }
                Err(_) => self.snapshot_failed = true,
            }
        }
    }

    /// A new instance refused the checkpoint, or its restore failed: it
    /// goes on from `init`, and so must any that replaces it. The batches
    /// logged since ran on top of that state: re-run on `init`'s alone,
    /// they would make a state the filter never had.
    fn lose_checkpoint(&mut self, reason: &str) {
        self.state = None;
        self.forget_log();
        // Rationed: a filter whose restore always fails would otherwise
        // write a line for every event it replays. Apart from the warnings
        // about failed calls, which a filter failing often spends, so that
        // these still show.
        if self.module.may_report_lost_state() {
            tracing::error!(
                filter = self.module.name(),
                "restoring state into a new instance failed: {reason}; it goes on from init, without the state or the batches since"
            );
        }
    }

    /// Re-running the log failed: the next instance, and any that replaces
    /// it, goes on from the checkpoint alone.
    fn lose_log(&mut self, reason: &str) {
        self.forget_log();
        if self.module.may_report_lost_state() {
            tracing::error!(
                filter = self.module.name(),
                "re-running a logged batch failed ({reason}); state since the checkpoint is lost"
            );
        }
    }

    /// Re-runs the batches logged since the checkpoint on `instance`,
    /// within the budget of the work under way, shared with its replay: a
    /// filter slow on every batch must not hold the stage for the whole
    /// log, once per replacement instance.
    fn rerun_log(&mut self, instance: &mut FilterInstance) -> Result<(), Failure> {
        let ends = self.budget_end();
        for (done, batch) in self.log.iter().enumerate() {
            if Instant::now() >= ends {
                // While a failure is isolated nothing more runs, and the
                // log is kept for the next batch's new instance.
                if self.isolating {
                    return Err(not_started());
                }
                if self.module.may_report_lost_state() {
                    tracing::error!(
                        filter = self.module.name(),
                        "re-running the batches since the checkpoint ran past engine.replay_budget_ms ({} ms); the state they added is lost",
                        self.module.engine().settings().replay_budget.as_millis()
                    );
                }
                // What replaces this instance re-runs what it did, no more.
                self.log.truncate(done);
                self.log_bytes = self.log.iter().map(Vec::len).sum();
                break;
            }
            instance.rerun(batch)?;
        }
        Ok(())
    }

    /// Takes back a stateful filter's last call, whose result was not
    /// kept: its batch leaves the log and its instance, whose state holds
    /// the event, goes, so that the next one re-runs the log without it.
    pub(super) fn take_back_last_call(&mut self) {
        if let Some(batch) = self.log.pop() {
            self.log_bytes -= batch.len();
        }
        if self.instance.take().is_some() {
            self.recycles += 1;
        }
    }

    pub(super) fn checkpoint_due(&self) -> bool {
        let interval = self.module.engine().settings().checkpoint_interval;
        self.log_bytes >= MAX_LOG_BYTES
            || self
                .checkpointed_at
                .is_none_or(|at| at.elapsed() >= interval)
    }

    /// Remembers the live state for a replacement instance. A checkpoint
    /// that fails keeps the previous one and the log after it, and is tried
    /// again an interval later; but a log that has reached its cap is
    /// dropped, as nothing could ever fold it into a checkpoint, and it
    /// would grow as long as the process runs.
    pub(super) fn checkpoint(&mut self) {
        let taken = match self.instance().map(drop) {
            // A new instance made for it may have folded the log into a
            // checkpoint already.
            Ok(()) if !self.checkpoint_due() => return,
            Ok(()) if self.snapshot_failed => Err(Failure::new(
                FailureKind::NotRun,
                "not tried, as a snapshot failed earlier in this batch",
            )),
            Ok(()) => self.take_snapshot().map(drop),
            Err(failure) => Err(failure),
        };
        let Err(failure) = taken else {
            return;
        };
        if self.log_bytes >= MAX_LOG_BYTES {
            tracing::error!(
                filter = self.module.name(),
                "checkpoint failed ({}) with {} MiB of batches logged since the last one: dropped them; a replacement instance would start from the last checkpoint without them",
                failure.reason,
                self.log_bytes >> 20
            );
            self.clear_log();
        } else {
            tracing::warn!(
                filter = self.module.name(),
                "checkpoint failed, keeping the last one taken, if any, and the batches since: {}",
                failure.reason
            );
            self.checkpointed_at = Some(Instant::now());
        }
    }

    /// The state now covers everything logged.
    fn clear_log(&mut self) {
        self.forget_log();
        self.checkpointed_at = Some(Instant::now());
    }

    /// The batches logged are not in the live instance's state (lost with
    /// the one before it): an instance that replaces it must not have them.
    fn forget_log(&mut self) {
        self.log.clear();
        self.log_bytes = 0;
    }

    /// Drops the live instance (its state can no longer be trusted); the
    /// next call starts a new one from the last checkpoint.
    pub fn discard_instance(&mut self) {
        self.instance = None;
    }

    /// Takes the filter's state and remembers it for replacement instances.
    /// A snapshot that fails as a call throws the instance away, as any
    /// failed call does.
    pub fn snapshot(&mut self) -> Result<Option<Vec<u8>>, Failure> {
        self.begin_work(Duration::ZERO);
        tripwire::work_scope(|| self.take_snapshot())
    }

    /// [`Stage::snapshot`] within the budget of the work under way (a
    /// checkpoint is part of its batch).
    fn take_snapshot(&mut self) -> Result<Option<Vec<u8>>, Failure> {
        let taken = self.instance()?.snapshot();
        let state = taken.inspect_err(|_| {
            self.discard_instance();
            self.snapshot_failed = true;
        })?;
        self.state.clone_from(&state);
        self.clear_log();
        Ok(state)
    }

    /// Restores state into this stage's instance (and any that replace it).
    /// When the filter refuses it, or the call fails, the instance is thrown
    /// away and the next starts from `init` and the state kept before: a
    /// filter may refuse a state halfway through reading it, and the host
    /// says it starts afresh.
    pub fn restore(&mut self, state: Vec<u8>) -> Result<(), String> {
        self.begin_work(Duration::ZERO);
        tripwire::work_scope(|| self.restore_within(state))
    }

    fn restore_within(&mut self, state: Vec<u8>) -> Result<(), String> {
        let instance = self.instance().map_err(|f| f.reason)?;
        match instance.restore(&state) {
            Ok(Ok(())) => {}
            Ok(Err(reason)) | Err(Failure { reason, .. }) => {
                self.discard_instance();
                return Err(reason);
            }
        }
        self.state = Some(state);
        self.clear_log();
        Ok(())
    }
}
