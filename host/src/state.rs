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

use std::io::Write;
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
        let stage = (stages.iter())
            .find(|(index, _)| *index == snapshot.stage)
            .map(|(_, stage)| lock_stage(stage))
            .filter(|stage| stage.module().name() == snapshot.filter);
        let Some(mut stage) = stage else {
            // A reload that moved or removed the filter: its state stays
            // with its position, so say what is left behind.
            tracing::warn!(
                filter = %snapshot.filter,
                "the new pipeline has no `{}` at stage {}: its state is not carried over",
                snapshot.filter,
                snapshot.stage
            );
            continue;
        };
        match stage.restore(snapshot.state) {
            Ok(()) => restored += 1,
            Err(e) => refused(snapshot.stage, &snapshot.filter, &e),
        }
    }
    restored
}

fn pipeline_dir(dir: &Path, pipeline: &str) -> PathBuf {
    dir.join(safe_name(pipeline))
}

fn file_of(dir: &Path, pipeline: &str, stage: usize, filter: &str) -> PathBuf {
    pipeline_dir(dir, pipeline).join(format!("{stage}-{}.state", safe_name(filter)))
}

fn safe_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

pub fn save(dir: &Path, pipeline: &str, snapshots: &[Snapshot]) -> std::io::Result<()> {
    for snapshot in snapshots {
        let path = file_of(dir, pipeline, snapshot.stage, &snapshot.filter);
        write_replacing(&path, &snapshot.state).map_err(|e| naming(&path, e))?;
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file of this save's own
/// (two saves of the same pipeline at once, in two processes or in one,
/// must not write into one temporary and rename the other's half-written
/// bytes into place), synced before the rename, so that a crash leaves
/// either the old state or the new one, never an empty or partial file.
fn write_replacing(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    make_dir(path.parent().expect("state files live in a directory"))?;
    static SAVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let save = SAVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let temporary = path.with_extension(format!("tmp-{}-{save}", std::process::id()));
    let written = std::fs::File::create(&temporary).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    let renamed = written.and_then(|()| std::fs::rename(&temporary, path));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    renamed
}

/// `error` with the path it happened on, which the OS's message leaves out.
fn naming(path: &Path, error: std::io::Error) -> std::io::Error {
    std::io::Error::new(error.kind(), format!("{}: {error}", path.display()))
}

/// The largest snapshot file read: the most memory a filter instance may
/// have (`memory_limit_mib` = 4096), as a bigger one could never be
/// restored into it.
const MAX_STATE_BYTES: u64 = 4096 << 20;

/// Reads the snapshots saved for `pipeline`'s stateful stages.
pub fn load(dir: &Path, pipeline: &str, stages: &SharedStages) -> Vec<Snapshot> {
    let mut snapshots = Vec::new();
    for (index, stage) in stages {
        let filter = lock_stage(stage).module().name().to_owned();
        let path = file_of(dir, pipeline, *index, &filter);
        // Only a regular file, and under a cap: a FIFO or a device left
        // where a snapshot was expected would block the start or fill
        // memory.
        match crate::files::read_capped(&path, MAX_STATE_BYTES, "saved state") {
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
    make_dir(dir)?;
    probe_writes(dir)
}

/// `create_dir_all`, which on a file answers only "File exists", as if all
/// were well.
fn make_dir(dir: &Path) -> std::io::Result<()> {
    if std::fs::metadata(dir).is_ok_and(|meta| !meta.is_dir()) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "it exists and is not a directory",
        ));
    }
    std::fs::create_dir_all(dir)
}

fn probe_writes(dir: &Path) -> std::io::Result<()> {
    // Named for this process: a `run` and a `serve` may start on one
    // directory at once, and neither may remove the other's probe.
    let probe = dir.join(format!(".wasmstash-write-check-{}", std::process::id()));
    std::fs::write(&probe, b"")?;
    match std::fs::remove_file(&probe) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Held while a process owns a pipeline's state files; released when
/// dropped or when the process ends, however it ends.
pub struct StateLock {
    _file: std::fs::File,
}

/// Everything a process (`run`, or `serve` for each of its pipelines) needs
/// of `pipeline`'s state files before it restores them: its directory
/// writable, each saved snapshot a readable regular file (one that could not
/// be read would be written over at the next save, the state it held lost),
/// and no other process using them. Two processes that both restored the
/// same state and saved their own would keep only the last one's, without a
/// word; the second is refused instead. `holder` says what this process is
/// (as "`wasmstash run`"), for the message that refuses the next one. Errors
/// name the path.
pub fn claim_pipeline(
    dir: &Path,
    pipeline: &str,
    stages: &SharedStages,
    holder: &str,
) -> std::io::Result<StateLock> {
    let pipeline_dir = pipeline_dir(dir, pipeline);
    make_dir(&pipeline_dir).map_err(|e| naming(&pipeline_dir, e))?;
    probe_writes(&pipeline_dir).map_err(|e| naming(&pipeline_dir, e))?;
    let lock_path = pipeline_dir.join(".lock");
    let mut lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&lock_path)
        .map_err(|e| naming(&lock_path, e))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ResourceBusy,
                format!(
                    "the state of pipeline `{pipeline}` is in use by another {} (it holds {}); \
                     wait for it to end, or give each its own state directory",
                    holder_of(&mut lock),
                    lock_path.display()
                ),
            ));
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(naming(&lock_path, e)),
    }
    // Only for the message above: the lock is the flock, whatever the file
    // says, so a description that cannot be written costs nothing else.
    let _ = lock.set_len(0).and_then(|()| {
        writeln!(lock, "{holder} (pid {})", std::process::id())?;
        lock.flush()
    });
    for (index, stage) in stages {
        let filter = lock_stage(stage).module().name().to_owned();
        let path = file_of(dir, pipeline, *index, &filter);
        match std::fs::metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(naming(&path, e)),
            Ok(meta) if !meta.is_file() => {
                return Err(naming(
                    &path,
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "a saved state must be a regular file",
                    ),
                ));
            }
            Ok(_) => drop(std::fs::File::open(&path).map_err(|e| naming(&path, e))?),
        }
    }
    Ok(StateLock { _file: lock })
}

