//! How the state directory and the compiled-module cache are touched, so
//! that no one but this user can steer what the sidecar (often root, or the
//! service's own user) writes or reads there. Saved state is restored into
//! filters and may hold what the events held (templates of log lines,
//! baselines per client address), and cached code is run as it is, so:
//!
//! - a directory another user can write to is refused: that user could
//!   plant a link named as a state file, a cache entry, the lock or a
//!   temporary, and have the sidecar write over any file it can write, or
//!   restore or run a file of its choosing;
//! - directories are created 0700 and files 0600, whatever the umask, as
//!   their content is the events' business;
//! - files are opened without following a link at their name, and new
//!   ones only created, never opened if something is already there;
//! - the module cache works in a directory it opened once ([`Dir`]), so
//!   re-pointing a link on its path later does not move its writes.

use std::fs::{File, OpenOptions};
use std::path::Path;

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};

/// `create_dir_all` with 0700 for what it creates, refusing a file where
/// the directory should be (`create_dir_all` answers only "File exists",
/// as if all were well).
pub(crate) fn make_dir(dir: &Path) -> std::io::Result<()> {
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
pub(crate) fn refuse_shared(dir: &Path) -> std::io::Result<()> {
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
pub(crate) fn create_new(path: &Path) -> std::io::Result<File> {
    let mut options = options();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    regular(options.open(path)?)
}

/// The lock file at `path`, created (0600) if missing, never through a
/// link, and kept as it is if there.
pub(crate) fn open_lock(path: &Path) -> std::io::Result<File> {
    let mut options = options();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    options.mode(0o600);
    regular(options.open(path).map_err(link_said)?)
}

/// The saved state file at `path`, whole, if it is a regular file (not a
/// link) of at most `limit` bytes; a larger one is `FileTooLarge`. Unlike
/// [`crate::files::read_capped`], a link is refused.
pub(crate) fn read_saved_state(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let file = open_regular(path, Links::Refused)?;
    crate::files::read_open_capped(file, limit, "saved state")
}

/// Whether opening a path may go through a symbolic link.
pub(crate) enum Links {
    Followed,
    Refused,
}

/// `path` opened for reading, if what was opened is a regular file. The
/// open does not wait: a FIFO put at the path after any look at it would
/// otherwise block it until a writer came, for good if none does.
pub(crate) fn open_regular(path: &Path, links: Links) -> std::io::Result<File> {
    let mut options = options();
    options.read(true);
    #[cfg(unix)]
    if let Links::Followed = links {
        // In place of `options`' flags: it keeps their not waiting only.
        options.custom_flags(libc::O_NONBLOCK);
    }
    regular(options.open(path).map_err(link_said)?)
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
            "a symbolic link, which is not followed here; the file must be a regular file",
        );
    }
    error
}

/// A directory opened once: what is created, read, renamed or removed
/// through it stays in the directory that was opened (and checked), even
/// if a link on its path is re-pointed afterwards. Names are single path
/// components, never followed if they are links.
#[cfg(unix)]
pub(crate) struct Dir {
    dir: File,
}

#[cfg(unix)]
impl Dir {
    /// Opens the directory at `path`; links on the path are followed this
    /// once, as the operator named it.
    pub(crate) fn open(path: &Path) -> std::io::Result<Dir> {
        let mut options = OpenOptions::new();
        options.read(true).custom_flags(libc::O_DIRECTORY);
        Ok(Dir {
            dir: options.open(path)?,
        })
    }

    /// The opened directory's own metadata (owner, mode).
    pub(crate) fn metadata(&self) -> std::io::Result<std::fs::Metadata> {
        self.dir.metadata()
    }

