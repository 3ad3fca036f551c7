//! The sidecar's side of `crate::state`: which pipelines' state files this
//! process owns, and restoring, handing over and saving that state.
//!
//! A pipeline with stateful filters is owned from the load that first has
//! it so (at start, from before its modules compile, so that a start
//! refused for its lock has not answered `/healthz` first) to the reload
//! that drops it (or the end), and its
//! `<state_dir>/<pipeline>/.lock` is held all that time: the lock `run
//! --state-dir` takes, so that neither a run nor another sidecar restores
//! the same state and then writes over what this one learned, or the
//! reverse. A pipeline whose lock another process holds is never served:
//! at start that fails the start (exit 2), and on a reload it refuses the
//! reload, the running set serving on. Serving it without saving its state
//! would avoid refusing, but its learning would be lost at every restart
//! and reload with only a log line to say so, and once the other process
//! ended, this one could neither take over the state it saved nor keep its
//! own without throwing one of them away.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::workers::Rejected;
use super::{App, PipelineSet};
use crate::config::{Config, shown_name, shown_names};
use crate::locked;
use crate::metrics::Metrics;
use crate::state::{self, StateLock};

/// `[server] state_dir` and the pipelines whose state this process owns in it.
pub(crate) struct StateDir {
    dir: PathBuf,
    /// What this process is, for the message that refuses another.
    holder: String,
    /// The locks held, by pipeline. A save checks here, under the mutex a
    /// release takes, so that no save writes a pipeline's files after its
    /// lock is let go, not even one of a set that a reload has just replaced.
    held: Mutex<BTreeMap<String, StateLock>>,
    /// Locks taken from the config before its modules were compiled
    /// (`claim_early`), until the first set has them restored and held.
    early: Mutex<BTreeMap<String, StateLock>>,
    /// For `wasmstash_state_saves_failed_total`: a failed periodic save is
    /// otherwise only a log line, and a state that is no longer saved at
    /// all (`not_owner`) is lost at the next restart.
    metrics: Arc<Metrics>,
}

impl StateDir {
    pub fn new(dir: PathBuf, config: &Path, metrics: Arc<Metrics>) -> StateDir {
        let config = std::path::absolute(config).unwrap_or_else(|_| config.to_owned());
        StateDir {
            dir,
            holder: format!(
                "`wasmstash serve --config {}`",
                crate::files::shown(&config)
            ),
            held: Mutex::new(BTreeMap::new()),
            early: Mutex::new(BTreeMap::new()),
            metrics,
        }
    }

    /// Says why `pipeline`'s state was not saved, and counts it; a failed
    /// snapshot has been said already, by `state::take`.
    fn not_saved(&self, pipeline: &str, workers: &super::PipelineWorkers, why: &state::NotSaved) {
        let reason = match why {
            state::NotSaved::Io(e) => {
                tracing::error!(
                    pipeline,
                    "saving state to {} failed: {e}",
                    crate::files::shown(&self.dir)
                );
                io_reason(e)
            }
            state::NotSaved::InCall(positions) => {
                tracing::warn!(
                    pipeline,
                    "state not saved for {}: still in a call when the save's wait ran out; the saved file stays as it was",
                    shown_names(&names_at(workers, positions))
                );
                "in_call"
            }
            state::NotSaved::Snapshots(_) => "snapshot",
        };
        self.count_failed(pipeline, reason);
    }

    fn count_failed(&self, pipeline: &str, reason: &str) {
        self.metrics.add(
            "wasmstash_state_saves_failed_total",
            &[("pipeline", pipeline), ("reason", reason)],
            1,
        );
    }

    /// Claims, before any module is compiled or a port opened, each
    /// pipeline of `config` with a filter that exports a state: a lock
    /// another process holds then fails the start before `/healthz` has
    /// answered, not after the compile. The first set's `claim` keeps
    /// these locks, checked against its compiled stages, and lets go of
    /// any it no longer needs.
    pub fn claim_early(&self, config: &Config) -> Result<(), String> {
        let mut early = locked(&self.early);
        for (name, filters) in &config.pipelines {
            let stateful: Vec<(usize, String)> = (filters.iter().enumerate())
                .filter(|(_, spec)| spec.declares_state(&config.engine))
                .map(|(index, spec)| (index, spec.name.clone()))
                .collect();
            if stateful.is_empty() {
                continue;
            }
            let claimed =
                state::claim_pipeline(&self.dir, name, &stateful, &self.holder).map_err(|e| {
                    format!("[server] state_dir {}: {e}", crate::files::shown(&self.dir))
                })?;
            early.insert(name.clone(), claimed);
        }
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn held(&self) -> MutexGuard<'_, BTreeMap<String, StateLock>> {
        locked(&self.held)
    }

