//! Standard output as `run` writes it: straight to the descriptor, and
//! patient with one left non-blocking.
//!
//! A parent may hand over a pipe with `O_NONBLOCK` set (it shares the open
//! file, flags included). A write to it then fails with `EAGAIN` whenever
//! the reader falls behind, and `run` used to stop there, exit 1, with the
//! last line cut in the middle. A write that would block now waits until
//! the pipe can take more, as a blocking write would have.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;

pub(super) struct Output(pub File);

impl Write for Output {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        loop {
            match self.0.write(bytes) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait_writable(&self.0)?,
                other => return other,
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// Waits, without a time limit, until `file` can take a write (or its
/// reader is gone, which the next write then reports).
fn wait_writable(file: &File) -> io::Result<()> {
    let mut poll = libc::pollfd {
        fd: file.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd, for the length given.
    match unsafe { libc::poll(&mut poll, 1, -1) } {
        -1 => {
            let error = io::Error::last_os_error();
            // A signal (Ctrl-C is noted and handled by the caller) only
            // wakes the wait; the write is tried again.
            if error.kind() == io::ErrorKind::Interrupted {
                Ok(())
            } else {
                Err(error)
            }
        }
        _ => Ok(()),
    }
}
