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
//! progress and gets another deadline, as long as it has taken bytes at
//! `server.min_answer_bytes_per_sec` on average since a write first had
//! to wait on it (the first deadline being grace), until it catches up.
//! Without that, a client taking a trickle (a few KB/s) held its
//! answer, and the memory the budget counts for it, for as long as the
//! kernel took to drain a buffer's worth: minutes, with every other
//! request turned away (503) meanwhile. The answer's own pace
//! (`answer::Pace`) is measured only as the answer is made, which a full
//! buffer delays just as long.

use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep, sleep};

use super::answer::SlowReader;

pub struct WriteDeadline<S> {
    inner: S,
    limit: Duration,
    /// The least rate a waiting client must take bytes at (0: none).
    min_bytes_per_sec: u64,
    /// Bytes the socket has taken from the server, in all.
    written: u64,
    /// Started when a write first had to wait; cleared by any progress.
    stalled: Option<Stall>,
    /// Since a write first had to wait, until the client has taken all
    /// it was sent: the span its pace is measured over.
    behind: Option<Behind>,
}

struct Stall {
    deadline: Pin<Box<Sleep>>,
    /// The socket's unacknowledged bytes when the deadline was set.
    queued: Option<usize>,
    /// Whether a deadline has passed with progress made.
    progressed: bool,
}

struct Behind {
    since: Instant,
    /// Bytes the client had acknowledged then.
    taken_before: u64,
}

impl<S: AsRawFd> WriteDeadline<S> {
    pub fn new(inner: S, limit: Duration, min_bytes_per_sec: u64) -> Self {
        WriteDeadline {
            inner,
            limit,
            min_bytes_per_sec,
            written: 0,
            stalled: None,
            behind: None,
        }
    }

    /// Bytes the client has acknowledged, in all, given `queued` not yet.
    fn taken(&self, queued: usize) -> u64 {
        self.written.saturating_sub(queued as u64)
    }

    /// Passes `outcome` on, except that a `Pending` past the deadline
    /// becomes an error.
    fn timed<T>(
        &mut self,
        cx: &mut Context<'_>,
        outcome: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        let fd = self.inner.as_raw_fd();
        if outcome.is_ready() {
            self.stalled = None;
            // Caught up: the next wait starts a span of its own.
            if self.behind.is_some() && unacknowledged_bytes(fd) == Some(0) {
                self.behind = None;
            }
            return outcome;
        }
        let limit = self.limit;
        if self.stalled.is_none() {
            let queued = unacknowledged_bytes(fd);
            if self.behind.is_none() {
                let taken_before = queued.map_or(self.written, |q| self.taken(q));
                let since = Instant::now();
                self.behind = Some(Behind {
                    since,
                    taken_before,
                });
            }
            self.stalled = Some(Stall {
                deadline: Box::pin(sleep(limit)),
                queued,
                progressed: false,
            });
        }
        loop {
            let stall = self.stalled.as_mut().expect("set above");
            ready!(stall.deadline.as_mut().poll(cx));
            let queued = unacknowledged_bytes(fd);
            let (Some(now), Some(then)) = (queued, stall.queued) else {
                break;
            };
            if now >= then {
                break;
            }
            // The first deadline is grace: what the client's own buffers
            // take then says little of its pace, and a client that then
            // takes nothing is cut for that.
            let progressed = std::mem::replace(&mut stall.progressed, true);
            stall.queued = queued;
            stall.deadline.as_mut().reset(Instant::now() + limit);
            if let Some(slow) = self.too_slow(now).filter(|_| progressed) {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, slow)));
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

    /// Whether the client, with `queued` bytes still unacknowledged, has
    /// taken less than `min_bytes_per_sec` on average since it fell behind.
    fn too_slow(&self, queued: usize) -> Option<SlowReader> {
        let behind = self.behind.as_ref()?;
        let taken = self.taken(queued).saturating_sub(behind.taken_before);
        SlowReader::below_pace(taken, behind.since.elapsed(), self.min_bytes_per_sec, true)
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
        if let Poll::Ready(Ok(n)) = &outcome {
            self.written += *n as u64;
        }
        self.timed(cx, outcome)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buffers: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let outcome = Pin::new(&mut self.inner).poll_write_vectored(cx, buffers);
        if let Poll::Ready(Ok(n)) = &outcome {
            self.written += *n as u64;
        }
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
