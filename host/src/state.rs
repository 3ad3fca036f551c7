//! Stateful filters' snapshots: carried from the old pipeline set to the new
//! one on a reload, written to the state directory periodically and at
//! shutdown (`serve`) or at the end of a run (`run --state-dir`), and read
//! back on start.
//!
//! A stateful stage is shared by all of a pipeline's workers (see
//! `pipeline::PipelineStage`), so there is one snapshot per stage, not per
//! worker. Files are `<state_dir>/<pipeline>/<stage>-<filter>.state`,
//! written to a temporary name and renamed, so a crash mid-write leaves the
//! previous snapshot intact. A snapshot is matched to a stage by position and
//! filter name; the bytes are the filter's own format, which ABI v1 asks
//! filters to version. Everything here locks stages: call it off the reactor.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::engine::Stage;
use crate::pipeline::lock_stage;

/// A pipeline's stateful stages with their positions in it.
pub type SharedStages = [(usize, Arc<Mutex<Stage>>)];

pub struct Snapshot {
    pub stage: usize,
    pub filter: String,
    pub state: Vec<u8>,
}

/// Snapshots every stateful stage. Each is locked only for its own snapshot,
/// so the pipeline keeps running meanwhile.
pub fn take(stages: &SharedStages) -> Vec<Snapshot> {
    let mut snapshots = Vec::new();
    for (index, stage) in stages {
        let mut stage = lock_stage(stage);
        match stage.snapshot() {
            Ok(Some(state)) => snapshots.push(Snapshot {
                stage: *index,
                filter: stage.module().name().to_owned(),
                state,
            }),
            Ok(None) => {}
            Err(failure) => tracing::error!(
                filter = stage.module().name(),
                "snapshot failed, state not kept: {}",
                failure.reason
            ),
        }
    }
    snapshots
}

/// Restores each snapshot into the matching stage, if there is one.
pub fn give(stages: &SharedStages, snapshots: Vec<Snapshot>) -> usize {
    give_each(stages, snapshots, |_, filter, e| {
        tracing::error!(filter = %filter, "restoring state failed: {e}");
    })
}

/// Restores each snapshot into the matching stage, if there is one, and
/// calls `refused(stage, filter, why)` for each the filter would not take;
/// returns how many were restored.
fn give_each(
    stages: &SharedStages,
    snapshots: Vec<Snapshot>,
    mut refused: impl FnMut(usize, &str, &str),
) -> usize {
    let mut restored = 0;
    for snapshot in snapshots {
        let Some((_, stage)) = stages.iter().find(|(index, _)| *index == snapshot.stage) else {
            continue;
        };
        let mut stage = lock_stage(stage);
        if stage.module().name() != snapshot.filter {
            continue;
        }
        match stage.restore(snapshot.state) {
            Ok(()) => restored += 1,
            Err(e) => refused(snapshot.stage, &snapshot.filter, &e),
        }
    }
    restored
}

fn file_of(dir: &Path, pipeline: &str, stage: usize, filter: &str) -> PathBuf {
    let safe = |name: &str| -> String {
        name.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    dir.join(safe(pipeline))
        .join(format!("{stage}-{}.state", safe(filter)))
}

pub fn save(dir: &Path, pipeline: &str, snapshots: &[Snapshot]) -> std::io::Result<()> {
    for snapshot in snapshots {
        let path = file_of(dir, pipeline, snapshot.stage, &snapshot.filter);
        std::fs::create_dir_all(path.parent().expect("state files live in a directory"))?;
        let temporary = path.with_extension("tmp");
        std::fs::write(&temporary, &snapshot.state)?;
        std::fs::rename(&temporary, &path)?;
    }
    Ok(())
}

/// Reads the snapshots saved for `pipeline`'s stateful stages.
pub fn load(dir: &Path, pipeline: &str, stages: &SharedStages) -> Vec<Snapshot> {
    let mut snapshots = Vec::new();
    for (index, stage) in stages {
        let filter = lock_stage(stage).module().name().to_owned();
        let path = file_of(dir, pipeline, *index, &filter);
        match std::fs::read(&path) {
            Ok(state) => snapshots.push(Snapshot {
                stage: *index,
                filter,
                state,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::error!(path = %path.display(), "cannot read saved state: {e}"),
        }
    }
    snapshots
}

/// Saves `pipeline`'s state, logging a failure; returns the snapshots saved,
/// or `None` if they could not be.
pub fn persist(dir: &Path, pipeline: &str, stages: &SharedStages) -> Option<usize> {
    let snapshots = take(stages);
    match save(dir, pipeline, &snapshots) {
        Ok(()) => Some(snapshots.len()),
        Err(e) => {
            tracing::error!(pipeline, "saving state to {} failed: {e}", dir.display());
            None
        }
    }
}

/// Creates `dir` if needed and checks that files can be written in it, so
/// that a state directory that cannot be used fails the start, not the save
/// after a long run or at shutdown.
pub fn prepare_dir(dir: &Path) -> std::io::Result<()> {
    // Named for this process: a `run` and a `serve` may start on one
    // directory at once, and neither may remove the other's probe.
    let probe = dir.join(format!(".wasmstash-write-check-{}", std::process::id()));
    std::fs::create_dir_all(dir)?;
    std::fs::write(&probe, b"")?;
    match std::fs::remove_file(&probe) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Restores `pipeline`'s saved state, logging how much was restored.
pub fn restore_saved(dir: &Path, pipeline: &str, stages: &SharedStages) -> usize {
    let snapshots = load(dir, pipeline, stages);
    if snapshots.is_empty() {
        return 0;
    }
    let restored = give_each(stages, snapshots, |stage, filter, e| {
        // The next save would write over the refused state (as after an
        // upgrade to a filter that reads another format): keep it aside,
        // named for the time, so that an earlier refused state (an
        // upgrade, then a rollback) is not written over either.
        let path = file_of(dir, pipeline, stage, filter);
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let aside = path.with_extension(format!("state.refused-{seconds}"));
        let kept = match std::fs::rename(&path, &aside) {
            Ok(()) => format!("kept as {}", aside.display()),
            Err(rename) => format!("and could not be kept aside: {rename}"),
        };
        tracing::error!(
            filter = %filter,
            "the filter refused its saved state ({e}); it starts afresh, and the saved state was {kept}"
        );
    });
    tracing::info!(
        pipeline,
        "restored {restored} filter state snapshot(s) from {}",
        dir.display()
    );
    restored
}