    /// Claims each stateful pipeline of `set` not owned yet and restores its
    /// saved state, before `set` serves. All or none: if one cannot be
    /// claimed, those claimed with it are let go again and the error says
    /// why. Pipelines owned already take their state from the set they run
    /// in (`carry`), which is newer than what is on disk.
    pub async fn claim(self: &Arc<Self>, set: &Arc<PipelineSet>) -> Result<(), String> {
        let (this, set) = (self.clone(), set.clone());
        tokio::task::spawn_blocking(move || this.claim_blocking(&set))
            .await
            .map_err(|e| format!("claiming the pipelines' state panicked: {e}"))?
    }

    fn claim_blocking(&self, set: &PipelineSet) -> Result<(), String> {
        let mut held = self.held();
        // Taken whole: those the set does not need are let go at the end.
        let mut early = std::mem::take(&mut *locked(&self.early));
        let mut claimed = Vec::new();
        for (name, workers) in stateful(set) {
            if held.contains_key(name) {
                continue;
            }
            let stateful = state::stateful_names(workers.shared_stages());
            let lock = match early.remove(name) {
                Some(lock) => lock.recheck(&self.dir, name, &stateful).map(|()| lock),
                None => state::claim_pipeline(&self.dir, name, &stateful, &self.holder),
            }
            .map_err(|e| format!("[server] state_dir {}: {e}", crate::files::shown(&self.dir)))?;
            claimed.push((name, workers, lock));
        }
        for (name, workers, lock) in claimed {
            state::restore_saved(&self.dir, name, workers.shared_stages(), &lock);
            held.insert(name.clone(), lock);
        }
        Ok(())
    }

