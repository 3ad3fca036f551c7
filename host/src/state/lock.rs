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
    held: Mutex<Held>,
    /// What the claim found: the files the restore that follows reads, and
    /// the old-layout files each save may then remove.
    plan: Mutex<Plan>,
    pipeline: String,
    /// `state_dir`, and the pipeline's directory in it.
    dir: PathBuf,
    pipeline_dir: PathBuf,
    holder: String,
}

/// The lock file whose flock this process holds. An flock is on the file,
/// not on its name: once the directory is removed (or the file replaced),
/// the lock guards nothing another process can find, and a second one
/// takes a lock of its own on a new file there.
struct Held {
    file: std::fs::File,
    /// Why this process no longer saves the pipeline's state, once another
    /// has owned the directory meanwhile: for good, as the two states have
    /// gone their own ways and only an operator can choose between them.
    lost: Option<String>,
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
    if let Err(e) = take(&mut lock, &lock_path, holder) {
        return Err(match e {
            LockRefused::ByAnother(other) => std::io::Error::new(
                std::io::ErrorKind::ResourceBusy,
                format!(
                    "the state of pipeline `{pipeline}` is in use by another {other} (it holds {}); \
                     wait for it to end, or give each its own state directory",
                    crate::files::shown(&lock_path)
                ),
            ),
            LockRefused::Failed(e) => e,
            LockRefused::MadeBy(why) => std::io::Error::other(why),
        });
    }
    remove_temporaries(pipeline, &pipeline_dir);
    let plan = layout::plan(dir, pipeline, stateful)?;
    Ok(StateLock {
        held: Mutex::new(Held {
            file: lock,
            lost: None,
        }),
        plan: Mutex::new(plan),
        pipeline: pipeline.to_owned(),
        dir: dir.to_owned(),
        pipeline_dir,
        holder: holder.to_owned(),
    })
}

/// Why [`take`] did not take a lock.
enum LockRefused {
    /// Another process holds it; what it wrote of itself.
    ByAnother(String),
    /// Another process made the lock file meanwhile; what holds it, said.
    MadeBy(String),
    Failed(std::io::Error),
}

/// Takes the flock on `lock` (the file at `path`) without waiting, and
/// writes `holder` into it for the message that refuses the next process.
fn take(lock: &mut std::fs::File, path: &Path, holder: &str) -> Result<(), LockRefused> {
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(LockRefused::ByAnother(holder_of(lock)));
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(LockRefused::Failed(naming(path, e))),
    }
    // Only for that message: the lock is the flock, whatever the file
    // says, so a description that cannot be written costs nothing else.
    let _ = lock.set_len(0).and_then(|()| {
        writeln!(lock, "{holder} (pid {})", std::process::id())?;
        lock.flush()
    });
    Ok(())
}

