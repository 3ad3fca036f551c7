//! The files `gen --out` and `--truth` name. A regular file is replaced
//! whole or not at all; anything else that can be written to (a FIFO, a
//! device) is written to directly, as renaming over it would put a regular
//! file where the FIFO or device was.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use super::GenError;

/// Whether `path` is written under a temporary name and renamed into place:
/// when it is missing or a regular file, after following symlinks.
pub fn is_replaced_whole(path: &Path) -> bool {
    match std::fs::metadata(path) {
        Ok(metadata) => metadata.is_file(),
        // A dangling symlink is written through, creating what it names.
        Err(_) => std::fs::symlink_metadata(path).is_err(),
    }
}

/// An output file being written.
pub struct OutputFile {
    pub file: File,
    /// The path as given, for messages.
    pub path: PathBuf,
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
    pub fn create(path: &Path) -> Result<OutputFile, GenError> {
        let error = |e| GenError::at(path, e);
        if !is_replaced_whole(path) {
            // Not truncated: a FIFO or a device has nothing to truncate, and
            // a dangling symlink's target is new.
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
        let target = match std::fs::symlink_metadata(path) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                std::fs::canonicalize(path).map_err(error)?
            }
            _ => path.to_owned(),
        };
        let mut name = target.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".tmp{}", std::process::id()));
        let temporary = target.with_file_name(name);
        let file = File::create(&temporary).map_err(error)?;
        Ok(OutputFile {
            file,
            path: path.to_owned(),
            pending: Some(Pending { temporary, target }),
        })
    }

    /// Puts a complete file in place; written directly, it already is.
    pub fn commit(mut self) -> Result<(), GenError> {
        if let Some(pending) = self.pending.take()
            && let Err(e) = std::fs::rename(&pending.temporary, &pending.target)
        {
            let _ = std::fs::remove_file(&pending.temporary);
            return Err(GenError::at(&self.path, e));
        }
        Ok(())
    }
}

impl Drop for OutputFile {
    /// A file never committed leaves nothing behind.
    fn drop(&mut self) {
        if let Some(pending) = &self.pending {
            let _ = std::fs::remove_file(&pending.temporary);
        }
    }
}