    fn open_at(&self, name: &str, flags: libc::c_int) -> std::io::Result<File> {
        use std::os::fd::{AsRawFd, FromRawFd};
        let name = c_name(name)?;
        let flags = flags | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;
        // SAFETY: `name` is NUL-terminated and the directory's descriptor
        // is open while `self` lives; openat returns a new descriptor that
        // nothing else owns, or -1.
        let fd = unsafe {
            libc::openat(
                self.dir.as_raw_fd(),
                name.as_ptr(),
                flags,
                0o600 as libc::c_uint,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened and is owned by nothing else.
        regular(unsafe { File::from_raw_fd(fd) })
    }

    /// As [`create_new`], for `name` in this directory.
    pub(crate) fn create_new(&self, name: &str) -> std::io::Result<File> {
        self.open_at(name, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL)
    }

    /// `name` in this directory opened for reading, if it is a regular
    /// file and not a link.
    pub(crate) fn open_read(&self, name: &str) -> std::io::Result<File> {
        self.open_at(name, libc::O_RDONLY).map_err(link_said)
    }

    /// Renames `from` to `to`, both in this directory.
    pub(crate) fn rename(&self, from: &str, to: &str) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        let (from, to) = (c_name(from)?, c_name(to)?);
        let fd = self.dir.as_raw_fd();
        // SAFETY: both names are NUL-terminated; the descriptor is open.
        match unsafe { libc::renameat(fd, from.as_ptr(), fd, to.as_ptr()) } {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        }
    }

    /// Removes `name` from this directory (a link itself, not what it
    /// points to).
    pub(crate) fn remove(&self, name: &str) -> std::io::Result<()> {
        use std::os::fd::AsRawFd;
        let name = c_name(name)?;
        // SAFETY: `name` is NUL-terminated; the descriptor is open.
        match unsafe { libc::unlinkat(self.dir.as_raw_fd(), name.as_ptr(), 0) } {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        }
    }

    /// The names in this directory that are UTF-8, besides `.` and `..`.
    pub(crate) fn names(&self) -> std::io::Result<Vec<String>> {
        use std::os::fd::AsRawFd;
        // A descriptor of its own, which the stream takes and closes.
        // SAFETY: F_DUPFD_CLOEXEC returns a new descriptor or -1.
        let fd = unsafe { libc::fcntl(self.dir.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` is an open directory descriptor nothing else owns.
        let stream = unsafe { libc::fdopendir(fd) };
        if stream.is_null() {
            let error = std::io::Error::last_os_error();
            // SAFETY: `fd` is still this function's to close.
            unsafe { libc::close(fd) };
            return Err(error);
        }
        // The duplicate shares its position with the directory's own
        // descriptor, which an earlier listing moved to the end.
        // SAFETY: `stream` is a valid, open directory stream.
        unsafe { libc::rewinddir(stream) };
        let mut names = Vec::new();
        loop {
            // SAFETY: as above; the entry it returns is valid until the
            // next call on the stream, and is copied before then.
            let entry = unsafe { libc::readdir(stream) };
            if entry.is_null() {
                break;
            }
            // SAFETY: `d_name` is NUL-terminated within the entry.
            let name = unsafe { std::ffi::CStr::from_ptr((*entry).d_name.as_ptr()) };
            if let Ok(name) = name.to_str()
                && name != "."
                && name != ".."
            {
                names.push(name.to_owned());
            }
        }
        // SAFETY: the stream is open, and closed once (with its descriptor).
        unsafe { libc::closedir(stream) };
        Ok(names)
    }
}

/// A single component of a path in a [`Dir`], as the C calls take it.
#[cfg(unix)]
fn c_name(name: &str) -> std::io::Result<std::ffi::CString> {
    if name.contains('/') || name.is_empty() || name == "." || name == ".." {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("`{name}` is not a name within a directory"),
        ));
    }
    std::ffi::CString::new(name)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "a name with NUL"))
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
        let error = read_saved_state(&dir.join("state"), 100).unwrap_err();
        assert!(error.to_string().contains("symbolic link"), "{error}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        // A FIFO is refused at once, not waited on.
        let fifo = dir.join("fifo");
        crate::files::mkfifo(&fifo);
        assert!(read_saved_state(&fifo, 100).is_err());
        assert!(open_lock(&fifo).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
