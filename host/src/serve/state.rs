//! Stateful filters' snapshots: carried from the old set to the new one on a
//! reload, written to the state directory on shutdown, read back on start.
//!
//! Files are `<state_dir>/<pipeline>/worker-<n>/<stage>-<filter>.state`,
//! written to a temporary name and renamed, so a crash mid-write leaves the
//! previous snapshot intact. A snapshot is matched to a filter by pipeline,
//! worker, position and name; the bytes are the filter's own format, which
//! ABI v1 asks filters to version.

use std::path::{Path, PathBuf};

use crate::pipeline::Pipeline;

pub struct Snapshot {
    pub worker: usize,
    pub stage: usize,
    pub filter: String,
    pub state: Vec<u8>,
}

/// Snapshots every stage of every worker that has state.
pub fn take(workers: &mut [Pipeline]) -> Vec<Snapshot> {
    let mut snapshots = Vec::new();
    for (worker, pipeline) in workers.iter_mut().enumerate() {
        for (stage_index, stage) in pipeline.stages_mut().iter_mut().enumerate() {
            match stage.snapshot() {
                Ok(Some(state)) => snapshots.push(Snapshot {
                    worker,
                    stage: stage_index,
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
    }
    snapshots
}

/// Restores each snapshot into the matching stage, if there is one.
pub fn give(workers: &mut [Pipeline], snapshots: Vec<Snapshot>) -> usize {
    let mut restored = 0;
    for snapshot in snapshots {
        let stage = workers
            .get_mut(snapshot.worker)
            .and_then(|pipeline| pipeline.stages_mut().get_mut(snapshot.stage))
            .filter(|stage| stage.module().name() == snapshot.filter);
        let Some(stage) = stage else { continue };
        match stage.restore(snapshot.state) {
            Ok(()) => restored += 1,
            Err(e) => tracing::error!(filter = %snapshot.filter, "restoring state failed: {e}"),
        }
    }
    restored
}

fn file_of(
    dir: &Path,
    pipeline: &str,
    snapshot_worker: usize,
    stage: usize,
    filter: &str,
) -> PathBuf {
    dir.join(pipeline)
        .join(format!("worker-{snapshot_worker}"))
        .join(format!("{stage}-{filter}.state"))
}

pub fn save(dir: &Path, pipeline: &str, snapshots: &[Snapshot]) -> std::io::Result<()> {
    for snapshot in snapshots {
        let path = file_of(
            dir,
            pipeline,
            snapshot.worker,
            snapshot.stage,
            &snapshot.filter,
        );
        std::fs::create_dir_all(path.parent().expect("state files live in a directory"))?;
        let temporary = path.with_extension("tmp");
        std::fs::write(&temporary, &snapshot.state)?;
        std::fs::rename(&temporary, &path)?;
    }
    Ok(())
}

/// Reads the snapshots saved for `pipeline` with these filters and workers.
pub fn load(dir: &Path, pipeline: &str, filters: &[String], workers: usize) -> Vec<Snapshot> {
    let mut snapshots = Vec::new();
    for worker in 0..workers {
        for (stage, filter) in filters.iter().enumerate() {
            let path = file_of(dir, pipeline, worker, stage, filter);
            match std::fs::read(&path) {
                Ok(state) => snapshots.push(Snapshot {
                    worker,
                    stage,
                    filter: filter.clone(),
                    state,
                }),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => tracing::error!(path = %path.display(), "cannot read saved state: {e}"),
            }
        }
    }
    snapshots
}
