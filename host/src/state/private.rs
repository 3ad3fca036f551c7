//! How the state directory is touched, so that no one but this user can
//! steer what the sidecar (often root, or the service's own user) writes or
//! reads there. Saved state is restored into filters and may hold what the
//! events held (templates of log lines, baselines per client address), so:
//!
//! - a directory another user can write to is refused: that user could
//!   plant a link named as a state file, the lock or a temporary, and have
//!   the sidecar write over any file it can write, or restore a file of
//!   its choosing; the module cache refuses such a directory for the same
//!   reason;
//! - directories are created 0700 and files 0600, whatever the umask, as
//!   their content is the events' business;
//! - files are opened without following a link at their name, and new
//!   ones only created, never opened if something is already there.

use std::fs::{File, OpenOptions};
use std::path::Path;

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};

/// `create_dir_all` with 0700 for what it creates, refusing a file where
/// the directory should be (`create_dir_all` answers only "File exists",
/// as if all were well).
pub(super) fn make_dir(dir: &Path) -> std::io::Result<()> {
    if std::fs::metadata(dir).is_ok_and(|meta| !meta.is_dir()) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "it exists and is not a directory",
        ));
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder.create(dir)
}

/// Refuses `dir` if a user other than this one could add, replace or
/// remove its entries: one that belongs to another user, or that its group
/// or others may write to.
pub(super) fn refuse_shared(dir: &Path) -> std::io::Result<()> {
    let Some(why) = crate::files::others_may_write(&std::fs::metadata(dir)?) else {
        return Ok(());
    };
    Err(std::io::Error::new(
        std::io::ErrorKind::PermissionDenied,
        format!(
            "another user can write to this directory ({why}): they could plant links there \
             that make the sidecar write over other files, or restore state of their choosing; \
             a state directory must be writable by this user alone (chown it, chmod go-w, or \
             choose another)"
        ),
    ))
}

/// Options that never follow a link at the file's name, and never wait on
/// a FIFO or device found there: what is opened is checked to be a regular
/// file after opening (see [`regular`]).
fn options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    options
}

/// A new file at `path`, readable and writable by this user alone, which
/// must not exist yet: a file or link already there is an error, not a
/// file to write into.
pub(super) fn create_new(path: &Path) -> std::io::Result<File> {
    let mut options = options();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    regular(options.open(path)?)
}

/// The lock file at `path`, created (0600) if missing, never through a
/// link, and kept as it is if there.
pub(super) fn open_lock(path: &Path) -> std::io::Result<File> {
    let mut options = options();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    options.mode(0o600);
    regular(options.open(path).map_err(link_said)?)
}

/// The whole file at `path`, if it is a regular file (not a link) of at
/// most `limit` bytes; a larger one is `FileTooLarge`.
pub(super) fn read_capped(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut options = options();
    options.read(true);
    let file = regular(options.open(path).map_err(link_said)?)?;
    crate::files::read_open_capped(file, limit, "saved state")
}

/// `file` if it is a regular file; O_NONBLOCK is then dropped, so that
/// writes are the ordinary kind.
fn regular(file: File) -> std::io::Result<File> {
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let fd = file.as_raw_fd();
        // SAFETY: `fd` is open for as long as `file` lives; F_GETFL and
        // F_SETFL read and set flags only.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(file)
}

/// ELOOP, which is what O_NOFOLLOW answers for a link, said plainly.
fn link_said(error: std::io::Error) -> std::io::Error {
    #[cfg(unix)]
    if error.raw_os_error() == Some(libc::ELOOP) {
        return std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "a symbolic link, which is not followed here; a state file must be a regular file",
        );
    }
    error
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("wasmstash-private-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn made_directories_and_files_are_this_users_alone() {
        let dir = scratch("modes");
        make_dir(&dir.join("a/b")).unwrap();
        for made in [dir.join("a"), dir.join("a/b")] {
            let mode = std::fs::metadata(&made).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700, "{}", made.display());
        }
        refuse_shared(&dir.join("a/b")).unwrap();
        let file = dir.join("a/b/f");
        drop(create_new(&file).unwrap());
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // Only created: what is there already is not written into.
        assert_eq!(
            create_new(&file).unwrap_err().kind(),
            std::io::ErrorKind::AlreadyExists
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_others_may_write_to_is_refused() {
        let dir = scratch("shared");
        make_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let error = refuse_shared(&dir).unwrap_err().to_string();
        assert!(error.contains("mode 1777 lets others write"), "{error}");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o770)).unwrap();
        assert!(refuse_shared(&dir).is_err());
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        refuse_shared(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn links_are_neither_written_through_nor_read_through() {
        let dir = scratch("links");
        make_dir(&dir).unwrap();
        let victim = dir.join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        for name in ["lock", "temporary", "state"] {
            std::os::unix::fs::symlink(&victim, dir.join(name)).unwrap();
        }
        assert!(open_lock(&dir.join("lock")).is_err());
        assert!(create_new(&dir.join("temporary")).is_err());
        let error = read_capped(&dir.join("state"), 100).unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        // A FIFO is refused at once, not waited on.
        let fifo = dir.join("fifo");
        let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: `name` is a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        assert!(read_capped(&fifo, 100).is_err());
        assert!(open_lock(&fifo).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
