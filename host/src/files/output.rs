//! The files a command writes by name: `gen --out` and `--truth`, and
//! `import --logstash-out`. A regular file is replaced whole or not at all,
//! so that a run cut short leaves the old file, not half of a new one, and
//! the new one keeps the old one's mode and, where this user may give it,
//! its owner (in a directory this user cannot write, it is written in
//! place: emptied only once the run starts writing, so a run cut short
//! leaves a prefix of its own text);
//! anything else that can be written to (a FIFO, a device) is written to
//! directly, as renaming over it would put a regular file where the FIFO or
//! device was.

use std::fs::{File, OpenOptions};
use std::io::{Error, ErrorKind};
use std::path::{Path, PathBuf};

/// Whether `path` is written under a temporary name and renamed into place:
/// when it is missing or a regular file, after following symlinks (a
/// dangling one names a file that is missing).
pub fn is_replaced_whole(path: &Path) -> bool {
    std::fs::metadata(path).map_or(true, |metadata| metadata.is_file())
}

/// Whether `a` and `b` name one file, however spelled (`x` and `./x`, a
/// link and what it points to): both written, the second would overwrite
/// the first.
pub fn same_file(a: &Path, b: &Path) -> bool {
    use crate::files::id_of;
    if let (Some(a), Some(b)) = (id_of(a), id_of(b)) {
        return a == b;
    }
    let place = |path: &Path| {
        let target = crate::files::link_target(path).ok()?;
        let directory = crate::files::directory_of(&target);
        Some((
            std::fs::canonicalize(directory).ok()?,
            target.file_name()?.to_owned(),
        ))
    };
    match (place(a), place(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a == b,
    }
}

/// An output file being written.
pub struct OutputFile {
    pub file: File,
    /// The path as given, for messages.
    path: PathBuf,
    finish: Finish,
}

/// What [`OutputFile::commit`] does to put the written file in place.
enum Finish {
    /// Nothing: a FIFO or a device, written as it is.
    Nothing,
    /// Cuts the file to what was written: the file itself, opened without
    /// truncating it and emptied only by [`OutputFile::start`] (`started`),
    /// so that a run refused before it starts (another of its files cannot
    /// be made) leaves it whole.
    Truncate { started: bool },
    /// Renames the temporary file standing in for the target over it.
    Rename(Pending),
}

struct Pending {
    temporary: PathBuf,
    /// Where the temporary file goes: the path given, or, for a symlink,
    /// the file it points to, so that the link stays a link.
    target: PathBuf,
}

impl OutputFile {
    /// Errors name the path they are about.
    pub fn create(path: &Path) -> std::io::Result<OutputFile> {
        let error = |e| at(path, e);
        let open = |finish| {
            // Not truncated: a FIFO or a device has nothing to truncate,
            // and a file written in place is emptied by `start`.
            let file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(error)?;
            let path = path.to_owned();
            Ok(OutputFile { file, path, finish })
        };
        if !is_replaced_whole(path) {
            return open(Finish::Nothing);
        }
        let target = crate::files::link_target(path).map_err(error)?;
        let earlier = std::fs::metadata(&target).ok();
        let (file, temporary) = match create_temporary(&target, earlier.is_some()) {
            Ok(created) => created,
            // A file of ours in a directory that is not (a conf.d kept by
            // root): written in place, as it can only be, not refused.
            Err(e) if e.kind() == ErrorKind::PermissionDenied && earlier.is_some() => {
                return open(Finish::Truncate { started: false });
            }
            Err(e) => return Err(e),
        };
        if let Some(earlier) = &earlier {
            keep_owner_and_mode(&file, earlier);
        }
        Ok(OutputFile {
            file,
            path: path.to_owned(),
            finish: Finish::Rename(Pending { temporary, target }),
        })
    }

    /// Empties a file written in place, once the run is sure to write it:
    /// from here on an error or a kill leaves a prefix of the new text, not
    /// the new text over the old one's tail. Files written otherwise are
    /// already empty, or are a stream.
    pub fn start(&mut self) -> std::io::Result<()> {
        if let Finish::Truncate { started } = &mut self.finish {
            self.file.set_len(0).map_err(|e| at(&self.path, e))?;
            *started = true;
        }
        Ok(())
    }

    /// Writes all of `bytes`; an error names the file.
    pub fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        std::io::Write::write_all(&mut self.file, bytes).map_err(|e| at(&self.path, e))
    }

    /// Ends a file written in place where the writing got to.
    fn cut_to_written(&mut self) -> std::io::Result<()> {
        use std::io::Seek;
        let written = self.file.stream_position()?;
        self.file.set_len(written)
    }

    /// Puts a complete file in place.
    pub fn commit(mut self) -> std::io::Result<()> {
        match std::mem::replace(&mut self.finish, Finish::Nothing) {
            Finish::Nothing => Ok(()),
            Finish::Truncate { .. } => self.cut_to_written().map_err(|e| at(&self.path, e)),
            Finish::Rename(pending) => std::fs::rename(&pending.temporary, &pending.target)
                .map_err(|e| {
                    let _ = std::fs::remove_file(&pending.temporary);
                    at(&self.path, e)
                }),
        }
    }
}