    /// Saves what `carry` could not hand over, in pipelines this process
    /// owns. The state of filters a reload removed (or renamed) is saved
    /// under their names: a filter given the name again later reads it,
    /// instead of a save up to a snapshot interval old. A state a filter
    /// refused is kept aside, as a restart keeps a refused file, rather
    /// than left to the next save to write over.
    pub async fn keep_not_taken(self: &Arc<Self>, not_taken: NotTaken) {
        let NotTaken {
            left_behind,
            refused,
        } = not_taken;
        if left_behind.is_empty() && refused.is_empty() {
            return;
        }
        let this = self.clone();
        let saved = tokio::task::spawn_blocking(move || {
            let held = this.held();
            for (pipeline, snapshots) in refused {
                let Some(lock) = held.get(&pipeline) else {
                    continue;
                };
                for snapshot in snapshots {
                    let filter = snapshot.filter.clone();
                    match state::keep_refused(&this.dir, &pipeline, snapshot, lock) {
                        Ok(aside) => tracing::error!(
                            pipeline = %pipeline,
                            filter = filter.as_str(),
                            "the filter refused the state the replaced set handed it and starts afresh; that state was kept as {}",
                            crate::files::shown(&aside)
                        ),
                        Err(e) => {
                            tracing::error!(
                                pipeline = %pipeline,
                                filter = filter.as_str(),
                                "the filter refused the state the replaced set handed it, and that state could not be kept: {e}"
                            );
                            this.count_failed(&pipeline, io_reason(&e));
                        }
                    }
                }
            }
            for (pipeline, snapshots) in &left_behind {
                let Some(lock) = held.get(pipeline) else {
                    continue;
                };
                match state::save(&this.dir, pipeline, snapshots, lock) {
                    Ok(()) => tracing::info!(
                        pipeline = %pipeline,
                        "saved the state of the filter(s) the reload left out: {}",
                        (snapshots.iter().map(|s| shown_name(&s.filter)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    Err(e) => {
                        tracing::error!(
                            pipeline = %pipeline,
                            "cannot save the state of the filters the reload left out: {e}"
                        );
                        this.count_failed(pipeline, io_reason(&e));
                    }
                }
            }
        })
        .await;
        if let Err(e) = saved {
            tracing::error!("saving left-out filters' state failed: {e}");
        }
    }

    /// Before `new` serves: restores from disk each stateful filter that
    /// `new` adds to a pipeline this process already owned in `old`, which
    /// no old stage can hand state to (a filter removed by one reload and
    /// given back by the next, say). Its file would otherwise be written
    /// over by its first save.
    pub async fn restore_added(self: &Arc<Self>, old: &Arc<PipelineSet>, new: &Arc<PipelineSet>) {
        let (this, old, new) = (self.clone(), old.clone(), new.clone());
        let restored = tokio::task::spawn_blocking(move || {
            let held = this.held();
            for (name, workers) in stateful(&new) {
                let (Some(lock), Some(old_workers)) = (held.get(name), old.pipelines.get(name))
                else {
                    continue;
                };
                // Not from the old stages, whose locks a call may hold.
                let before: Vec<&str> = old_workers.stateful_names().collect();
                let added: Vec<String> = (state::stateful_names(workers.shared_stages()))
                    .into_iter()
                    .map(|(_, filter)| filter)
                    .filter(|filter| !before.contains(&filter.as_str()))
                    .collect();
                if added.is_empty() {
                    continue;
                }
                let stages = workers.shared_stages();
                if let Err(e) = state::restore_added(&this.dir, name, stages, lock, &added) {
                    tracing::error!(
                        pipeline = %name,
                        "cannot read the saved state of the filters this reload added ({}): {e}",
                        shown_names(&added)
                    );
                }
            }
        })
        .await;
        if let Err(e) = restored {
            tracing::error!("restoring added filters' state failed: {e}");
        }
    }

    /// Lets go of each pipeline owned that `live`, the set now serving, no
    /// longer has with state, once its state in `old`, the set it ran in, is
    /// saved: whoever claims it next starts where this process stopped. A
    /// stage still in a call is waited for up to `wait`.
    pub async fn release_dropped(
        self: &Arc<Self>,
        old: &Arc<PipelineSet>,
        live: &Arc<PipelineSet>,
        wait: Duration,
    ) {
        let (this, old, live) = (self.clone(), old.clone(), live.clone());
        let released = tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + wait;
            let mut held = this.held();
            let dropped: Vec<String> = held
                .keys()
                .filter(|name| {
                    live.pipelines
                        .get(*name)
                        .is_none_or(|workers| workers.shared_stages().is_empty())
                })
                .cloned()
                .collect();
            for name in dropped {
                let mut saved = true;
                if let (Some(workers), Some(lock)) = (old.pipelines.get(&name), held.get(&name))
                    && let Err(not_saved) = state::persist(
                        &this.dir,
                        &name,
                        workers.shared_stages(),
                        lock,
                        Some(deadline),
                    )
                {
                    this.not_saved(&name, workers, &not_saved);
                    saved = false;
                }
                held.remove(&name);
                let how = if saved {
                    "its state is saved to"
                } else {
                    "what could be saved is in"
                };
                tracing::info!(
                    pipeline = %name,
                    "no longer served with state: {how} {}, and released",
                    crate::files::shown(&this.dir)
                );
            }
        })
        .await;
        if let Err(e) = released {
            tracing::error!("releasing the state of dropped pipelines failed: {e}");
        }
    }

    /// Saves the state of each pipeline of `set` this process owns, waiting
    /// up to `wait` for each stage's call; false if any could not be saved
    /// (the reasons are logged).
    pub async fn save(self: &Arc<Self>, set: &Arc<PipelineSet>, wait: Duration) -> bool {
        let (this, set) = (self.clone(), set.clone());
        let saved = tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + wait;
            let held = this.held();
            let mut all_saved = true;
            for (name, workers) in stateful(&set) {
                let Some(lock) = held.get(name) else {
                    continue;
                };
                match state::persist(
                    &this.dir,
                    name,
                    workers.shared_stages(),
                    lock,
                    Some(deadline),
                ) {
                    Ok(0) => {}
                    Ok(count) => tracing::debug!(
                        pipeline = %name,
                        "saved {count} state snapshot(s) to {}",
                        crate::files::shown(&this.dir)
                    ),
                    Err(not_saved) => {
                        this.not_saved(name, workers, &not_saved);
                        all_saved = false;
                    }
                }
            }
            all_saved
        })
        .await;
        saved.unwrap_or_else(|e| {
            tracing::error!("saving filter state failed: {e}");
            false
        })
    }
}

