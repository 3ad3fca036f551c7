//! Stateful filters' snapshots: carried from the old pipeline set to the new
//! one on a reload, written to the state directory periodically and at
//! shutdown (`serve`) or at the end of a run (`run --state-dir`), and read
//! back on start.
//!
//! A stateful stage is shared by all of a pipeline's workers (see
//! `pipeline::PipelineStage`), so there is one snapshot per stage, not per
//! worker. A snapshot belongs to the filter's name, which is unique within
//! its pipeline, not to its position: a filter that a config change or a
//! reload moves keeps its state, and one renamed or removed does not. Files
//! are `<state_dir>/<pipeline>/<name>.state` (`layout`, which also reads
//! and then removes the old `<position>-<name>.state`), written to a
//! temporary name and renamed, so a crash mid-write leaves the previous
//! snapshot intact; `lock` keeps them to one process. The bytes are the
//! filter's own format, which ABI v1 asks filters to version.
//! `files::private` keeps the directory to this user: one others can write to is refused,
//! and nothing is written or read through a link. Everything here locks
//! stages: call it off the reactor.

mod layout;
mod lock;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::config::shown_name;
use crate::files::private;
use crate::pipeline::{SharedStage, lock_stage};
pub use lock::{StateLock, claim_pipeline};
use private::make_dir;

/// A pipeline's stateful stages with their positions in it.
pub type SharedStages = [(usize, Arc<SharedStage>)];

pub struct Snapshot {
    /// The filter's name in its pipeline, which its state belongs to.
    pub filter: String,
    /// Empty when the filter has no state (ABI v1's empty snapshot): its
    /// file is then removed, not kept for the next start to restore.
    pub state: Vec<u8>,
}

/// The (position, name) of each of a pipeline's stateful stages.
pub fn stateful_names(stages: &SharedStages) -> Vec<(usize, String)> {
    (stages.iter())
        .map(|(index, stage)| (*index, lock_stage(stage).module().name().to_owned()))
        .collect()
}

/// Why a pipeline's state could go to the wrong filter, if it could: of
/// its stateful filters (`stateful`, their names in order), some share a
/// name and are told apart by a number for their position alone
/// (`templates`, `templates#3`), so removing or moving the first hands its
/// state to the other.
pub fn told_apart_by_position<'a>(stateful: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let names: Vec<&str> = stateful.into_iter().collect();
    // The name a numbered one was given its number against.
    let first_of = |name: &'a str| -> Option<&'a str> {
        let (first, position) = name.rsplit_once('#')?;
        let digits = !position.is_empty() && position.bytes().all(|b| b.is_ascii_digit());
        (digits && names.contains(&first)).then_some(first)
    };
    let firsts: Vec<&str> = names.iter().filter_map(|name| first_of(name)).collect();
    let shared: Vec<String> = (names.iter())
        .filter(|name| firsts.contains(name) || first_of(name).is_some())
        .map(|name| format!("`{}`", crate::config::shown_name(name)))
        .collect();
    (!shared.is_empty()).then(|| {
        format!(
            "the stateful filters {} share a name and are told apart by their position alone: removing one can hand its saved state to another, and moving one loses it; give each a `name` of its own",
            shared.join(", ")
        )
    })
}

/// What [`take`] got: the snapshots, the filters whose snapshot failed
/// (each logged), whose state on disk is older than their state in memory,
/// and the positions of the stages still in a call when the wait ran out.
pub struct Taken {
    pub snapshots: Vec<Snapshot>,
    pub failed: Vec<String>,
    pub in_call: Vec<usize>,
}

/// Snapshots every stateful stage. Each is locked only for its own snapshot,
/// so the pipeline keeps running meanwhile. Stages are waited for until
/// `deadline` (`None`: as long as their calls take); one still in a call
/// then is left out and listed in `in_call`, since with the deadline off a
/// call may never end.
pub fn take(pipeline: &str, stages: &SharedStages, deadline: Option<Instant>) -> Taken {
    // What a filter logs while it hands its state over says whose it is.
    let _span = crate::pipeline::logging_in(pipeline);
    let mut taken = Taken {
        snapshots: Vec::new(),
        failed: Vec::new(),
        in_call: Vec::new(),
    };
    for (position, stage) in stages {
        let stage = match deadline {
            None => Some(lock_stage(stage)),
            Some(deadline) => stage.try_lock_until(deadline),
        };
        let Some(mut stage) = stage else {
            taken.in_call.push(*position);
            continue;
        };
        let filter = stage.module().name().to_owned();
        match stage.snapshot() {
            Ok(state) => taken.snapshots.push(Snapshot {
                filter,
                state: state.unwrap_or_default(),
            }),
            Err(failure) => {
                tracing::error!(
                    filter = filter.as_str(),
                    "snapshot failed, state not kept: {}",
                    failure.reason
                );
                taken.failed.push(filter);
            }
        }
    }
    taken
}

