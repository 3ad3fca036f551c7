//! The memory that requests hold on clients' behalf, all connections
//! together, under one budget (`server.max_inflight_body_bytes`).
//!
//! A request holds a [`Share`] of it for its whole life, resized at each
//! step to the copies the request holds then: its body as it arrives; the
//! body and its checked events while they are made; the events alone once
//! the body is let go; the results once a worker has run them; and what
//! is left of the results while the answer is written. Until the results,
//! a share grows only within the budget (past it, the request is refused
//! 503). Results cannot be refused once they exist, so their share takes
//! what the budget has and counts the rest beyond it; while anything is
//! held beyond it, workers finish the call they are in and take no new
//! one (see [`Budget::wait_until_within`]), so what is beyond the budget
//! is at most one call's growth per worker.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::event_check::CheckedEvent;
use crate::pipeline::EventResult;

pub struct Budget {
    /// One permit per byte.
    permits: Arc<Semaphore>,
    size: usize,
    /// Bytes held beyond the permits: results a worker made when the
    /// budget had too little left for them.
    beyond: AtomicUsize,
    /// Signalled when `beyond` comes back to 0.
    cleared: (Mutex<()>, Condvar),
}

impl Budget {
    pub fn new(size: usize) -> Arc<Budget> {
        Arc::new(Budget {
            permits: Arc::new(Semaphore::new(size)),
            size,
            beyond: AtomicUsize::new(0),
            cleared: (Mutex::new(()), Condvar::new()),
        })
    }

    /// Bytes held now, within the budget and beyond it.
    pub fn held(&self) -> usize {
        self.size - self.permits.available_permits() + self.beyond.load(Ordering::SeqCst)
    }

    /// Whether anything is held beyond the budget.
    pub fn is_exceeded(&self) -> bool {
        self.beyond.load(Ordering::SeqCst) > 0
    }