/// The reason label of a save that failed with `error`: `not_owner` when
/// the pipeline's lock no longer guards its directory (`StateLock::guard`,
/// the one source of ResourceBusy on this path), else `write`.
fn io_reason(error: &std::io::Error) -> &'static str {
    match error.kind() {
        std::io::ErrorKind::ResourceBusy => "not_owner",
        _ => "write",
    }
}

/// The names of the filters at `positions` of a pipeline.
fn names_at(workers: &super::PipelineWorkers, positions: &[usize]) -> Vec<String> {
    (positions.iter())
        .map(|&position| workers.modules()[position].name().to_owned())
        .collect()
}

/// Stops `set`'s stateful pipelines taking requests, before their state
/// is saved for the last time: one queued past the drain limit would run
/// after the save and be answered, and what it taught the filters would be
/// lost at the next start. Refused, its client may send it again; a call
/// in progress ends first, since the save waits for it.
pub(crate) fn close_for_the_last_save(set: &PipelineSet) {
    for (_, workers) in stateful(set) {
        workers.retire(Rejected::ShuttingDown);
        workers.refuse_queued(Rejected::ShuttingDown);
    }
}

fn stateful(set: &PipelineSet) -> impl Iterator<Item = (&String, &super::PipelineWorkers)> + Clone {
    set.pipelines
        .iter()
        .map(|(name, workers)| (name, workers.as_ref()))
        .filter(|(_, workers)| !workers.shared_stages().is_empty())
}

/// How long a periodic save waits for a filter's call: it holds off
/// reloads while it runs, and the next save tries again.
const PERIODIC_SAVE_WAIT: Duration = Duration::from_secs(1);

/// Saves the live set's state every `server.snapshot_interval_ms`, so a
/// crash loses at most that much learning.
pub(crate) async fn save_periodically(app: Arc<App>, state: Arc<StateDir>) {
    let mut ticks = tokio::time::interval(app.server.snapshot_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        // Not during a reload's handover, when the live set's state is not
        // yet what it is handed.
        let _no_handover = app.handing_over.lock().await;
        if let Some(set) = app.current() {
            let wait = app.server.stage_wait(&set.engine).min(PERIODIC_SAVE_WAIT);
            state.save(&set, wait).await;
        }
    }
}

/// Pauses each pipeline of `new` that is to be handed the filter state of
/// its namesake in `old`, before `new` is swapped in: it then queues the
/// requests it gets until [`carry`] has given it that state.
pub(crate) fn hold_for_handover(old: &PipelineSet, new: &PipelineSet) {
    for (name, workers) in stateful(new) {
        if old
            .pipelines
            .get(name)
            .is_some_and(|w| !w.shared_stages().is_empty())
        {
            workers.pause();
        }
    }
}

