//! Reading the files an operator names (the config, modules, the admin
//! token) with a cap on their size.
//!
//! `fs::read` takes whatever the path gives: `/dev/zero` or a mistaken
//! multi-gigabyte file grows the process until the kernel kills it, with no
//! message, and a FIFO blocks it forever. Here only regular files are read,
//! under a cap, and anything else is an error that says why.

mod identity;
pub mod output;
pub(crate) mod private;

pub use identity::{
    FileId, directory_of, discards, fd_id, file_id, id_of, link_target,
    note_stdout_closed_at_start, regular_file_id, stdout_closed_at_start,
};

use std::io::Read;
use std::path::Path;

/// A path as a message shows it: as `display` does, with control and
/// reordering characters escaped, so that a file's name cannot start a line
/// the command did not write, or steer the terminal.
pub fn shown(path: &Path) -> String {
    crate::engine::printable(&path.to_string_lossy())
}

/// The whole of `path`, or an error if it holds more than `limit` bytes.
/// `what` names the file's role in that error ("config", "module", ...).
pub fn read_capped(path: &Path, limit: u64, what: &str) -> std::io::Result<Vec<u8>> {
    // Asked before opening too, so that a device is not opened at all.
    // What is opened is checked again: the path may change in between.
    let not_regular = || {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("the {what} is not a regular file"),
        )
    };
    if !std::fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    let file =
        private::open_regular(path, private::Links::Followed).map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidInput => not_regular(),
            _ => e,
        })?;
    read_open_capped(file, limit, what)
}

/// The rest of an `file` already opened (and checked by the caller), or an
/// error if it holds more than `limit` bytes; `what` as for [`read_capped`].
pub fn read_open_capped(file: std::fs::File, limit: u64, what: &str) -> std::io::Result<Vec<u8>> {
    let declared = file.metadata()?.len();
    if declared > limit {
        return Err(too_large(limit, what));
    }
    // The file may have grown since.
    read_stream_capped(file, declared as usize, limit, what)
}

/// The rest of `stream` (a file, stdin), or an error if it holds more than
/// `limit` bytes; `expected` is what to make room for first.
pub fn read_stream_capped(
    stream: impl Read,
    expected: usize,
    limit: u64,
    what: &str,
) -> std::io::Result<Vec<u8>> {
    // One byte past the cap tells "exactly the limit" from "more".
    let mut bytes = Vec::with_capacity(expected);
    stream.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(limit, what));
    }
    Ok(bytes)
}

fn too_large(limit: u64, what: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::FileTooLarge,
        format!("the {what} is larger than {limit} bytes"),
    )
}

/// Who besides the users `trusted` takes could write to what `meta`
/// describes: its owner, or group and others by its mode.
#[cfg(unix)]
enum OtherWriter {
    Owner(u32),
    Mode(u32),
}

#[cfg(unix)]
fn other_writer(meta: &std::fs::Metadata, trusted: impl Fn(u32) -> bool) -> Option<OtherWriter> {
    use std::os::unix::fs::MetadataExt;
    if !trusted(meta.uid()) {
        Some(OtherWriter::Owner(meta.uid()))
    } else if meta.mode() & 0o022 != 0 {
        Some(OtherWriter::Mode(meta.mode() & 0o7777))
    } else {
        None
    }
}

#[cfg(unix)]
fn this_user() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Why someone other than this user could change what `meta` describes
/// (a directory the module cache or the filters' state is kept in), if
/// so: it belongs to another user, or its mode lets group or others write.
#[cfg(unix)]
pub fn others_may_write(meta: &std::fs::Metadata) -> Option<String> {
    let me = this_user();
    match other_writer(meta, |owner| owner == me)? {
        OtherWriter::Owner(uid) => Some(format!("it belongs to user {uid}, not {me}")),
        OtherWriter::Mode(mode) => Some(format!("its mode {mode:o} lets others write to it")),
    }
}

#[cfg(not(unix))]
pub fn others_may_write(_meta: &std::fs::Metadata) -> Option<String> {
    None
}

