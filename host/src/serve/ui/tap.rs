//! The live view's only hook into the request path.
//!
//! With no page open, a call pays one relaxed atomic load. With a page open,
//! a call whose answer fits the remaining byte budget hands over a reference
//! to its answer body (a `Bytes` clone: no copy) through a bounded queue that
//! it never waits on. Everything else — parsing, masking, counting — happens
//! later on the live view's own task, for at most the sampled bytes.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};

use axum::body::Bytes;

/// Samples waiting for the live view's task; beyond this they are skipped.
const MAX_QUEUED: usize = 256;

/// What a sampled body holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// One processed event (the `event` endpoint).
    Event,
    /// NDJSON result lines (the `batch` endpoint).
    Batch,
}

pub struct Sample {
    pub pipeline: String,
    pub kind: BodyKind,
    pub body: Bytes,
}

#[derive(Default)]
pub struct Tap {
    viewers: AtomicUsize,
    /// Bytes that may still be sampled before the next refill.
    budget: AtomicI64,
    /// Calls seen while a page was open, and how many of them were sampled.
    offered: AtomicU64,
    sampled: AtomicU64,
    queue: Mutex<VecDeque<Sample>>,
}

impl Tap {
    /// Called with every answer body. Cheap by construction; see the module doc.
    #[inline]
    pub fn offer(&self, pipeline: &str, kind: BodyKind, body: &Bytes) {
        if self.viewers.load(Ordering::Relaxed) == 0 {
            return;
        }
        self.offer_while_watched(pipeline, kind, body);
    }

    #[cold]
    fn offer_while_watched(&self, pipeline: &str, kind: BodyKind, body: &Bytes) {
        self.offered.fetch_add(1, Ordering::Relaxed);
        let Some(body) = self.take_budget(kind, body) else {
            return;
        };
        // Never wait on the live view: a busy lock or a full queue skips.
        let Ok(mut queue) = self.queue.try_lock() else {
            return;
        };
        if queue.len() < MAX_QUEUED {
            queue.push_back(Sample {
                pipeline: pipeline.to_owned(),
                kind,
                body,
            });
            self.sampled.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How many bytes of an answer would be sampled now: none while no
    /// page is open. An answer that is not made whole (a batch's) is
    /// offered as its first lines up to this.
    pub fn wants(&self) -> usize {
        if self.viewers.load(Ordering::Relaxed) == 0 {
            return 0;
        }
        self.budget.load(Ordering::Relaxed).max(0) as usize
    }

    /// The part of `body` the budget allows: all of it, a prefix of whole
    /// result lines for a batch, or nothing.
    fn take_budget(&self, kind: BodyKind, body: &Bytes) -> Option<Bytes> {
        // A batch's lines that did not fit what was left: nothing to show.
        if body.is_empty() {
            return None;
        }
        let len = body.len() as i64;
        let mut left = self.budget.load(Ordering::Relaxed);
        loop {
            if left <= 0 {
                return None;
            }
            let take = len.min(left);
            match self.budget.compare_exchange_weak(
                left,
                left - take,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) if take == len => return Some(body.clone()),
                Ok(_) if kind == BodyKind::Batch => {
                    let cut = memchr::memrchr(b'\n', &body[..take as usize])?;
                    return Some(body.slice(..cut + 1));
                }
                Ok(_) => return None,
                Err(now) => left = now,
            }
        }
    }

    /// Sets the byte budget until the next refill.
    pub fn refill(&self, bytes: usize) {
        self.budget.store(bytes as i64, Ordering::Relaxed);
    }

    /// Takes what was sampled since the last call.
    pub fn drain(&self) -> Vec<Sample> {
        let mut queue = crate::locked(&self.queue);
        queue.drain(..).collect()
    }

    /// (calls offered, calls sampled) since the start, while watched.
    pub fn coverage(&self) -> (u64, u64) {
        (
            self.offered.load(Ordering::Relaxed),
            self.sampled.load(Ordering::Relaxed),
        )
    }

    pub fn viewers(&self) -> usize {
        self.viewers.load(Ordering::Relaxed)
    }

    /// Counts a page as open until the guard drops.
    pub fn watch(self: &std::sync::Arc<Self>) -> Viewer {
        self.viewers.fetch_add(1, Ordering::Relaxed);
        Viewer(self.clone())
    }
}

pub struct Viewer(std::sync::Arc<Tap>);

impl Drop for Viewer {
    fn drop(&mut self) {
        self.0.viewers.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn samples_only_while_watched_and_within_the_budget() {
        let tap = Arc::new(Tap::default());
        tap.refill(1000);
        let body = Bytes::from_static(b"{\"event\":{}}\n{\"event\":{\"a\":1}}\n");
        tap.offer("p", BodyKind::Batch, &body);
        assert!(tap.drain().is_empty(), "sampled with no page open");

        let viewer = tap.watch();
        tap.refill(20);
        tap.offer("p", BodyKind::Batch, &body);
        let samples = tap.drain();
        assert_eq!(samples.len(), 1);
        // A prefix of whole lines, within the 20 bytes left.
        assert_eq!(&samples[0].body[..], b"{\"event\":{}}\n");
        tap.offer("p", BodyKind::Batch, &body);
        assert!(tap.drain().is_empty(), "the budget is spent");

        tap.refill(1000);
        tap.offer("p", BodyKind::Event, &Bytes::from_static(b"{}"));
        assert_eq!(tap.drain().len(), 1);
        drop(viewer);
        assert_eq!(tap.viewers(), 0);
        tap.offer("p", BodyKind::Event, &Bytes::from_static(b"{}"));
        assert!(tap.drain().is_empty());
    }
}