/// Hands each old pipeline's filter state to the new pipeline of the same
/// name, once `new` serves. The old set's stateful pipelines refuse
/// requests from now on, and the handover waits, up to `limit`, for those
/// they queued or are running to finish, so that every event the old set
/// answered has taught the state carried over; then it resumes the
/// pipelines [`hold_for_handover`] paused. Past `limit`, requests still
/// queued are refused, and the calls in progress are waited for one batch
/// more at most under a deadline; without one (a call may then never end),
/// a filter still in a call is not waited for, and its new stage starts
/// from its saved state (`saved`) or afresh. Returns, by pipeline, what the new
/// pipeline did not take, for [`StateDir::keep_not_taken`].
pub(crate) async fn carry(
    old: &Arc<PipelineSet>,
    new: &Arc<PipelineSet>,
    limit: Duration,
    saved: Option<&Arc<StateDir>>,
) -> NotTaken {
    for (_, workers) in stateful(old) {
        workers.retire(Rejected::Replaced);
    }
    let waited_since = Instant::now();
    let busy = super::workers::wait_idle(stateful(old), limit).await;
    if !busy.is_empty() {
        // What queued requests would teach the old filters once their state
        // is taken would be lost, though they were answered: refused, they
        // run on the new set when sent again.
        for (name, workers) in stateful(old) {
            if busy.contains(&name) {
                workers.refuse_queued(Rejected::Replaced);
            }
        }
        let calls = match old.engine.call_timeout {
            Some(_) => "their filters' state is handed over once the calls in progress end",
            None => "a filter still in a call (no deadline, so it may never end) is not waited for",
        };
        tracing::warn!(
            "reload: pipelines {busy:?} of the replaced set were still running requests after {:.1} s (server.drain_timeout_ms): their queued requests are refused (503, not run), and {calls}",
            limit.as_secs_f64()
        );
    }
    // Under a deadline a call ends, so its state is waited for (one batch of
    // a stateful filter at most) past the limit; without one, the limit is
    // the only bound.
    let mut left = limit.saturating_sub(waited_since.elapsed());
    if old.engine.call_timeout.is_some() {
        left = left.max(old.engine.one_batch(true));
    }
    let (old, new, saved) = (old.clone(), new.clone(), saved.cloned());
    let resume = new.clone();
    let carried = tokio::task::spawn_blocking(move || {
        let mut not_taken = NotTaken::default();
        for (name, new_workers) in &new.pipelines {
            let Some(old_workers) = old.pipelines.get(name) else {
                continue;
            };
            let taken = state::take(
                name,
                old_workers.shared_stages(),
                Some(Instant::now() + left),
            );
            if !taken.snapshots.is_empty() {
                let given = state::give(name, new_workers.shared_stages(), taken.snapshots);
                if !given.unmatched.is_empty() {
                    not_taken.left_behind.insert(name.clone(), given.unmatched);
                }
                if !given.refused.is_empty() {
                    not_taken.refused.insert(name.clone(), given.refused);
                }
            }
            if !taken.in_call.is_empty() {
                let in_call = names_at(old_workers, &taken.in_call);
                let why = "were still in a call when the handover's wait ran out";
                start_from_saved(saved.as_deref(), name, new_workers, &in_call, why);
            }
            // A filter whose snapshot failed (logged by `take`) does the
            // same: started afresh, its next save would write over the
            // last good state on disk.
            if !taken.failed.is_empty() {
                let why =
                    "could not be snapshotted, so the state they held since the last save is lost";
                start_from_saved(saved.as_deref(), name, new_workers, &taken.failed, why);
            }
        }
        not_taken
    })
    .await;
    for (_, workers) in stateful(&resume) {
        workers.resume();
    }
    carried.unwrap_or_else(|e| {
        tracing::error!("carrying filter state over failed: {e}");
        NotTaken::default()
    })
}

/// For filters whose old stage gave no state to hand over (`why` says
/// what happened to them): their new stages start from the state saved on
/// disk, as after a restart, or afresh without a state directory.
fn start_from_saved(
    saved: Option<&StateDir>,
    pipeline: &str,
    workers: &super::PipelineWorkers,
    not_handed_over: &[String],
    why: &str,
) {
    // Those the new pipeline no longer has keep their files as last saved.
    let filters: Vec<String> = (not_handed_over.iter())
        .filter(|name| workers.stateful_names().any(|filter| filter == *name))
        .cloned()
        .collect();
    if filters.is_empty() {
        return;
    }
    let restored = saved.and_then(|saved| {
        let held = saved.held();
        let lock = held.get(pipeline)?;
        let stages = workers.shared_stages();
        Some(state::restore_added(
            &saved.dir, pipeline, stages, lock, &filters,
        ))
    });
    let from = match restored {
        Some(Ok(count)) if count == filters.len() => "start from their saved state",
        Some(Ok(_)) => "start from their saved state where one was read, else afresh",
        Some(Err(e)) => {
            tracing::error!(pipeline, "cannot read the saved state: {e}");
            "start afresh"
        }
        None => "start afresh",
    };
    tracing::warn!(
        pipeline,
        "reload: filter(s) {} of the replaced set {why}; they {from}",
        shown_names(&filters)
    );
}

/// The snapshots a reload's new set did not take, by pipeline.
#[derive(Default)]
pub(crate) struct NotTaken {
    /// Of filters the new pipeline no longer has (removed or renamed).
    left_behind: BTreeMap<String, Vec<state::Snapshot>>,
    /// Of filters that refused them (a new build that reads another format).
    refused: BTreeMap<String, Vec<state::Snapshot>>,
}

impl NotTaken {
    /// The filters that refused the state handed to them, as
    /// `pipeline/filter`.
    pub(crate) fn refused_names(&self) -> Vec<String> {
        (self.refused.iter())
            .flat_map(|(pipeline, snapshots)| {
                snapshots
                    .iter()
                    .map(move |s| format!("{pipeline}/{}", s.filter))
            })
            .collect()
    }
}
