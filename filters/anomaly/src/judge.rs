//! Judging one closed interval of one key for `rate` and `error_ratio`, and
//! judging a run of empty intervals (a key gone quiet across a gap in event
//! time) in constant time with the same outcome.

use crate::baseline::Ewma;
use crate::config::{Direction, ErrorRatioConfig, RateConfig};
use crate::finding::{Detector, Finding, Measure, score};
use crate::interval::{Bucket, KeyIntervals};
use crate::time::format_millis;

/// Which interval of which key is being judged.
pub struct Context<'a> {
    pub key_field: &'a str,
    pub key: &'a str,
    pub index: i64,
    pub interval_ms: i64,
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

/// How far `events` lies from the baseline, in standard deviations, and the
/// deviation used. Counts vary at least as a Poisson process does.
fn rate_z(rate: &Ewma, events: u32) -> (f64, f64) {
    let sd = rate.var.max(rate.mean).max(1.0).sqrt();
    ((f64::from(events) - rate.mean) / sd, sd)
}

/// Whether an empty interval is a drop (silence) to flag, given a warm
/// baseline `rate`.
fn silence_is_anomalous(config: &RateConfig, rate: &Ewma) -> bool {
    let (z, _) = rate_z(rate, 0);
    config.direction.low() && z <= -config.threshold && rate.mean >= config.min_expected
}

pub fn judge_rate(
    config: &RateConfig,
    state: &mut KeyIntervals,
    bucket: &Bucket,
    at: &Context,
) -> Option<Finding> {
    let observed = f64::from(bucket.events);
    let expected = state.rate.mean;
    let (z, _) = rate_z(&state.rate, bucket.events);
    let warm = state.rate.samples >= config.warmup_intervals;
    let spike =
        config.direction.high() && z >= config.threshold && observed - expected >= config.min_delta;
    let drop = config.direction.low() && z <= -config.threshold && expected >= config.min_expected;
    let (report, learn) = streak_step(
        &mut state.rate_streak,
        warm && (spike || drop),
        config.adapt_intervals,
    );
    let finding = report.then(|| rate_finding(config, &state.rate, bucket.events, spike, at));
    if learn {
        state.rate.update(observed, config.alpha);
    }
    finding
}

/// The finding for `events` in the interval `at` against the baseline `rate`
/// (as it was before the interval was judged).
pub fn rate_finding(
    config: &RateConfig,
    rate: &Ewma,
    events: u32,
    spike: bool,
    at: &Context,
) -> Finding {
    let (z, sd) = rate_z(rate, events);
    let what = if events == 0 {
        "went silent: 0 events".to_owned()
    } else if spike {
        format!("spike: {events} events")
    } else {
        format!("drop: {events} events")
    };
    let reason = format!(
        "rate {what} for {} {} in the {} s from {}, expected {:.1} ± {:.1}",
        at.key_field,
        at.key,
        at.interval_ms / 1000,
        format_millis(at.index * at.interval_ms),
        rate.mean,
        sd
    );
    at.finding(
        Detector::Rate,
        z,
        config.threshold,
        f64::from(events),
        rate.mean,
        reason,
    )
}

/// A run of `count` reported silences of one key from interval `first`:
/// the baseline stood still while they were reported, so all are the same
/// finding but for their interval, and are only written out if queued.
pub struct SilentRun {
    pub first: i64,
    pub count: u64,
    pub rate: Ewma,
}

