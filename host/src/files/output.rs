//! The files a command writes by name: `gen --out` and `--truth`, and
//! `import --logstash-out`. A regular file is replaced whole or not at all,
//! so that a run cut short leaves the old file, not half of a new one, and
//! the new one keeps the old one's mode and, where this user may give it,
//! its owner (in a directory this user cannot write, it is written in
//! place);
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
    /// Set while a temporary file stands in for the target.
    pending: Option<Pending>,
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
        if !is_replaced_whole(path) {
            // Not truncated: a FIFO or a device has nothing to truncate.
            let file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(error)?;
            return Ok(OutputFile {
                file,
                path: path.to_owned(),
                pending: None,
            });
        }
        let target = crate::files::link_target(path).map_err(error)?;
        let earlier = std::fs::metadata(&target).ok();
        let (file, temporary) = match create_temporary(&target) {
            Ok(created) => created,
            // A file of ours in a directory that is not (a conf.d kept by
            // root): written in place, as it can only be, not refused.
            Err(e) if e.kind() == ErrorKind::PermissionDenied && earlier.is_some() => {
                let file = OpenOptions::new().write(true).truncate(true).open(path);
                return Ok(OutputFile {
                    file: file.map_err(error)?,
                    path: path.to_owned(),
                    pending: None,
                });
            }
            Err(e) => return Err(e),
        };
        if let Some(earlier) = &earlier {
            keep_owner_and_mode(&file, earlier).map_err(|e| at(&temporary, e))?;
        }
        Ok(OutputFile {
            file,
            path: path.to_owned(),
            pending: Some(Pending { temporary, target }),
        })
    }

    /// Writes all of `bytes`; an error names the file.
    pub fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        std::io::Write::write_all(&mut self.file, bytes).map_err(|e| at(&self.path, e))
    }

    /// Puts a complete file in place; written directly, it already is.
    pub fn commit(mut self) -> std::io::Result<()> {
        if let Some(pending) = self.pending.take()
            && let Err(e) = std::fs::rename(&pending.temporary, &pending.target)
        {
            let _ = std::fs::remove_file(&pending.temporary);
            return Err(at(&self.path, e));
        }
        Ok(())
    }
}

/// A new file beside `target` to write it under, and its name. Only ever
/// created new: a file or a link someone put at the name is not written
/// through, nor removed (it is not ours); the next name is tried instead, as
/// it is after a run killed before it could remove its own (in a container,
/// every run has the same process id).
fn create_temporary(target: &Path) -> std::io::Result<(File, PathBuf)> {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp{}-", std::process::id()));
    let mut last = None;
    for attempt in 0..100 {
        let mut numbered = name.clone();
        numbered.push(attempt.to_string());
        let temporary = target.with_file_name(numbered);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)
        {
            Ok(file) => return Ok((file, temporary)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => last = Some(temporary),
            Err(e) => return Err(at(&temporary, e)),
        }
    }
    let taken = last.expect("a name was tried");
    let e = Error::new(
        ErrorKind::AlreadyExists,
        "100 temporary names beside it are taken (left by killed runs?); remove them",
    );
    Err(at(&taken, e))
}

/// Gives the file that replaces `earlier` its owner, where this user may
/// (root may; others may keep their group), and its mode: a logstash.conf
/// kept 0600 for the passwords in it must not come back 0644.
fn keep_owner_and_mode(file: &File, earlier: &std::fs::Metadata) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    // Before the mode: a change of owner may clear set-id bits.
    if std::os::unix::fs::fchown(file, Some(earlier.uid()), Some(earlier.gid())).is_err() {
        let _ = std::os::unix::fs::fchown(file, None, Some(earlier.gid()));
    }
    let mode = earlier.permissions().mode() & 0o7777;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

/// `error`, saying which file it is about; its kind is kept.
fn at(path: &Path, error: Error) -> Error {
    Error::new(error.kind(), format!("{}: {error}", super::shown(path)))
}

impl Drop for OutputFile {
    /// A file never committed leaves nothing behind.
    fn drop(&mut self) {
        if let Some(pending) = &self.pending {
            let _ = std::fs::remove_file(&pending.temporary);
        }
    }
}