/// What the process holding `lock` wrote of itself, or "process" if it has
/// not written it yet (it is between taking the lock and writing) or wrote
/// something unreadable.
fn holder_of(lock: &mut std::fs::File) -> String {
    use std::io::Read;
    let mut text = Vec::new();
    let _ = lock.take(512).read_to_end(&mut text);
    let text = String::from_utf8_lossy(&text);
    let line = text.lines().next().unwrap_or("").trim();
    if line.is_empty() || line.chars().any(char::is_control) {
        "process".to_owned()
    } else {
        line.to_owned()
    }
}

/// Moves a refused snapshot out of the way of the next save, under a name
/// no other refused snapshot has: named for the time, and numbered if one
/// was refused in the same second (a service restarted in a loop), so that
/// none is written over. Returns the new name.
fn keep_aside(path: &Path) -> std::io::Result<PathBuf> {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    for attempt in 0..1000 {
        let suffix = match attempt {
            0 => format!("state.refused-{seconds}"),
            n => format!("state.refused-{seconds}-{n}"),
        };
        let aside = path.with_extension(suffix);
        // A link, unlike a rename, fails rather than replace a file
        // already there, even one another process has just made.
        match std::fs::hard_link(path, &aside) {
            Ok(()) => {
                std::fs::remove_file(path)?;
                return Ok(aside);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            // A file system without hard links: a rename to a name that was
            // free a moment ago.
            Err(_) if std::fs::symlink_metadata(&aside).is_err() => {
                std::fs::rename(path, &aside)?;
                return Ok(aside);
            }
            Err(_) => continue,
        }
    }
    Err(std::io::Error::other(
        "a thousand refused snapshots already have this second's name",
    ))
}

/// Restores `pipeline`'s saved state, logging how much was restored.
pub fn restore_saved(dir: &Path, pipeline: &str, stages: &SharedStages) -> usize {
    let snapshots = load(dir, pipeline, stages);
    if snapshots.is_empty() {
        return 0;
    }
    let restored = give_each(stages, snapshots, |stage, filter, e| {
        // The next save would write over the refused state (as after an
        // upgrade to a filter that reads another format): keep it aside.
        let kept = match keep_aside(&file_of(dir, pipeline, stage, filter)) {
            Ok(aside) => format!("kept as {}", aside.display()),
            Err(e) => format!("and could not be kept aside: {e}"),
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
