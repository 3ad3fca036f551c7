//! One owner for a pipeline's state files: the lock a process holds on
//! `<state_dir>/<pipeline>/.lock` while it restores and saves them, and what
//! it found in the directory when it took it. Apart from `state.rs` because
//! this is about processes, and that about snapshots.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use super::layout::{self, Plan};
use super::{make_dir, naming, private, probe_writes};

/// Held while a process owns a pipeline's state files; released when
/// dropped or when the process ends, however it ends.
pub struct StateLock {
    _file: std::fs::File,
    /// What the claim found: the files the restore that follows reads, and
    /// the old-layout files each save may then remove.
    plan: Mutex<Plan>,
}

/// Everything a process (`run`, or `serve` for each of its pipelines) needs
/// of `pipeline`'s state files before it restores them: its directory
/// writable, each saved snapshot of `stateful` (its stateful filters, as
/// position and name) a readable regular file (one that could not be read
/// would be written over at the next save, the state it held lost), and no
/// other process using them. Two processes that both restored the same
/// state and saved their own would keep only the last one's, without a
/// word; the second is refused instead. `holder` says what this process is
/// (as "`wasmstash run`"), for the message that refuses the next one.
/// Errors name the path.
pub fn claim_pipeline(
    dir: &Path,
    pipeline: &str,
    stateful: &[(usize, String)],
    holder: &str,
) -> std::io::Result<StateLock> {
    let pipeline_dir = layout::pipeline_dir(dir, pipeline);
    make_dir(&pipeline_dir).map_err(|e| naming(&pipeline_dir, e))?;
    private::refuse_shared(&pipeline_dir).map_err(|e| naming(&pipeline_dir, e))?;
    probe_writes(&pipeline_dir).map_err(|e| naming(&pipeline_dir, e))?;
    let lock_path = pipeline_dir.join(".lock");
    let mut lock = private::open_lock(&lock_path).map_err(|e| naming(&lock_path, e))?;
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
    let plan = layout::plan(dir, pipeline, stateful)?;
    Ok(StateLock {
        _file: lock,
        plan: Mutex::new(plan),
    })
}

impl StateLock {
    /// Looks at the directory again for `stateful`, keeping the lock: for a
    /// claim made from the config before its modules were compiled, whose
    /// stateful filters the compiled set has the last word on.
    pub fn recheck(
        &self,
        dir: &Path,
        pipeline: &str,
        stateful: &[(usize, String)],
    ) -> std::io::Result<()> {
        *self.plan() = layout::plan(dir, pipeline, stateful)?;
        Ok(())
    }

    pub(super) fn plan(&self) -> MutexGuard<'_, Plan> {
        crate::locked(&self.plan)
    }

    /// Removes the old-layout files of `filter`, whose state is now saved
    /// as `saved`: they hold nothing newer, and would otherwise stay for
    /// good. One that cannot be removed is tried again at the next save.
    pub(super) fn saved(&self, filter: &str, saved: &Path) {
        let mut plan = self.plan();
        let Some(source) = plan.sources.get_mut(filter) else {
            return;
        };
        let mut removed = Vec::new();
        source.stale.retain(|old| match std::fs::remove_file(old) {
            Ok(()) => {
                removed.push(old.display().to_string());
                false
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => {
                tracing::warn!(
                    filter,
                    "cannot remove the old state file {}, which {} replaces: {e}",
                    old.display(),
                    saved.display()
                );
                true
            }
        });
        if !removed.is_empty() {
            tracing::info!(
                filter,
                "state saved as {}; removed the old-layout file(s) it replaces: {}",
                saved.display(),
                removed.join(", ")
            );
        }
    }
}

/// Says, once, what a claim found that an operator may not expect: which
/// old-layout file each filter reads (and, of several, why that one),
/// which its next save removes, and which files no filter reads.
pub(super) fn log_found(pipeline: &str, plan: &Plan) {
    let list = |paths: &[PathBuf]| {
        (paths.iter())
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (filter, source) in &plan.sources {
        match &source.read {
            Some(read) if *read != source.own && source.passed_over.is_empty() => {
                tracing::info!(
                    pipeline,
                    filter = %filter,
                    "reading the state of `{filter}` from {}, a file of the old layout (named for its position); it is saved as {} from now on, and the old file removed then",
                    read.display(),
                    source.own.display()
                );
            }
            Some(read) if *read != source.own => tracing::warn!(
                pipeline,
                filter = %filter,
                "`{filter}` has several state files of the old layout (named for a position): reading {}, {}, not {}; all are removed once its state is saved as {}",
                read.display(),
                source.chosen,
                list(&source.passed_over),
                source.own.display()
            ),
            _ if !source.stale.is_empty() => tracing::info!(
                pipeline,
                filter = %filter,
                "the state of `{filter}` is in {}: its old-layout file(s) {} are removed at its next save",
                source.own.display(),
                list(&source.stale)
            ),
            _ => {}
        }
    }
    if !plan.unread.is_empty() {
        tracing::warn!(
            pipeline,
            "no stateful filter of pipeline `{pipeline}` reads these state files, as none has the name they were saved under: {}; they are left as they are (a filter given that name reads it at the next start or the reload that adds it; remove them if that state is not wanted)",
            list(&plan.unread)
        );
    }
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
