//! The interval detectors, `rate` and `error_ratio`: events are counted per
//! key in fixed event-time intervals, and an interval is judged once it is
//! closed, that is once the watermark (the latest event time seen, minus the
//! allowed lateness) has passed its end. Events up to `lateness` late still
//! land in their own interval; later ones are counted as late and skipped.
//!
//! Closing is driven by every key's events, so a key that stops sending is
//! still judged: its intervals close with zero events as others advance time.

use serde::{Deserialize, Serialize};
use wasmstash_sdk::field_ref::FieldRef;
use wasmstash_sdk::{Event, host};

use crate::baseline::Ewma;
use crate::charge::{self, SNAPSHOT_COPIES, Weigh};
use crate::config::{ErrorRatioConfig, RateConfig};
use crate::finding::Finding;
use crate::judge::{Context, SilentRun, judge_errors, judge_rate, rate_finding, skip_rate};
use crate::keyed::Keyed;

/// At most this many intervals of a gap in event time are judged as empty
/// intervals per key (the last ones); a longer gap (logs of another day)
/// skips the rest.
const MAX_GAP_INTERVALS: i64 = 1440;

/// Runs of empty intervals up to this long are judged one by one, as they
/// always were (a quiet key between two closes); longer ones, which only a
/// gap in event time makes, in one step (`judge::skip_rate`), so a gap costs
/// each key the same whatever its length.
const STEPPED_EMPTY_RUN: i64 = 8;

/// The event-time clock: bucket arithmetic and the watermark.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Clock {
    pub interval_ms: i64,
    pub lateness_ms: i64,
    pub latest: Option<i64>,
    /// Every interval up to and including this index is closed.
    pub closed_through: Option<i64>,
}

impl Clock {
    pub fn new(interval_ms: i64, lateness_ms: i64) -> Clock {
        Clock {
            interval_ms,
            lateness_ms,
            ..Clock::default()
        }
    }

    pub fn bucket(&self, millis: i64) -> i64 {
        millis.div_euclid(self.interval_ms)
    }

    /// Moves the watermark with an event at `millis`. Returns the last
    /// interval index now closed if that advanced.
    pub fn observe(&mut self, millis: i64) -> Option<i64> {
        if self.latest.is_some_and(|latest| millis <= latest) {
            return None;
        }
        self.latest = Some(millis);
        // Saturating: a timestamp near i64::MIN (epoch millis are taken as
        // they come) would wrap to near i64::MAX and close every interval
        // there is, making every later event late for good.
        let through = self.bucket(millis.saturating_sub(self.lateness_ms)) - 1;
        match self.closed_through {
            Some(closed) if through <= closed => None,
            None => {
                // Nothing before the first event is judged.
                self.closed_through = Some(through);
                None
            }
            Some(_) => {
                self.closed_through = Some(through);
                Some(through)
            }
        }
    }

    /// A clock closed past its newest event cannot be, whatever the
    /// lateness: it was saved by a build whose arithmetic wrapped on a
    /// timestamp near i64::MIN, and would make every event late for good.
    /// The watermark is derived again from the newest event.
    pub fn repair(&mut self) {
        if let (Some(latest), Some(closed)) = (self.latest, self.closed_through)
            && closed >= self.bucket(latest)
        {
            self.closed_through = Some(self.bucket(latest.saturating_sub(self.lateness_ms)) - 1);
            host::log(
                host::Level::Warn,
                "the saved event-time clock was closed past its newest event (a timestamp near \
                 i64::MIN, saved by an earlier build); its watermark is derived again",
            );
        }
    }