/// Removes the temporaries that saves by earlier owners left in
/// `pipeline_dir` (a process killed mid-save leaves its `NAME.tmp-PID-N`,
/// and nothing else would ever remove it). Only saves write temporaries,
/// and only under the lock, which this process now holds: none can be in
/// use. Only regular files of exactly that name form go; a link of that
/// name is left (removing it would not touch what it points to, but what
/// planted it is for an operator to see), and so is anything else.
fn remove_temporaries(pipeline: &str, pipeline_dir: &Path) {
    let entries = match std::fs::read_dir(pipeline_dir) {
        Ok(entries) => entries,
        Err(e) => {
            tracing::warn!(
                pipeline,
                "cannot look for temporaries left by an earlier save in {}: {e}",
                crate::files::shown(pipeline_dir)
            );
            return;
        }
    };
    let (mut removed, mut left) = (Vec::new(), Vec::new());
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_str().is_some_and(layout::is_temporary) {
            continue;
        }
        let path = entry.path();
        // Not followed: the entry itself is what is looked at and removed.
        let regular = std::fs::symlink_metadata(&path).is_ok_and(|meta| meta.is_file());
        match regular.then(|| std::fs::remove_file(&path)) {
            Some(Ok(())) => removed.push(crate::files::shown(&path)),
            Some(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
            Some(Err(e)) => left.push(format!("{} ({e})", crate::files::shown(&path))),
            None => left.push(format!(
                "{} (not a regular file)",
                crate::files::shown(&path)
            )),
        }
    }
    removed.sort();
    left.sort();
    if !removed.is_empty() {
        tracing::warn!(
            pipeline,
            "removed {} temporary file(s) left by a save that did not finish (a process killed, or the machine stopped, mid-save; the state file it would have replaced is whole): {}",
            removed.len(),
            removed.join(", ")
        );
    }
    if !left.is_empty() {
        tracing::warn!(
            pipeline,
            "left in place, named as a save's temporary but not removable as one: {}",
            left.join(", ")
        );
    }
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
        // Files of a directory another process owns now are not this one's.
        self.guard()?;
        *self.plan() = layout::plan(dir, pipeline, stateful)?;
        Ok(())
    }

    /// Makes sure the lock held still guards the pipeline's directory
    /// before anything is written there: that `<pipeline>/.lock` is still
    /// the file this process holds the flock on. One removed under the
    /// process (the directory deleted, or replaced) guards nothing, and a
    /// second process may have taken the lock on a new file since.
    ///
    /// If no lock file is there, the directory is made again (this user's
    /// alone) and the lock taken on a new one, logged as a warning: the
    /// next save writes the whole state again, and a second process is
    /// refused as before. If another lock file is there, another process
    /// has owned the directory since (it holds the lock, or held it and
    /// may have saved its own state there): this process's state and that
    /// one's have gone their own ways, and writing either over the other
    /// is not this process's choice, so it never writes there again, and
    /// every save fails saying why. Other errors (a directory that cannot
    /// be made) fail this save only; the next tries again.
    pub fn guard(&self) -> std::io::Result<()> {
        let mut held = crate::locked(&self.held);
        if let Some(why) = &held.lost {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ResourceBusy,
                why.clone(),
            ));
        }
        let lock_path = self.pipeline_dir.join(".lock");
        let there = match std::fs::symlink_metadata(&lock_path) {
            Ok(there) => Some(there),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(naming(&lock_path, e)),
        };
        if let Some(there) = &there
            && same_file(&held.file.metadata()?, there)
        {
            return Ok(());
        }
        let gone = format!(
            "the state directory {} was removed or replaced while this process owned the state \
             of pipeline `{}` (its lock file {} is no longer the one this process locked)",
            crate::files::shown(&self.pipeline_dir),
            self.pipeline,
            crate::files::shown(&lock_path)
        );
        let why = match there {
            Some(_) => self.owned_since(&lock_path),
            None => match self.take_again(&lock_path) {
                Ok(file) => {
                    held.file = file;
                    drop(held);
                    // Old-layout files found by the claim are not this
                    // directory's: none is removed after this.
                    for source in self.plan().sources.values_mut() {
                        source.stale.clear();
                    }
                    tracing::warn!(
                        pipeline = %self.pipeline,
                        "{gone}: took the lock again on a new {}; this save writes the pipeline's state there again, and another process is refused as before",
                        crate::files::shown(&lock_path)
                    );
                    return Ok(());
                }
                Err(LockRefused::Failed(e)) => {
                    return Err(std::io::Error::new(
                        e.kind(),
                        format!("{gone}, and the lock cannot be taken again: {e}"),
                    ));
                }
                Err(LockRefused::ByAnother(other)) => format!("another {other} holds it now"),
                Err(LockRefused::MadeBy(why)) => why,
            },
        };
        let lost = format!(
            "{gone}; {why}: this process no longer saves this pipeline's state, so as not to \
             write over that one's, and its own is lost when it ends (restart it once the other \
             has ended to go on from what that one saved, or give each its own state_dir)"
        );
        held.lost = Some(lost.clone());
        Err(std::io::Error::new(std::io::ErrorKind::ResourceBusy, lost))
    }

    /// What holds the lock file another process has made at `lock_path`.
    fn owned_since(&self, lock_path: &Path) -> String {
        let mut other = match private::open_lock(lock_path) {
            Ok(other) => other,
            Err(e) => return format!("another process has made a new one ({e})"),
        };
        match other.try_lock() {
            Err(std::fs::TryLockError::WouldBlock) => {
                format!("another {} holds it now", holder_of(&mut other))
            }
            // Let go at once, with `other`: not this process's to keep.
            _ => format!(
                "another process ({}) has made a new one since, and may have saved its state there",
                holder_of(&mut other)
            ),
        }
    }

    /// Makes the pipeline's directory again and a new lock file in it,
    /// which must not exist yet: one made meanwhile is another process's.
    fn take_again(&self, lock_path: &Path) -> Result<std::fs::File, LockRefused> {
        let failed = |path: &Path, e| LockRefused::Failed(naming(path, e));
        make_dir(&self.pipeline_dir).map_err(|e| failed(&self.pipeline_dir, e))?;
        for dir in [&self.dir, &self.pipeline_dir] {
            private::refuse_shared(dir).map_err(|e| failed(dir, e))?;
        }
        let mut file = match private::create_new(lock_path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(LockRefused::MadeBy(self.owned_since(lock_path)));
            }
            Err(e) => return Err(LockRefused::Failed(naming(lock_path, e))),
        };
        take(&mut file, lock_path, &self.holder)?;
        remove_temporaries(&self.pipeline, &self.pipeline_dir);
        Ok(file)
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
                removed.push(crate::files::shown(old));
                false
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => {
                tracing::warn!(
                    filter,
                    "cannot remove the old state file {}, which {} replaces: {e}",
                    crate::files::shown(old),
                    crate::files::shown(saved)
                );
                true
            }
        });
        if !removed.is_empty() {
            tracing::info!(
                filter,
                "state saved as {}; removed the old-layout file(s) it replaces: {}",
                crate::files::shown(saved),
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
            .map(|p| crate::files::shown(p))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (name, source) in &plan.sources {
        let filter = crate::config::shown_name(name);
        match &source.read {
            Some(read) if *read != source.own && source.passed_over.is_empty() => {
                tracing::info!(
                    pipeline,
                    filter = name.as_str(),
                    "reading the state of `{filter}` from {}, a file of the old layout (named for its position); it is saved as {} from now on, and the old file removed then",
                    crate::files::shown(read),
                    crate::files::shown(&source.own)
                );
            }
            Some(read) if *read != source.own => tracing::warn!(
                pipeline,
                filter = name.as_str(),
                "`{filter}` has several state files of the old layout (named for a position): reading {}, {}, not {}; all are removed once its state is saved as {}",
                crate::files::shown(read),
                source.chosen,
                list(&source.passed_over),
                crate::files::shown(&source.own)
            ),
            _ if !source.stale.is_empty() => tracing::info!(
                pipeline,
                filter = name.as_str(),
                "the state of `{filter}` is in {}: its old-layout file(s) {} are removed at its next save",
                crate::files::shown(&source.own),
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

/// Whether two metadata are of one file.
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        a.dev() == b.dev() && a.ino() == b.ino()
    }
    // Without inode numbers, a lock file still there is taken for this one.
    #[cfg(not(unix))]
    {
        let _ = (a, b);
        true
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

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("wasmstash-lock-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn claim(dir: &Path, holder: &str) -> std::io::Result<StateLock> {
        claim_pipeline(dir, "p", &[(0, "templates".to_owned())], holder)
    }

    #[test]
    fn a_lock_whose_directory_went_is_taken_again_if_no_one_else_took_it() {
        let dir = scratch("again");
        let first = claim(&dir, "first").unwrap();
        first.guard().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        first.guard().unwrap();
        assert!(dir.join("p/.lock").exists());
        // Taken on the new file: a second claim is refused again.
        let refused = claim(&dir, "second").err().expect("a second owner");
        assert_eq!(refused.kind(), std::io::ErrorKind::ResourceBusy);
        drop(first);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_another_has_owned_since_is_never_written_again() {
        let dir = scratch("lost");
        let first = claim(&dir, "first").unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        // Separate opens of the file: flocks that exclude each other even
        // within one process, as between two.
        let second = claim(&dir, "second").unwrap();
        let error = first.guard().unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::ResourceBusy);
        assert!(error.to_string().contains("another second"), "{error}");
        drop(second);
        // The second may have saved state of its own: still not the
        // first's to write over, nor to lock.
        let error = first.guard().unwrap_err().to_string();
        assert!(error.contains("no longer saves"), "{error}");
        drop(claim(&dir, "third").unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