/// Why a user other than this one (or root, who can change anything
/// anyway) could change what the sidecar reads from `path` (its config, a
/// module, the admin token), if so: the file belongs to another user or
/// lets group or others write, or its directory lets them replace it (one
/// with the sticky bit, such as /tmp, does not: only a file's owner may
/// rename over it there).
#[cfg(unix)]
pub fn others_may_change(path: &Path) -> std::io::Result<Option<String>> {
    use std::os::unix::fs::MetadataExt;
    let me = this_user();
    let trusted = |owner: u32| owner == me || owner == 0;
    match other_writer(&std::fs::metadata(path)?, trusted) {
        Some(OtherWriter::Owner(uid)) => return Ok(Some(format!("it belongs to user {uid}"))),
        Some(OtherWriter::Mode(mode)) => {
            return Ok(Some(format!("its mode {mode:o} lets others write to it")));
        }
        None => {}
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let dir_meta = std::fs::metadata(dir)?;
    if dir_meta.mode() & 0o1000 != 0 {
        return Ok(None);
    }
    Ok(other_writer(&dir_meta, trusted).map(|writer| match writer {
        OtherWriter::Owner(uid) => format!("its directory {} belongs to user {uid}", dir.display()),
        OtherWriter::Mode(mode) => format!(
            "its directory {} has mode {mode:o}, which lets others replace it",
            dir.display()
        ),
    }))
}

#[cfg(not(unix))]
pub fn others_may_change(_path: &Path) -> std::io::Result<Option<String>> {
    Ok(None)
}

/// [`read_capped`] for a text file, refused unless it is UTF-8. A
/// byte-order mark, which some editors save, is not part of the text: left
/// in, it would make a JSON file unreadable, or a pattern's name another.
pub fn read_capped_text(path: &Path, limit: u64, what: &str) -> std::io::Result<String> {
    into_text(read_capped(path, limit, what)?, what)
}

/// `bytes` read as [`read_capped_text`] reads a file's.
pub fn into_text(mut bytes: Vec<u8>, what: &str) -> std::io::Result<String> {
    let mark = bytes.len() - crate::input::without_byte_order_mark(&bytes).len();
    bytes.drain(..mark);
    String::from_utf8(bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("the {what} is not UTF-8 text"),
        )
    })
}

/// Makes a named pipe at `path`, for the unit tests of what refuses one
/// unread (the integration tests have their own, in `tests/support`).
#[cfg(test)]
pub(crate) fn mkfifo(path: &Path) {
    let name = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `name` is a NUL-terminated path that lives across the call.
    assert_eq!(
        unsafe { libc::mkfifo(name.as_ptr(), 0o600) },
        0,
        "mkfifo {}",
        path.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_is_refused_unread() {
        let error = read_capped(Path::new("/dev/zero"), 1 << 20, "config").unwrap_err();
        assert_eq!(error.to_string(), "the config is not a regular file");
    }

    /// A FIFO put at the path after it was looked at: opening it for
    /// reading waited for a writer, and `check` or a reload hung for good.
    #[test]
    fn a_fifo_met_at_the_open_is_refused_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("module.wasm");
        mkfifo(&fifo);
        let error = private::open_regular(&fifo, private::Links::Followed).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput, "{error}");
    }

    #[test]
    fn a_file_at_the_cap_is_read_and_one_past_it_is_refused() {
        let dir = std::env::temp_dir().join(format!("wasmstash-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        std::fs::write(&path, b"12345").unwrap();
        assert_eq!(read_capped(&path, 5, "module").unwrap(), b"12345");
        let error = read_capped(&path, 4, "module").unwrap_err();
        assert_eq!(error.to_string(), "the module is larger than 4 bytes");
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        let error = read_capped_text(&path, 5, "token file").unwrap_err();
        assert_eq!(error.to_string(), "the token file is not UTF-8 text");
        // A byte-order mark is passed over, as an editor's, not the text's.
        std::fs::write(&path, "\u{feff}{}").unwrap();
        assert_eq!(read_capped_text(&path, 5, "config").unwrap(), "{}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