/// Judges `count` empty intervals of `state` from `at.index`, with the
/// outcome [`judge_rate`] would have interval by interval (the baseline
/// equal up to rounding), in time independent of `count`. Empty intervals
/// have fewer events than `error_ratio.min_events` (at least 1), so only
/// `rate` judges them.
///
/// Why the phases below suffice: learning a zero lowers the mean and raises
/// variance/mean², so mean, mean/√mean and mean/√variance only fall: once a
/// warm key's silence is not anomalous it never is again in the run, and
/// while it is anomalous and not yet adapted nothing is learned, so nothing
/// changes but the streak.
pub fn skip_rate(
    config: &RateConfig,
    state: &mut KeyIntervals,
    count: u64,
    at: &mut Context,
) -> Option<SilentRun> {
    let mut left = count;
    let mut reported = None;
    while left > 0 {
        let samples = state.rate.samples;
        if samples < config.warmup_intervals {
            // Warming up: nothing is judged, every interval is learned.
            let steps = left.min(u64::from(config.warmup_intervals - samples));
            state.rate_streak = 0;
            state.rate.skip_zeros(steps, config.alpha);
            left -= steps;
            at.index += steps as i64;
            continue;
        }
        let silent = silence_is_anomalous(config, &state.rate);
        if silent && state.rate_streak < config.adapt_intervals {
            // Reported and not learned, up to `adapt_intervals` in a row.
            let steps = left.min(u64::from(config.adapt_intervals - state.rate_streak));
            reported = Some(SilentRun {
                first: at.index,
                count: steps,
                rate: state.rate.clone(),
            });
            state.rate_streak += steps as u32;
            left -= steps;
            at.index += steps as i64;
            continue;
        }
        // Calm, or silent and adapted (learned, not reported): the rest of
        // the run is learned; the streak goes on only if the last interval
        // is still anomalous, and then, by the above, all of them were.
        let mut before_last = state.rate.clone();
        before_last.skip_zeros(left - 1, config.alpha);
        let still = silent && silence_is_anomalous(config, &before_last);
        state.rate.skip_zeros(left, config.alpha);
        state.rate_streak = if still {
            state
                .rate_streak
                .saturating_add(u32::try_from(left).unwrap_or(u32::MAX))
        } else {
            0
        };
        at.index += left as i64;
        left = 0;
    }
    reported
}

pub fn judge_errors(
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
        at.interval_ms / 1000,
        format_millis(at.index * at.interval_ms),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rate_config(json: serde_json::Value) -> RateConfig {
        serde_json::from_value(json).unwrap()
    }

    /// Judges `count` empty intervals one by one and in one step from the
    /// same state, and compares what was reported and what was learned.
    fn compare(config: &RateConfig, start: &KeyIntervals, count: u64) -> usize {
        let context = |index| Context {
            key_field: "[service][name]",
            key: "api",
            index,
            interval_ms: 60_000,
        };
        let mut slow = start.clone();
        let mut expected = Vec::new();
        for index in 0..count as i64 {
            let empty = Bucket {
                index,
                events: 0,
                errors: 0,
            };
            expected.extend(judge_rate(config, &mut slow, &empty, &context(index)));
        }
        let mut fast = start.clone();
        let mut at = context(0);
        let run = skip_rate(config, &mut fast, count, &mut at);
        assert_eq!(at.index, count as i64);
        let got: Vec<Finding> = run
            .map(|run| {
                (0..run.count)
                    .map(|i| {
                        rate_finding(config, &run.rate, 0, false, &context(run.first + i as i64))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let what = format!("{count} empty after {start:?} with {config:?}");
        let reasons = |f: &[Finding]| f.iter().map(|f| f.reason.clone()).collect::<Vec<_>>();
        assert_eq!(reasons(&got), reasons(&expected), "{what}");
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()) + 1e-300;
        assert!(
            close(slow.rate.mean, fast.rate.mean),
            "{what}: {slow:?} {fast:?}"
        );
        assert!(
            close(slow.rate.var, fast.rate.var),
            "{what}: {slow:?} {fast:?}"
        );
        assert_eq!(slow.rate.samples, fast.rate.samples, "{what}");
        assert_eq!(slow.rate_streak, fast.rate_streak, "{what}");
        expected.len()
    }

    #[test]
    fn skipping_empty_intervals_matches_judging_them_one_by_one() {
        let configs = [
            json!({}),
            json!({"direction": "high"}),
            json!({"adapt_intervals": 0}),
            json!({"adapt_intervals": 3, "warmup_intervals": 5}),
            json!({"alpha": 0.3, "threshold": 2.0, "min_expected": 1.0}),
            json!({"alpha": 0.001, "warmup_intervals": 0}),
            json!({"alpha": 1.0, "threshold": 0.5}),
        ];
        let (mut cases, mut reported) = (0, 0);
        for config in configs {
            let config = rate_config(config);
            for samples in [0u32, 1, 3, 9, 10, 11, 25, 29, 30, 31, 200] {
                for mean in [0.0, 0.5, 3.0, 6.0, 60.0, 1000.0] {
                    for var in [0.0, 1.0, mean, 0.04 * mean * mean, 4.0 * mean * mean] {
                        for streak in [0, 2, 10, 11, 50] {
                            let mut start = KeyIntervals::new(0);
                            start.rate = Ewma { mean, var, samples };
                            start.rate_streak = streak;
                            for count in [1, 2, 3, 5, 9, 13, 40, 300, 1441] {
                                reported += compare(&config, &start, count);
                                cases += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(cases > 10_000 && reported > 10_000, "{cases} {reported}");
    }
}
