//! How every section takes its figures: timed passes over a corpus, the
//! thread's own CPU time, alternating rounds, and ratios taken round by
//! round.
//!
//! The benchmarks run on shared machines whose speed drifts by tens of
//! percent within minutes. Two habits keep a ratio honest there: variants
//! alternate in rounds, so that a slow spell lands on all of them, and a
//! ratio is taken within each round (whose variants ran seconds apart) and
//! then the median over rounds, instead of dividing medians that may come
//! from different rounds. The rounds' spread is printed with it, so a
//! reader sees how far one figure can be trusted.

use std::fmt;
use std::time::{Duration, Instant};

use wasmstash::event_check::CheckedEvent;

/// Events per call in the sections that measure throughput, as Logstash's
/// default pipeline batch.
pub const BATCH: usize = 125;

/// One timed pass of a throughput measurement.
pub struct Pass {
    pub events: usize,
    pub wall_seconds: f64,
    /// This thread's CPU time; `None` where Linux's statistics are missing.
    pub cpu_seconds: Option<f64>,
}

impl Pass {
    /// Events per second of this thread's CPU time, or of wall time where
    /// the CPU time is unknown.
    pub fn per_cpu_second(&self) -> f64 {
        self.events as f64 / self.cpu_seconds.unwrap_or(self.wall_seconds)
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
    let cpu_started = thread_cpu_seconds();
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
        cpu_seconds: thread_cpu_seconds()
            .zip(cpu_started)
            .map(|(end, start)| end - start),
    }
}

/// A pass's CPU time, for the sections that report nothing without it.
pub fn cpu_seconds(pass: &Pass) -> f64 {
    pass.cpu_seconds
        .expect("reading /proc/thread-self/schedstat (the benchmark needs Linux)")
}

/// CPU time this thread has used, from Linux's scheduler statistics.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: f64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(nanos / 1e9)
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

/// Events per second through `call` in batches of [`BATCH`], over the whole corpus
/// repeatedly for `budget`.
pub fn throughput(
    budget: Duration,
    refs: &[&CheckedEvent],
    mut call: impl FnMut(&[&CheckedEvent]),
) -> f64 {
    let started = Instant::now();
    let mut processed = 0usize;
    while started.elapsed() < budget {
        for chunk in refs.chunks(BATCH) {
            call(chunk);
        }
        processed += refs.len();
    }
    processed as f64 / started.elapsed().as_secs_f64()
}

pub fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

pub fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

/// Said under each table whose ratios are [`RoundRatio`]s.
pub const RATIO_NOTE: &str = "WASM/native time: the median of each round's own ratio (native and WASM ran seconds apart within a round), and in brackets the lowest and highest round.";

/// `top[r] / bottom[r]` for each round `r`: their median, and the lowest
/// and highest. Given throughputs, `RoundRatio::of(native, wasm)` is
/// WebAssembly's time over native time. Prints as `1.45 (1.38–1.52)`, to
/// two places unless the format asks for more (`{:.3}`).
pub struct RoundRatio {
    median: f64,
    low: f64,
    high: f64,
}

impl RoundRatio {
    pub fn of(top: &[f64], bottom: &[f64]) -> RoundRatio {
        assert_eq!(top.len(), bottom.len(), "one figure per round on each side");
        let ratios: Vec<f64> = top.iter().zip(bottom).map(|(t, b)| t / b).collect();
        RoundRatio {
            median: median(&ratios),
            low: ratios.iter().copied().fold(f64::INFINITY, f64::min),
            high: ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
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
}