    /// Waits (on a blocking thread) until nothing is held beyond the
    /// budget. Workers wait here before a new call: its results would take
    /// memory the budget has not got. What is beyond it is answers being
    /// written, each cut off if its client takes nothing for
    /// `server.write_timeout_ms`, or takes an answer slower than
    /// `server.min_answer_bytes_per_sec` past that, so the wait ends
    /// without anything else having to happen.
    pub fn wait_until_within(&self) {
        let (lock, cleared) = &self.cleared;
        let mut guard = crate::locked(lock);
        while self.is_exceeded() {
            guard = (cleared.wait_timeout(guard, Duration::from_millis(100)))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn add_beyond(&self, bytes: usize) {
        self.beyond.fetch_add(bytes, Ordering::SeqCst);
    }

    fn remove_beyond(&self, bytes: usize) {
        if self.beyond.fetch_sub(bytes, Ordering::SeqCst) == bytes {
            // Taken under the lock, so that a worker between its look at
            // `beyond` and its wait cannot miss this.
            let _guard = crate::locked(&self.cleared.0);
            self.cleared.1.notify_all();
        }
    }
}

/// One request's part of the [`Budget`], given back when dropped.
pub struct Share {
    budget: Arc<Budget>,
    permits: Option<OwnedSemaphorePermit>,
    beyond: usize,
}

/// The budget had not enough left for what a request was about to hold.
#[derive(Debug, PartialEq, Eq)]
pub enum OverBudget {
    /// Not now: other requests hold the rest.
    Now,
    /// Never: the request would hold more than the whole budget.
    Ever { budget: usize },
}

impl Share {
    pub fn new(budget: &Arc<Budget>) -> Share {
        Share {
            budget: budget.clone(),
            permits: None,
            beyond: 0,
        }
    }

    /// The bytes this share stands for.
    pub fn bytes(&self) -> usize {
        self.within() + self.beyond
    }

    fn within(&self) -> usize {
        self.permits
            .as_ref()
            .map_or(0, OwnedSemaphorePermit::num_permits)
    }

    /// Adds `bytes` from what the budget has left, or nothing if it has
    /// not that much.
    pub fn grow(&mut self, bytes: usize) -> Result<(), OverBudget> {
        let size = self.budget.size;
        if self.bytes().saturating_add(bytes) > size {
            return Err(OverBudget::Ever { budget: size });
        }
        if self.take(bytes) {
            Ok(())
        } else {
            Err(OverBudget::Now)
        }
    }

    /// Takes `bytes` of permits, all or none.
    fn take(&mut self, bytes: usize) -> bool {
        // An acquire takes a u32 at most, and the budget may be up to
        // 1 TiB: more is taken in pieces. Refused with nothing taken when
        // fewer were free, the pieces a failed take holds go back as it
        // drops them, so the take stays all or none.
        let mut taken: Option<OwnedSemaphorePermit> = None;
        let mut left = bytes;
        while left > 0 {
            let count = u32::try_from(left).unwrap_or(u32::MAX);
            let Ok(more) = (self.budget.permits.clone()).try_acquire_many_owned(count) else {
                return false;
            };
            match &mut taken {
                Some(pieces) => pieces.merge(more),
                None => taken = Some(more),
            }
            left -= count as usize;
        }
        if let Some(more) = taken {
            match &mut self.permits {
                Some(permits) => permits.merge(more),
                None => self.permits = Some(more),
            }
        }
        true
    }

    /// Stands for `bytes` from now on. Less gives back the difference
    /// (what is beyond the budget first); more takes what the budget has
    /// left and counts the rest beyond it.
    pub fn resize(&mut self, bytes: usize) {
        let now = self.bytes();
        if bytes <= now {
            self.give_back(now - bytes);
            return;
        }
        let wanted = bytes - now;
        let left = self.budget.permits.available_permits();
        // Another request may take permits between the look and the
        // acquire; then this one counts all it wanted beyond the budget.
        let take = wanted.min(left);
        let taken = if self.take(take) { take } else { 0 };
        let rest = wanted - taken;
        if rest > 0 {
            self.beyond += rest;
            self.budget.add_beyond(rest);
        }
    }

    /// Gives back `bytes` of the share (at most all of it).
    pub fn give_back(&mut self, bytes: usize) {
        let from_beyond = bytes.min(self.beyond);
        if from_beyond > 0 {
            self.beyond -= from_beyond;
            self.budget.remove_beyond(from_beyond);
        }
        let from_within = (bytes - from_beyond).min(self.within());
        if let Some(permits) = &mut self.permits
            && from_within > 0
        {
            drop(permits.split(from_within));
        }
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        self.give_back(self.beyond);
    }
}

/// The bytes the allocator takes for a block of `bytes`: jemalloc's size
/// classes, four to each doubling above 16 bytes (a 258-byte line takes
/// 320). For blocks of some pages the classes step the same way; a huge
/// block's rounding is to a page, within this.
pub fn allocation(bytes: usize) -> usize {
    if bytes <= 16 {
        return if bytes <= 8 { 8 } else { 16 };
    }
    let step = (bytes.next_power_of_two() / 8).max(16);
    bytes.div_ceil(step) * step
}

/// The memory a checked event holds apart from its place in a list: its
/// text (made with no room to spare, see `routes::checked_copy`), and its
/// list of top-level keys once it has more than fit inline (eight, of
/// twelve bytes each).
pub fn event_bytes(event: &CheckedEvent) -> usize {
    let keys = event.key_spans().len();
    let spilled = if keys > 8 {
        allocation(keys.next_power_of_two() * 12)
    } else {
        0
    };
    allocation(event.text().len()) + spilled
}

/// The memory of a list's buffer of `capacity` items of `T`.
pub fn list_bytes<T>(capacity: usize) -> usize {
    allocation(capacity * size_of::<T>())
}

/// The memory a request's results hold: each event's text, as the
/// pipeline left it (with the room it grew into), and the list.
pub fn results_bytes(results: &[EventResult]) -> usize {
    let texts: usize = (results.iter())
        .map(|result| match result {
            EventResult::Event(text) => allocation(text.capacity()),
            EventResult::Dropped => 0,
        })
        .sum();
    texts + list_bytes::<EventResult>(results.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_follow_jemallocs_size_classes() {
        let classes = [
            (1, 8),
            (9, 16),
            (17, 32),
            (33, 48),
            (129, 160),
            (256, 256),
            (258, 320),
            (513, 640),
            (4097, 5120),
            ((1 << 20) + 1, 1_310_720),
        ];
        for (bytes, class) in classes {
            assert_eq!(allocation(bytes), class, "{bytes}");
        }
    }

    #[test]
    fn a_share_takes_past_the_budget_only_when_resized() {
        let budget = Budget::new(100);
        let mut first = Share::new(&budget);
        first.grow(60).unwrap();
        let mut second = Share::new(&budget);
        assert!(second.grow(50).is_err());
        assert_eq!(second.bytes(), 0);
        second.resize(70);
        assert_eq!((second.bytes(), budget.held()), (70, 130));
        assert_eq!(budget.beyond.load(Ordering::SeqCst), 30);
        // What is beyond the budget is given back first.
        second.give_back(40);
        assert_eq!(budget.beyond.load(Ordering::SeqCst), 0);
        assert_eq!((second.bytes(), budget.held()), (30, 90));
        first.resize(10);
        drop(second);
        assert_eq!(budget.held(), 10);
        drop(first);
        assert_eq!(budget.held(), 0);
    }

    /// Permits cost no memory, so a budget over 4 GiB is tested at its
    /// full size: what is at stake is only the count of bytes.
    #[test]
    fn shares_over_four_gib_are_taken_within_the_budget_while_it_has_room() {
        const GIB: usize = 1 << 30;
        let budget = Budget::new(6 * GIB);
        let mut first = Share::new(&budget);
        // More than one acquire can take.
        first.grow(5 * GIB).unwrap();
        assert_eq!((first.bytes(), budget.held()), (5 * GIB, 5 * GIB));
        assert!(!budget.is_exceeded());
        // All or none: a grow the rest cannot cover takes nothing.
        let mut second = Share::new(&budget);
        assert_eq!(second.grow(2 * GIB), Err(OverBudget::Now));
        assert_eq!((second.bytes(), budget.held()), (0, 5 * GIB));
        drop(first);
        assert_eq!(budget.held(), 0);

        // Results that grow by 5 GiB while the budget has room for them
        // are within it: nothing beyond it makes the workers wait.
        second.resize(5 * GIB);
        assert_eq!(budget.beyond.load(Ordering::SeqCst), 0);
        assert!(!budget.is_exceeded());
        // Past the budget, only the part it has no room for is beyond.
        second.resize(11 * GIB);
        assert_eq!(budget.beyond.load(Ordering::SeqCst), 5 * GIB);
        assert_eq!((second.bytes(), budget.held()), (11 * GIB, 11 * GIB));
        second.give_back(6 * GIB);
        assert!(!budget.is_exceeded());
        assert_eq!((second.bytes(), budget.held()), (5 * GIB, 5 * GIB));
        drop(second);
        assert_eq!(budget.held(), 0);
        assert_eq!(budget.permits.available_permits(), 6 * GIB);
    }
}