    pub fn is_closed(&self, bucket: i64) -> bool {
        self.closed_through.is_some_and(|closed| bucket <= closed)
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Bucket {
    pub index: i64,
    pub events: u32,
    pub errors: u32,
}

/// One key's open intervals and baselines.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct KeyIntervals {
    open: Vec<Bucket>,
    /// The first interval not yet judged.
    next: i64,
    pub rate: Ewma,
    pub ratio: Ewma,
    pub rate_streak: u32,
    pub ratio_streak: u32,
}

/// Charges (`charge.rs`): a map slot of about 104 bytes in WebAssembly,
/// and about 50 bytes of snapshot; per open interval 16 bytes in a grown
/// list and up to 12 in the snapshot.
impl Weigh for KeyIntervals {
    const FIXED: usize = 2 * 104 + SNAPSHOT_COPIES * 50;
    fn weight(&self) -> usize {
        let n = self.open.len();
        charge::grown(charge::list(n, 16)) + SNAPSHOT_COPIES * 12 * n
    }
}

impl KeyIntervals {
    /// Whether any interval of the key has been judged. Derived, not stored,
    /// so snapshots keep their format: every judged interval is learned or
    /// moves a streak, except one with fewer than `error_ratio.min_events`
    /// events, which `error_ratio` alone ignores as it does an empty one.
    fn started(&self) -> bool {
        self.rate.samples > 0
            || self.ratio.samples > 0
            || self.rate_streak > 0
            || self.ratio_streak > 0
    }

    pub fn new(next: i64) -> Self {
        KeyIntervals {
            open: Vec::new(),
            next,
            rate: Ewma::default(),
            ratio: Ewma::default(),
            rate_streak: 0,
            ratio_streak: 0,
        }
    }
}

/// What closing found for one key, before the findings are queued.
enum Found {
    One(Finding),
    /// Reported silences, written out only if they will be queued.
    Silent(String, SilentRun),
}

impl Found {
    fn key(&self) -> &str {
        match self {
            Found::One(f) => &f.key,
            Found::Silent(key, _) => key,
        }
    }
    fn detector(&self) -> &'static str {
        match self {
            Found::One(f) => f.detector.as_str(),
            Found::Silent(..) => "rate",
        }
    }
    fn len(&self) -> u64 {
        match self {
            Found::One(_) => 1,
            Found::Silent(_, run) => run.count,
        }
    }
}

/// `rate` and/or `error_ratio` over one key field.
pub struct IntervalTracker {
    pub key_field: FieldRef,
    rate: Option<RateConfig>,
    errors: Option<ErrorRule>,
    pub(crate) keys: Keyed<KeyIntervals>,
    /// Intervals judged one at a time, and runs of empty intervals judged
    /// in one step, all keys together: what closing has cost.
    pub judged: u64,
    pub skipped_runs: u64,
}

/// `error_ratio`'s config with the level and status fields it reads on
/// every event, split once.
struct ErrorRule {
    config: ErrorRatioConfig,
    level_field: FieldRef,
    status_field: FieldRef,
}

impl IntervalTracker {
    pub fn new(
        key_field: FieldRef,
        rate: Option<RateConfig>,
        errors: Option<ErrorRatioConfig>,
        max_keys: usize,
    ) -> Self {
        let errors = errors.map(|config| ErrorRule {
            level_field: FieldRef::new(&config.level_field),
            status_field: FieldRef::new(&config.status_field),
            config,
        });
        IntervalTracker {
            key_field,
            rate,
            errors,
            keys: Keyed::new(max_keys),
            judged: 0,
            skipped_runs: 0,
        }
    }

    pub fn id(&self) -> String {
        format!("intervals:{}", self.key_field)
    }

    /// Whether `event` counts as an error for `error_ratio` (never without
    /// it): its level field holds one of `levels` (case-insensitive), its
    /// status field is a number at least `status_min`, or it has `tag`.
    pub fn is_error(&self, event: &Event) -> bool {
        let Some(ErrorRule {
            config,
            level_field,
            status_field,
        }) = &self.errors
        else {
            return false;
        };
        if let Some(level) = event.get_str(level_field)
            && config.levels.iter().any(|l| l.eq_ignore_ascii_case(level))
        {
            return true;
        }
        if crate::number_of(event, status_field).is_some_and(|status| status >= config.status_min) {
            return true;
        }
        config.tag.as_deref().is_some_and(|tag| event.has_tag(tag))
    }

