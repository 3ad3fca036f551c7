//! Which file a path or a descriptor stands for. Commands that write must
//! not write over what they read or what another of their outputs is, and
//! a path can name a file in many spellings (`x`, `./x`, a hard or symbolic
//! link), so files are told apart by device and inode, and links are
//! followed to where they end.

use std::os::fd::BorrowedFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// A file's device and inode: equal for every spelling of one file.
pub type FileId = (u64, u64);

/// The file `metadata` is of.
pub fn file_id(metadata: &std::fs::Metadata) -> FileId {
    (metadata.dev(), metadata.ino())
}

/// The file `path` names, links followed, if it exists.
pub fn id_of(path: &Path) -> Option<FileId> {
    std::fs::metadata(path).ok().map(|m| file_id(&m))
}

/// What `fd` is open on: a file, a pipe, a terminal, a device.
pub fn fd_id(fd: BorrowedFd) -> Option<FileId> {
    fd_metadata(fd).map(|metadata| file_id(&metadata))
}

/// The regular file `fd` is open on, if it is one (not a pipe, a terminal
/// or a device).
pub fn regular_file_id(fd: BorrowedFd) -> Option<FileId> {
    let metadata = fd_metadata(fd)?;
    metadata.is_file().then(|| file_id(&metadata))
}

/// Whether `fd` is open on `/dev/null`, as a closed stdout is too: the
/// runtime opens it there rather than leave the descriptor free.
pub fn discards(fd: BorrowedFd) -> bool {
    let device = |metadata: std::fs::Metadata| {
        (metadata.file_type().is_char_device()).then(|| metadata.rdev())
    };
    let open = fd_metadata(fd).and_then(device);
    open.is_some() && open == std::fs::metadata("/dev/null").ok().and_then(device)
}

/// Whether stdout was closed when the process started, as the binary
/// noted before Rust's runtime opened `/dev/null` on it (`main.rs`).
static STDOUT_CLOSED_AT_START: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Notes whether stdout was closed at start; only the binary's start-up
/// code calls this, before `main`.
pub fn note_stdout_closed_at_start(closed: bool) {
    STDOUT_CLOSED_AT_START.store(closed, std::sync::atomic::Ordering::Relaxed);
}

/// Whether stdout was closed when the process started (never, where the
/// binary could not look: another OS, or the library used on its own).
pub fn stdout_closed_at_start() -> bool {
    STDOUT_CLOSED_AT_START.load(std::sync::atomic::Ordering::Relaxed)
}

fn fd_metadata(fd: BorrowedFd) -> Option<std::fs::Metadata> {
    std::fs::File::from(fd.try_clone_to_owned().ok()?)
        .metadata()
        .ok()
}

/// The directory a file at `path` is in: its parent, or the current
/// directory for a bare name (whose parent is empty).
pub fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Where writing `path` lands: `path`, or for a symbolic link the file its
/// chain of links ends at, which may not exist yet.
pub fn link_target(path: &Path) -> std::io::Result<PathBuf> {
    let mut current = path.to_owned();
    // As many links as the kernel follows in one path (its ELOOP limit).
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                let named = std::fs::read_link(&current)?;
                current = match current.parent() {
                    Some(directory) => directory.join(named),
                    None => named,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(std::io::Error::other("too many levels of symbolic links"))
}