/// A new file beside `target` to write it under, and its name. Only ever
/// created new: a file or a link someone put at the name is not written
/// through, nor removed (it is not ours); the next name is tried instead, as
/// it is after a run killed before it could remove its own (in a container,
/// every run has the same process id).
///
/// `private`: made 0600, for a file about to take an earlier file's mode,
/// so that no one reads the new text (a logstash.conf's passwords) before
/// that mode is set; otherwise the umask's default.
fn create_temporary(target: &Path, private: bool) -> std::io::Result<(File, PathBuf)> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp{}-", std::process::id()));
    let mut last = None;
    for attempt in 0..100 {
        let mut numbered = name.clone();
        numbered.push(attempt.to_string());
        let temporary = target.with_file_name(numbered);
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        if private {
            options.mode(0o600);
        }
        match options.open(&temporary) {
            Ok(file) => return Ok((file, temporary)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => last = Some(temporary),
            // Named as given: the temporary's name is not the user's.
            Err(e) => {
                let e = Error::new(
                    e.kind(),
                    format!("cannot make a file beside it to write it under: {e}"),
                );
                return Err(at(target, e));
            }
        }
    }
    let taken = last.expect("a name was tried");
    let e = Error::new(
        ErrorKind::AlreadyExists,
        "100 temporary names beside it are taken (left by killed runs?); remove them",
    );
    Err(at(&taken, e))
}

/// Gives the file that replaces `earlier` its mode and, where this user
/// may (root may; others may keep their group), its owner: a logstash.conf
/// kept 0600 for the passwords in it must not come back 0644. As far as it
/// can: without CAP_FOWNER, root can give the file away but no longer
/// change its mode, so the mode comes first, and a refused change is no
/// reason to refuse the write.
fn keep_owner_and_mode(file: &File, earlier: &std::fs::Metadata) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt, fchown};
    let mode = earlier.permissions().mode() & 0o7777;
    let _ = file.set_permissions(std::fs::Permissions::from_mode(mode));
    let owned = match fchown(file, Some(earlier.uid()), Some(earlier.gid())) {
        Ok(()) => true,
        Err(_) => fchown(file, None, Some(earlier.gid())).is_ok(),
    };
    // A change of owner clears the set-id bits; put them back if we may.
    if owned && mode & 0o6000 != 0 {
        let _ = file.set_permissions(std::fs::Permissions::from_mode(mode));
    }
}

/// `error`, saying which file it is about; its kind is kept.
fn at(path: &Path, error: Error) -> Error {
    Error::new(error.kind(), format!("{}: {error}", super::shown(path)))
}

impl Drop for OutputFile {
    /// A temporary file never committed leaves nothing behind, and a file
    /// being written in place is cut to what was written.
    fn drop(&mut self) {
        match &self.finish {
            Finish::Nothing | Finish::Truncate { started: false } => {}
            Finish::Truncate { started: true } => {
                let _ = self.cut_to_written();
            }
            Finish::Rename(pending) => {
                let _ = std::fs::remove_file(&pending.temporary);
            }
        }
    }
}