    /// Counts one event of `key` at `millis`. Returns false if it came too
    /// late for its interval.
    pub fn record(&mut self, clock: &Clock, key: &str, millis: i64, is_error: bool) -> bool {
        let index = clock.bucket(millis);
        if clock.is_closed(index) {
            return false;
        }
        // A new key starts at the first open interval, so events of it that
        // arrive out of order after its first one still count.
        let first_open = clock
            .closed_through
            .map_or(index, |closed| (closed + 1).min(index));
        let mut state = self
            .keys
            .touch(key, millis, || KeyIntervals::new(first_open));
        if index < state.next {
            return false;
        }
        let slot = match state.open.binary_search_by_key(&index, |b| b.index) {
            Ok(slot) => slot,
            Err(slot) => {
                state.open.insert(
                    slot,
                    Bucket {
                        index,
                        events: 0,
                        errors: 0,
                    },
                );
                slot
            }
        };
        let bucket = &mut state.open[slot];
        bucket.events = bucket.events.saturating_add(1);
        bucket.errors = bucket.errors.saturating_add(u32::from(is_error));
        true
    }

    /// Judges every key's intervals up to `through`; findings in key order.
    /// Only the last `keep` findings are written out: the pending queue
    /// holds no more, so the others would be dropped there anyway (they are
    /// counted as dropped here instead).
    pub fn close(&mut self, clock: &Clock, through: i64, keep: usize, out: &mut Vec<Finding>) {
        let mut found = Vec::new();
        for (key, state) in self.keys.iter_mut() {
            if !state.started() {
                // A key is created at the first open interval (so its
                // out-of-order events still count), but the intervals before
                // its earliest event were not its own: judged, they would be
                // learned as empty and make its first real interval a spike.
                let first = state.open.first().map_or(through + 1, |b| b.index);
                state.next = state.next.max(first.min(through + 1));
            }
            while state.next <= through {
                let index = state.next;
                let mut context = Context {
                    key_field: self.key_field.as_str(),
                    key,
                    index,
                    interval_ms: clock.interval_ms,
                };
                // Every interval before the next open one is empty.
                let empty_through = match state.open.first() {
                    Some(b) if b.index <= through => b.index - 1,
                    _ => through,
                };
                let empty = empty_through - index + 1;
                if empty > STEPPED_EMPTY_RUN {
                    // Of a longer gap only its last intervals are judged; the
                    // intervals with events on either side of it are judged
                    // whole, as their events count in them.
                    let judged = empty.min(MAX_GAP_INTERVALS);
                    context.index = empty_through - judged + 1;
                    if let Some(config) = &self.rate
                        && let Some(run) = skip_rate(config, state, judged as u64, &mut context)
                    {
                        found.push(Found::Silent(key.to_owned(), run));
                    }
                    state.next += empty;
                    self.skipped_runs += 1;
                    continue;
                }
                let bucket = match state.open.first() {
                    Some(b) if b.index == index => state.open.remove(0),
                    _ => Bucket {
                        index,
                        events: 0,
                        errors: 0,
                    },
                };
                if let Some(config) = &self.rate {
                    found.extend(judge_rate(config, state, &bucket, &context).map(Found::One));
                }
                if let Some(rule) = &self.errors {
                    found.extend(
                        judge_errors(&rule.config, state, &bucket, &context).map(Found::One),
                    );
                }
                state.next += 1;
                self.judged += 1;
            }
        }
        // Map order differs between instances; findings must not.
        found.sort_by(|a, b| (a.key(), a.detector()).cmp(&(b.key(), b.detector())));
        let total: u64 = found.iter().map(Found::len).sum();
        let mut unqueued = total.saturating_sub(keep as u64);
        if unqueued > 0 {
            host::count("dropped_findings", unqueued as i64);
        }
        for entry in found {
            match entry {
                Found::One(_) if unqueued > 0 => unqueued -= 1,
                Found::One(finding) => out.push(finding),
                Found::Silent(key, run) => {
                    let config = self.rate.as_ref().expect("only rate reports silent runs");
                    let skipped = unqueued.min(run.count);
                    unqueued -= skipped;
                    for i in skipped..run.count {
                        let context = Context {
                            key_field: self.key_field.as_str(),
                            key: &key,
                            index: run.first + i as i64,
                            interval_ms: clock.interval_ms,
                        };
                        out.push(rate_finding(config, &run.rate, 0, false, &context));
                    }
                }
            }
        }
    }
}

/// Reports late events to the host's metrics.
pub fn count_late() {
    host::count("late_events", 1);
}
