//! A connection whose writes must make progress within a deadline.
//!
//! The listener bounds how long a client may take to send a request; this
//! bounds how long it may take to receive the answer. A client that stops
//! reading (a full receive window, or a tiny one) leaves the sidecar's write
//! pending forever, and with it the connection's slot and the response held
//! in memory: enough such clients fill `server.max_connections` and lock
//! everyone else out. So a write (or flush) that has waited
//! `server.write_timeout_ms` without the client taking a byte fails with
//! `TimedOut`, which ends the connection. Waiting between requests, or while
//! a live view has nothing to send, is not a pending write and is not timed.
//!
//! A pending write is not proof that the client took nothing: the kernel
//! wakes a waiting writer only once much of the send buffer has drained,
//! and an autotuned buffer holds megabytes. A client reading steadily but
//! slower than a buffer's worth per deadline would be cut mid-answer. So
//! when the deadline passes, the socket's queue of bytes the client has not
//! yet acknowledged is read again; if it has shrunk, the client is making
//! progress and gets another deadline.

use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep, sleep};

pub struct WriteDeadline<S> {
    inner: S,
    limit: Duration,
    /// Started when a write first had to wait; cleared by any progress.
    stalled: Option<Stall>,
}

struct Stall {
    deadline: Pin<Box<Sleep>>,
    /// The socket's unacknowledged bytes when the deadline was set.
    queued: Option<usize>,
}

impl<S: AsRawFd> WriteDeadline<S> {
    pub fn new(inner: S, limit: Duration) -> Self {
        WriteDeadline {
            inner,
            limit,
            stalled: None,
        }
    }

    /// Passes `outcome` on, except that a `Pending` past the deadline
    /// becomes an error.
    fn timed<T>(
        &mut self,
        cx: &mut Context<'_>,
        outcome: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if outcome.is_ready() {
            self.stalled = None;
            return outcome;
        }
        let (limit, fd) = (self.limit, self.inner.as_raw_fd());
        let stall = self.stalled.get_or_insert_with(|| Stall {
            deadline: Box::pin(sleep(limit)),
            queued: unacknowledged_bytes(fd),
        });
        loop {
            ready!(stall.deadline.as_mut().poll(cx));
            let queued = unacknowledged_bytes(fd);
            match (queued, stall.queued) {
                (Some(now), Some(then)) if now < then => {
                    stall.queued = queued;
                    stall.deadline.as_mut().reset(Instant::now() + limit);
                }
                _ => break,
            }
        }
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "the client took no bytes of the answer for {} ms (server.write_timeout_ms)",
                limit.as_millis()
            ),
        )))
    }
}

/// Bytes written to the socket that the peer has not yet acknowledged
/// (Linux's `SIOCOUTQ`, the same request as `TIOCOUTQ`); `None` where the
/// kernel does not say, and then only the wakeup counts as progress.
fn unacknowledged_bytes(fd: RawFd) -> Option<usize> {
    #[cfg(target_os = "linux")]
    {
        let mut queued: libc::c_int = 0;
        // SAFETY: the request writes one c_int through the pointer, which
        // points at a live c_int; a bad descriptor only returns an error.
        let answer = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut queued) };
        (answer == 0)
            .then(|| usize::try_from(queued).ok())
            .flatten()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = fd;
        None
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteDeadline<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + AsRawFd + Unpin> AsyncWrite for WriteDeadline<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        let outcome = Pin::new(&mut self.inner).poll_write(cx, bytes);
        self.timed(cx, outcome)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buffers: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let outcome = Pin::new(&mut self.inner).poll_write_vectored(cx, buffers);
        self.timed(cx, outcome)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let outcome = Pin::new(&mut self.inner).poll_flush(cx);
        self.timed(cx, outcome)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let outcome = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.timed(cx, outcome)
    }
}