/// Restores each of `pipeline`'s snapshots into the stage of the same
/// filter name, if the pipeline still has one; returns those of names it
/// no longer has and those their filter refused, for the caller to save.
pub fn give(pipeline: &str, stages: &SharedStages, snapshots: Vec<Snapshot>) -> Given {
    let _span = crate::pipeline::logging_in(pipeline);
    let mut given = Given {
        unmatched: Vec::new(),
        refused: Vec::new(),
    };
    for snapshot in snapshots {
        let stage = (stages.iter())
            .map(|(_, stage)| lock_stage(stage))
            .find(|stage| stage.module().name() == snapshot.filter);
        let Some(mut stage) = stage else {
            let shown = shown_name(&snapshot.filter);
            tracing::warn!(
                filter = snapshot.filter.as_str(),
                "the reloaded pipeline `{pipeline}` has no stateful filter named `{shown}`, so its state is not carried over: state follows a filter's name, and a filter renamed or removed starts afresh",
            );
            given.unmatched.push(snapshot);
            continue;
        };
        // No state is what the new stage's `init` gives it already.
        if snapshot.state.is_empty() {
            continue;
        }
        // A copy: a refused snapshot is handed back whole, to be kept.
        if let Err(e) = stage.restore(snapshot.state.clone()) {
            tracing::error!(
                filter = snapshot.filter.as_str(),
                "restoring state failed: {e}"
            );
            given.refused.push(snapshot);
        }
    }
    given
}

/// What [`give`] could not restore: snapshots no stage has a name for, and
/// those their filter refused (which a save would otherwise write over).
pub struct Given {
    pub unmatched: Vec<Snapshot>,
    pub refused: Vec<Snapshot>,
}

/// Writes each snapshot to its filter's file in `pipeline`'s directory,
/// which `lock` holds; once one is written, the old-layout files of its
/// filter are removed. Nothing is written if `lock` no longer guards that
/// directory and cannot be taken again there (see [`StateLock::guard`]).
pub fn save(
    dir: &Path,
    pipeline: &str,
    snapshots: &[Snapshot],
    lock: &StateLock,
) -> std::io::Result<()> {
    lock.guard()?;
    for snapshot in snapshots {
        let path = layout::file_of(dir, pipeline, &snapshot.filter);
        let saved = if snapshot.state.is_empty() {
            remove_if_there(&path)
        } else {
            write_replacing(&path, &snapshot.state)
        };
        saved.map_err(|e| naming(&path, e))?;
        lock.saved(&snapshot.filter, &path);
    }
    Ok(())
}

/// Keeps a snapshot its filter refused when a reload handed it over, as a
/// restart keeps a refused file: written as the filter's file and set aside
/// under a refused name, so that the next save, of a filter that started
/// afresh, does not write over what the replaced one had learned. Returns
/// where it was kept.
pub fn keep_refused(
    dir: &Path,
    pipeline: &str,
    snapshot: Snapshot,
    lock: &StateLock,
) -> std::io::Result<PathBuf> {
    save(dir, pipeline, std::slice::from_ref(&snapshot), lock)?;
    keep_aside(&layout::file_of(dir, pipeline, &snapshot.filter))
}

/// Removes the file at `path`, if there is one.
fn remove_if_there(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        removed => removed,
    }
}

