//! How every section takes its figures: timed passes over a corpus, the
//! thread's own CPU time, variants alternating pass by pass, and ratios
//! taken round by round.
//!
//! The benchmarks run on shared machines whose speed drifts by tens of
//! percent within seconds. Three habits keep a ratio honest there. Variants
//! alternate in rounds of one short pass each (tens of milliseconds), so
//! that a slow spell lands on all of them. A ratio is taken within each
//! round, whose passes ran milliseconds apart, and then the median over
//! hundreds of rounds, instead of dividing medians that may come from
//! different moments. And the middle half of the rounds' ratios is printed
//! with it, so a reader sees how far one figure can be trusted.

use std::fmt;
use std::time::{Duration, Instant};

use wasmstash::event_check::CheckedEvent;

use crate::cpu_clock::thread_cpu_time;

/// Events per call in the sections that measure throughput, as Logstash's
/// default pipeline batch.
pub const BATCH: usize = 125;

/// One timed pass of a throughput measurement.
pub struct Pass {
    pub events: usize,
    pub wall_seconds: f64,
    /// This thread's CPU time.
    pub cpu_seconds: f64,
}

impl Pass {
    /// Events per second of this thread's CPU time: on a shared machine,
    /// the per-core figure.
    pub fn per_cpu_second(&self) -> f64 {
        self.events as f64 / self.cpu_seconds
    }

    pub fn per_wall_second(&self) -> f64 {
        self.events as f64 / self.wall_seconds
    }
}

/// Calls `call` on `refs` in batches of [`BATCH`], over and over until at
/// least `events` events went through, and times it.
pub fn timed_pass(
    refs: &[&CheckedEvent],
    events: usize,
    mut call: impl FnMut(&[&CheckedEvent]),
) -> Pass {
    let started = Instant::now();
    let cpu_started = thread_cpu_time();
    let mut done = 0;
    while done < events {
        for chunk in refs.chunks(BATCH) {
            call(chunk);
        }
        done += refs.len();
    }
    Pass {
        events: done,
        wall_seconds: started.elapsed().as_secs_f64(),
        cpu_seconds: (thread_cpu_time() - cpu_started).as_secs_f64(),
    }
}

/// Runs `N` variants in rounds for as long as `another_round(rounds done)`
/// says: in each round every variant makes one [`timed_pass`] of `events`
/// events, the variant that goes first moving on by one each round, so
/// that none always runs right after the same other one. Returns each
/// variant's passes, one per round.
pub fn alternating<const N: usize>(
    refs: &[&CheckedEvent],
    events: usize,
    mut another_round: impl FnMut(usize) -> bool,
    mut call: impl FnMut(usize, &[&CheckedEvent]),
) -> [Vec<Pass>; N] {
    let mut passes: [Vec<Pass>; N] = std::array::from_fn(|_| Vec::new());
    let mut round = 0;
    while another_round(round) {
        for turn in 0..N {
            let variant = (round + turn) % N;
            passes[variant].push(timed_pass(refs, events, |chunk| call(variant, chunk)));
        }
        round += 1;
    }
    passes
}

/// For [`alternating`]: rounds until `budget` has passed on the wall clock,
/// at least three and an odd number, so that the median is a round's own.
pub fn until_spent(budget: Duration) -> impl FnMut(usize) -> bool {
    let started = Instant::now();
    move |rounds| rounds < 3 || rounds % 2 == 0 || started.elapsed() < budget
}

/// Events per CPU-second of each pass.
pub fn per_cpu_second(passes: &[Pass]) -> Vec<f64> {
    passes.iter().map(Pass::per_cpu_second).collect()
}

/// Mean time of one call on `refs`, repeated for `budget`.
pub fn per_call(
    budget: Duration,
    refs: &[&CheckedEvent],
    mut call: impl FnMut(&[&CheckedEvent]),
) -> Duration {
    let started = Instant::now();
    let mut calls = 0u32;
    while started.elapsed() < budget {
        for _ in 0..16 {
            call(refs);
        }
        calls += 16;
    }
    started.elapsed() / calls
}

pub fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

pub fn median(samples: &[f64]) -> f64 {
    quarter_points(samples, [2])[0]
}

/// The samples at the given quarter points, each a sample's own value: 1
/// the lower quartile, 2 the median (the upper one of an even count), 3 the
/// upper quartile.
fn quarter_points<const K: usize>(samples: &[f64], quarters: [usize; K]) -> [f64; K] {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    quarters.map(|q| sorted[(sorted.len() * q / 4).min(sorted.len() - 1)])
}

/// Said under each table whose ratios are [`RoundRatio`]s.
pub const RATIO_NOTE: &str = "WASM/native time: the median of each round's own ratio (in a round each variant made one pass over the events, milliseconds apart), and in brackets the middle half of the rounds' ratios (lower to upper quartile).";

/// `top[r] / bottom[r]` for each round `r`: their median, and their lower
/// and upper quartiles. Given throughputs, `RoundRatio::of(native, wasm)`
/// is WebAssembly's time over native time. Prints as `1.45 (1.38–1.52)`,
/// to two places unless the format asks for more (`{:.3}`).
pub struct RoundRatio {
    median: f64,
    low: f64,
    high: f64,
}

impl RoundRatio {
    pub fn of(top: &[f64], bottom: &[f64]) -> RoundRatio {
        assert_eq!(top.len(), bottom.len(), "one figure per round on each side");
        let ratios: Vec<f64> = top.iter().zip(bottom).map(|(t, b)| t / b).collect();
        let [low, median, high] = quarter_points(&ratios, [1, 2, 3]);
        RoundRatio { median, low, high }
    }
}

impl fmt::Display for RoundRatio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let places = f.precision().unwrap_or(2);
        write!(
            f,
            "{:.places$} ({:.places$}–{:.places$})",
            self.median, self.low, self.high
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_round_ratio_pairs_rounds_not_medians() {
        // The machine halves its speed in round 2: the ratio of medians
        // would pair native's fast round with WASM's slow one.
        let native = [100.0, 50.0, 100.0];
        let wasm = [80.0, 40.0, 50.0];
        let ratio = RoundRatio::of(&native, &wasm);
        assert_eq!(ratio.to_string(), "1.25 (1.25–2.00)");
        assert_eq!(format!("{ratio:.3}"), "1.250 (1.250–2.000)");
        assert_eq!(median(&native) / median(&wasm), 2.0);
    }

    #[test]
    fn the_brackets_hold_the_middle_half_of_the_rounds() {
        // Two outlying rounds (a preempted pass each) stay out of the
        // brackets, as they would not out of a lowest-to-highest range.
        let native = [100.0; 8];
        let wasm = [10.0, 70.0, 68.0, 66.0, 64.0, 62.0, 60.0, 99.0];
        let ratio = RoundRatio::of(&native, &wasm);
        assert_eq!(ratio.to_string(), "1.56 (1.47–1.67)");
    }

    #[test]
    fn variants_take_turns_going_first() {
        let event = CheckedEvent::message("x");
        let refs = [&event];
        let mut order = Vec::new();
        let passes = alternating::<3>(
            &refs,
            1,
            |round| round < 4,
            |variant, _| order.push(variant),
        );
        assert_eq!(order, [0, 1, 2, 1, 2, 0, 2, 0, 1, 0, 1, 2]);
        assert!(
            passes
                .iter()
                .all(|p| p.len() == 4 && p.iter().all(|p| p.events == 1))
        );
    }
}
