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
use crate::config::{Direction, ErrorRatioConfig, RateConfig};
use crate::finding::{Detector, Finding, Measure, score};
use crate::keyed::Keyed;
use crate::time::format_millis;

/// At most this many intervals of a gap in event time are replayed as empty
/// intervals per key; a longer gap (logs of another day) skips the rest.
const MAX_GAP_INTERVALS: i64 = 1440;

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
        let through = self.bucket(millis - self.lateness_ms) - 1;
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

    pub fn is_closed(&self, bucket: i64) -> bool {
        self.closed_through.is_some_and(|closed| bucket <= closed)
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Bucket {
    index: i64,
    events: u32,
    errors: u32,
}

/// One key's open intervals and baselines.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct KeyIntervals {
    open: Vec<Bucket>,
    /// The first interval not yet judged.
    next: i64,
    rate: Ewma,
    ratio: Ewma,
    rate_streak: u32,
    ratio_streak: u32,
}

/// `rate` and/or `error_ratio` over one key field.
pub struct IntervalTracker {
    pub key_field: FieldRef,
    rate: Option<RateConfig>,
    errors: Option<ErrorRule>,
    keys: Keyed<KeyIntervals>,
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

    pub fn keys(&self) -> usize {
        self.keys.len()
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
        let state = self.keys.touch(key, millis, || KeyIntervals {
            open: Vec::new(),
            next: first_open,
            rate: Ewma::default(),
            ratio: Ewma::default(),
            rate_streak: 0,
            ratio_streak: 0,
        });
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
    pub fn close(&mut self, clock: &Clock, through: i64, out: &mut Vec<Finding>) {
        let mut found = Vec::new();
        for (key, state) in self.keys.iter_mut() {
            if through - state.next > MAX_GAP_INTERVALS {
                state.next = through - MAX_GAP_INTERVALS;
                state
                    .open
                    .retain(|b| b.index >= through - MAX_GAP_INTERVALS);
            }
            while state.next <= through {
                let index = state.next;
                let bucket = match state.open.first() {
                    Some(b) if b.index == index => state.open.remove(0),
                    _ => Bucket {
                        index,
                        events: 0,
                        errors: 0,
                    },
                };
                let context = Context {
                    key_field: self.key_field.as_str(),
                    key,
                    start: index * clock.interval_ms,
                    seconds: clock.interval_ms / 1000,
                };
                if let Some(config) = &self.rate {
                    found.extend(judge_rate(config, state, &bucket, &context));
                }
                if let Some(rule) = &self.errors {
                    found.extend(judge_errors(&rule.config, state, &bucket, &context));
                }
                state.next += 1;
            }
        }
        // Map order differs between instances; findings must not.
        found.sort_by(|a: &Finding, b| {
            (a.key.as_str(), a.detector.as_str()).cmp(&(b.key.as_str(), b.detector.as_str()))
        });
        out.extend(found);
    }

    pub fn save(&self) -> Vec<u8> {
        self.keys.save()
    }

    pub fn load(&mut self, bytes: &[u8], max_keys: usize) -> Result<(), String> {
        self.keys = Keyed::load(bytes, max_keys).map_err(|e| format!("{}: {e}", self.id()))?;
        Ok(())
    }
}

struct Context<'a> {
    key_field: &'a str,
    key: &'a str,
    start: i64,
    seconds: i64,
}

impl Context<'_> {
    fn finding(
        &self,
        detector: Detector,
        z: f64,
        threshold: f64,
        observed: f64,
        expected: f64,
        reason: String,
    ) -> Finding {
        Finding {
            detector,
            key_field: self.key_field.to_owned(),
            key: self.key.to_owned(),
            score: score(z, threshold),
            observed: Measure::Number(observed),
            expected: Measure::Number(expected),
            reason,
        }
    }
}

/// Decides whether a flagged interval is reported, and whether it teaches the
/// baseline: after `adapt` flagged intervals in a row the new level is taken
/// as normal (learned, no longer reported).
fn streak_step(streak: &mut u32, anomalous: bool, adapt: u32) -> (bool, bool) {
    *streak = if anomalous {
        streak.saturating_add(1)
    } else {
        0
    };
    let report = anomalous && *streak <= adapt;
    let learn = !anomalous || *streak > adapt;
    (report, learn)
}

fn judge_rate(
    config: &RateConfig,
    state: &mut KeyIntervals,
    bucket: &Bucket,
    at: &Context,
) -> Option<Finding> {
    let observed = f64::from(bucket.events);
    let expected = state.rate.mean;
    // Counts vary at least as a Poisson process does.
    let sd = state.rate.var.max(expected).max(1.0).sqrt();
    let z = (observed - expected) / sd;
    let warm = state.rate.samples >= config.warmup_intervals;
    let spike =
        config.direction.high() && z >= config.threshold && observed - expected >= config.min_delta;
    let drop = config.direction.low() && z <= -config.threshold && expected >= config.min_expected;
    let (report, learn) = streak_step(
        &mut state.rate_streak,
        warm && (spike || drop),
        config.adapt_intervals,
    );
    if learn {
        state.rate.update(observed, config.alpha);
    }
    if !report {
        return None;
    }
    let what = if bucket.events == 0 {
        "went silent: 0 events".to_owned()
    } else if spike {
        format!("spike: {} events", bucket.events)
    } else {
        format!("drop: {} events", bucket.events)
    };
    let reason = format!(
        "rate {what} for {} {} in the {} s from {}, expected {:.1} ± {:.1}",
        at.key_field,
        at.key,
        at.seconds,
        format_millis(at.start),
        expected,
        sd
    );
    Some(at.finding(
        Detector::Rate,
        z,
        config.threshold,
        observed,
        expected,
        reason,
    ))
}

fn judge_errors(
    config: &ErrorRatioConfig,
    state: &mut KeyIntervals,
    bucket: &Bucket,
    at: &Context,
) -> Option<Finding> {
    if bucket.events < config.min_events {
        return None;
    }
    let n = f64::from(bucket.events);
    let observed = f64::from(bucket.errors) / n;
    let expected = state.ratio.mean;
    // Binomial noise at the expected ratio plus the baseline's own variation.
    let p = expected.clamp(0.5 / n, 1.0);
    let sd = (p * (1.0 - p) / n + state.ratio.var).sqrt().max(0.005);
    let z = (observed - expected) / sd;
    let warm = state.ratio.samples >= config.warmup_intervals;
    let anomalous = warm
        && z >= config.threshold
        && observed - expected >= config.min_increase
        && bucket.errors >= config.min_errors;
    let (report, learn) = streak_step(&mut state.ratio_streak, anomalous, config.adapt_intervals);
    if learn {
        state.ratio.update(observed, config.alpha);
    }
    if !report {
        return None;
    }
    let reason = format!(
        "error_ratio {:.1}% ({} of {} events) for {} {} in the {} s from {}, expected {:.1}%",
        observed * 100.0,
        bucket.errors,
        bucket.events,
        at.key_field,
        at.key,
        at.seconds,
        format_millis(at.start),
        expected * 100.0
    );
    Some(at.finding(
        Detector::ErrorRatio,
        z,
        config.threshold,
        observed,
        expected,
        reason,
    ))
}

impl Direction {
    pub fn high(self) -> bool {
        matches!(self, Direction::High | Direction::Both)
    }
    pub fn low(self) -> bool {
        matches!(self, Direction::Low | Direction::Both)
    }
}

/// Reports late events to the host's metrics.
pub fn count_late() {
    host::count("late_events", 1);
}