/// Writes `bytes` to `path` through a temporary file of this save's own
/// (two saves of the same pipeline at once, in two processes or in one,
/// must not write into one temporary and rename the other's half-written
/// bytes into place), synced before the rename, so that a crash leaves
/// either the old state or the new one, never an empty or partial file.
///
/// The directory is not made here: the save's lock is in it, and one that
/// has gone since (removed under the process) must fail the write, not be
/// made again without a lock in it ([`StateLock::guard`] takes care of that).
fn write_replacing(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static SAVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let save = SAVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let temporary = layout::temporary_of(path, save);
    // Created, never opened: a name known in advance must not lead the
    // write to a file someone put there. What is there is left alone.
    let mut file = private::create_new(&temporary).map_err(|e| {
        let shown = crate::files::shown(&temporary);
        std::io::Error::new(
            e.kind(),
            format!("cannot create its temporary {shown}: {e}"),
        )
    })?;
    let renamed = (file.write_all(bytes))
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&temporary, path));
    if renamed.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    renamed.and_then(|()| sync_directory_of(path))
}

/// Makes a rename into `path`'s directory durable: until the directory
/// itself is synced, a power cut may bring back the old entry
/// although the new file's bytes were on disk. File systems that cannot
/// sync a directory (EINVAL) keep their own order, and are left to it.
fn sync_directory_of(path: &Path) -> std::io::Result<()> {
    let directory = path.parent().unwrap_or(Path::new("."));
    match std::fs::File::open(directory).and_then(|d| d.sync_all()) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(()),
        synced => synced.map_err(|e| {
            let shown = crate::files::shown(directory);
            std::io::Error::new(e.kind(), format!("cannot sync the directory {shown}: {e}"))
        }),
    }
}

/// `error` with the path it happened on, which the OS's message leaves out.
fn naming(path: &Path, error: std::io::Error) -> std::io::Error {
    std::io::Error::new(
        error.kind(),
        format!("{}: {error}", crate::files::shown(path)),
    )
}

/// Why [`persist`] did not save all of a pipeline's state.
pub enum NotSaved {
    /// Writing the files failed.
    Io(std::io::Error),
    /// These filters' snapshots failed (each logged by [`take`]); the
    /// others were saved, and their files were left as they were.
    Snapshots(Vec<String>),
    /// The stages at these positions were still in a call when the wait
    /// ran out; the others were saved, and their files left as they were.
    InCall(Vec<usize>),
}

/// Snapshots `pipeline`'s stateful stages, waited for until `deadline`
/// (see [`take`]), and saves them; returns how many were saved. The file of
/// a stage still in a call is left as it was.
pub fn persist(
    dir: &Path,
    pipeline: &str,
    stages: &SharedStages,
    lock: &StateLock,
    deadline: Option<Instant>,
) -> Result<usize, NotSaved> {
    let taken = take(pipeline, stages, deadline);
    save(dir, pipeline, &taken.snapshots, lock).map_err(NotSaved::Io)?;
    if !taken.in_call.is_empty() {
        return Err(NotSaved::InCall(taken.in_call));
    }
    if taken.failed.is_empty() {
        Ok(taken.snapshots.len())
    } else {
        Err(NotSaved::Snapshots(taken.failed))
    }
}

/// Creates `dir` if needed and checks that files can be written in it, and
/// by no other user, so that a state directory that cannot be used fails
/// the start, not the save after a long run or at shutdown.
pub fn prepare_dir(dir: &Path) -> std::io::Result<()> {
    make_dir(dir)?;
    private::refuse_shared(dir)?;
    probe_writes(dir)
}

/// Whether [`prepare_dir`] would succeed, leaving nothing behind: the
/// directory, or the nearest part of its path that exists, must be a
/// directory this process can write in.
pub fn check_dir(dir: &Path) -> std::io::Result<()> {
    // A relative path's last ancestor is "", which names the current
    // directory but does not `exist()`.
    let existing = (dir.ancestors())
        .map(|d| {
            if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            }
        })
        .find(|d| d.exists())
        .unwrap_or(dir);
    if !existing.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            format!(
                "{} exists and is not a directory",
                crate::files::shown(existing)
            ),
        ));
    }
    // A directory still to be made is made this user's alone.
    if existing == dir {
        private::refuse_shared(dir)?;
    }
    probe_writes(existing)
}

