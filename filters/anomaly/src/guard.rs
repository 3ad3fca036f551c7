//! Guards the event-time clock against one bogus timestamp. The clock only
//! moves forward, and an event behind it by more than the lateness is late
//! for `rate` and `error_ratio`; so a single event dated years ahead (a
//! device with a wrong clock, a mangled year) would make every later event
//! late and silence both detectors for good.
//!
//! The rule: an event more than `max_clock_jump_secs` ahead of the newest event
//! time seen is held, not counted, while the clock stays. It is released
//! (counted, moving the clock as any event would) when either
//! - `clock_jump_confirm_events` held events in a row agree the clock is behind: a real gap
//!   in event time (a quiet night, logs of another day), after which every
//!   event is in the new time; or
//! - the clock catches up with it (to within `max_clock_jump_secs`).
//!
//! It is dropped (counted in `future_events`) when a later event is more than
//! `max_clock_jump_secs` behind it: time went on from before it, so it was
//! bogus. A real gap's events follow one another, so none of them drops
//! another, and none is lost: once confirmed, all are counted in their own
//! intervals, as if the clock had followed at once. Only the per-interval
//! detectors wait; the per-event ones judge a held event at once.
//!
//! A run of `clock_jump_confirm_events` bogus events with nothing in between still moves the
//! clock; and the very first event seen is taken as it is.

use serde::{Deserialize, Serialize};

/// An event held back from the interval detectors: its time and, for each
/// interval tracker (by id), its key and whether it is an error.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Held {
    pub millis: i64,
    pub entries: Vec<HeldEntry>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct HeldEntry {
    pub tracker: String,
    pub key: String,
    pub is_error: bool,
}

#[derive(Default, Clone, Debug, PartialEq)]
pub struct Guard {
    pub held: Vec<Held>,
}

impl Guard {
    /// Whether an event at `millis` may move a clock whose newest event time
    /// is `latest` on its own.
    pub fn admits(latest: Option<i64>, millis: i64, max_jump_ms: i64) -> bool {
        latest.is_none_or(|latest| millis <= latest.saturating_add(max_jump_ms))
    }

    /// Drops the held events that an event at `millis` shows bogus; returns
    /// how many.
    pub fn drop_contradicted(&mut self, millis: i64, max_jump_ms: i64) -> usize {
        let before = self.held.len();
        self.held
            .retain(|held| held.millis <= millis.saturating_add(max_jump_ms));
        before - self.held.len()
    }

    /// Holds `held`; returns every held event, oldest first, once `confirm`
    /// of them are held.
    pub fn hold(&mut self, held: Held, confirm: usize) -> Option<Vec<Held>> {
        self.held.push(held);
        (self.held.len() >= confirm).then(|| std::mem::take(&mut self.held))
    }

    /// Takes the first held event (oldest first) the clock, now at
    /// `latest`, has come within `max_jump_ms` of.
    pub fn release(&mut self, latest: Option<i64>, max_jump_ms: i64) -> Option<Held> {
        let at = self
            .held
            .iter()
            .position(|held| Self::admits(latest, held.millis, max_jump_ms))?;
        Some(self.held.remove(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(millis: i64) -> Held {
        Held {
            millis,
            entries: Vec::new(),
        }
    }

    #[test]
    fn holds_until_confirmed_drops_when_contradicted_releases_when_caught_up() {
        let mut guard = Guard::default();
        assert!(Guard::admits(None, i64::MAX, 10));
        assert!(Guard::admits(Some(100), 110, 10));
        assert!(!Guard::admits(Some(100), 111, 10));
        assert!(guard.hold(held(500), 3).is_none());
        assert!(guard.hold(held(505), 3).is_none());
        // 200 is far behind both: they were bogus.
        assert_eq!(guard.drop_contradicted(200, 10), 2);
        assert!(guard.hold(held(300), 3).is_none());
        assert_eq!(guard.drop_contradicted(295, 10), 0);
        assert!(guard.release(Some(200), 10).is_none());
        assert_eq!(guard.release(Some(295), 10), Some(held(300)));
        guard.hold(held(1000), 3);
        guard.hold(held(1001), 3);
        let all = guard.hold(held(1002), 3).unwrap();
        assert_eq!(
            all.iter().map(|h| h.millis).collect::<Vec<_>>(),
            [1000, 1001, 1002]
        );
        assert!(guard.held.is_empty());
    }
}