fn probe_writes(dir: &Path) -> std::io::Result<()> {
    // Named for this process: a `run` and a `serve` may start on one
    // directory at once, and neither may remove the other's probe. One left
    // by a process of the same id that was killed is removed first.
    let probe = dir.join(format!(".wasmstash-write-check-{}", std::process::id()));
    remove_if_there(&probe)?;
    drop(private::create_new(&probe)?);
    remove_if_there(&probe)
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

/// Restores `pipeline`'s saved state from the files `lock`'s claim found,
/// logging how much was restored.
pub fn restore_saved(dir: &Path, pipeline: &str, stages: &SharedStages, lock: &StateLock) -> usize {
    restore_from_files(dir, pipeline, stages, lock, |_| true)
}

/// For a pipeline this process already holds, restores from disk the
/// stateful filters a reload added (`added`, by name), which no stage of the
/// set it replaces could hand state to. Without this, such a filter would
/// start empty and its next save would write over the state saved for its
/// name. The directory is looked at again first, as files may have changed
/// since the claim.
pub fn restore_added(
    dir: &Path,
    pipeline: &str,
    stages: &SharedStages,
    lock: &StateLock,
    added: &[String],
) -> std::io::Result<usize> {
    lock.recheck(dir, pipeline, &stateful_names(stages))?;
    Ok(restore_from_files(dir, pipeline, stages, lock, |filter| {
        added.iter().any(|name| name == filter)
    }))
}

/// Restores, of `pipeline`'s stateful filters that `wanted` names, each
/// whose file `lock`'s plan found.
fn restore_from_files(
    dir: &Path,
    pipeline: &str,
    stages: &SharedStages,
    lock: &StateLock,
    wanted: impl Fn(&str) -> bool,
) -> usize {
    let _span = crate::pipeline::logging_in(pipeline);
    // Copied out, so that no stage is locked under the plan's mutex.
    let sources: BTreeMap<String, PathBuf> = {
        let plan = lock.plan();
        lock::log_found(pipeline, &plan);
        (plan.sources.iter())
            .filter(|(filter, _)| wanted(filter))
            .filter_map(|(filter, source)| Some((filter.clone(), source.read.clone()?)))
            .collect()
    };
    // The next save would write over a refused state (as after an upgrade
    // to a filter that reads another format, or a lower memory limit):
    // keep it aside.
    let refused = |filter: &str, why: &str| {
        let kept = match keep_aside(&sources[filter]) {
            Ok(aside) => format!("kept as {}", crate::files::shown(&aside)),
            Err(e) => format!("and could not be kept aside: {e}"),
        };
        tracing::error!(
            filter,
            "the filter refused its saved state ({why}); it starts afresh, and the saved state was {kept}"
        );
    };
    // One file at a time, each read only if its filter could hold it: a
    // snapshot larger than the filter's memory limit can never be restored,
    // and reading several such files first would take their sum.
    let mut restored = 0;
    for (_, stage) in stages {
        let (filter, memory_limit) = {
            let stage = lock_stage(stage);
            let module = stage.module();
            let limit = module.engine().settings().memory_limit_bytes;
            (module.name().to_owned(), limit as u64)
        };
        let Some(path) = sources.get(&filter) else {
            continue;
        };
        // Only a regular file, and under that cap: a FIFO or a device left
        // where a snapshot was expected would block the start or fill
        // memory.
        match private::read_saved_state(path, memory_limit) {
            // Into the stage in hand: no search by name, and no copy of the
            // state to hand back (that is for a reload's handover).
            // An empty file is no state, as an empty snapshot is; but a save
            // never writes one (it removes the file instead), so one found
            // here was cut short or made by hand, and the operator should know
            // that whatever it held is gone.
            Ok(state) if state.is_empty() => tracing::warn!(
                filter = filter.as_str(),
                path = ?path,
                "the saved state file is empty, which wasmstash never writes (a filter with \
                 nothing to keep has no file): it was cut short or made by hand; the filter \
                 starts afresh"
            ),
            Ok(state) => match lock_stage(stage).restore(state) {
                Ok(()) => restored += 1,
                Err(why) => refused(&filter, &why),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) if e.kind() == std::io::ErrorKind::FileTooLarge => refused(
                &filter,
                &format!("{e}, the filter's memory limit (engine.memory_limit_mib)"),
            ),
            Err(e) => {
                tracing::error!(path = ?path, "cannot read saved state: {e}")
            }
        }
    }
    if restored == 0 {
        return 0;
    }
    tracing::info!(
        pipeline,
        "restored {restored} filter state snapshot(s) from {}",
        crate::files::shown(dir)
    );
    restored
}
