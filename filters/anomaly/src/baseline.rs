//! The two learned baselines: an exponentially weighted mean and variance
//! (for per-interval counts and ratios) and a streaming median and MAD (for
//! per-event values, where a single huge value must not drag the baseline).

use serde::{Deserialize, Serialize};

use crate::charge::{self, SNAPSHOT_COPIES, Weigh};

/// EWMA of a series' mean and variance. Until `1/alpha` samples have been
/// seen it is a plain running mean, so early samples do not get a weight the
/// first value would otherwise keep for a long time.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Ewma {
    pub mean: f64,
    pub var: f64,
    pub samples: u32,
}

impl Ewma {
    pub fn update(&mut self, value: f64, alpha: f64) {
        self.samples = self.samples.saturating_add(1);
        let weight = alpha.max(1.0 / f64::from(self.samples));
        let delta = value - self.mean;
        self.mean += weight * delta;
        self.var = (1.0 - weight) * (self.var + weight * delta * delta);
    }

    /// The same as `update(0.0, alpha)` `count` times, in constant time: a
    /// key's empty intervals over a long gap in event time. Equal up to
    /// rounding (the closed forms are exact in real numbers).
    pub fn skip_zeros(&mut self, count: u64, alpha: f64) {
        let mut left = count;
        // While 1/samples > alpha the weight is 1/samples: a plain mean. Zeros
        // leave the sum and the sum of squares unchanged, so with s samples
        // the mean is sum/s and the variance sum_sq/s − mean².
        let samples = u64::from(self.samples);
        let plain = first_sample_weighted_alpha(alpha)
            .saturating_sub(1)
            .saturating_sub(samples)
            .min(left);
        if plain > 0 {
            let after = (samples + plain) as f64;
            let sum = self.mean * samples as f64;
            let sum_sq = samples as f64 * (self.var + self.mean * self.mean);
            self.mean = sum / after;
            self.var = (sum_sq / after - self.mean * self.mean).max(0.0);
            self.samples = u32::try_from(samples + plain).unwrap_or(u32::MAX);
            left -= plain;
        }
        if left > 0 {
            // Weight alpha: with q = 1 − alpha, after k zeros the mean is
            // mean·q^k and the variance q^k·(var + mean²·(1 − q^k)).
            let decay = (1.0 - alpha).powf(left as f64);
            self.var = decay * (self.var + self.mean * self.mean * (1.0 - decay));
            self.mean *= decay;
            self.samples = self
                .samples
                .saturating_add(u32::try_from(left).unwrap_or(u32::MAX));
        }
    }
}

/// The first sample count whose weight is `alpha` rather than 1/samples,
/// decided by the same floating-point comparison [`Ewma::update`] makes.
fn first_sample_weighted_alpha(alpha: f64) -> u64 {
    let mut samples = (1.0 / alpha).floor().max(1.0) as u64;
    while 1.0 / (samples as f64) > alpha {
        samples += 1;
    }
    while samples > 1 && 1.0 / ((samples - 1) as f64) <= alpha {
        samples -= 1;
    }
    samples
}

/// Median and median absolute deviation of a stream. The first `warmup`
/// values are kept and their exact median and MAD seed the estimate; after
/// that each value moves the estimates by a bounded step towards it
/// (stochastic approximation of the quantile), so memory is constant and an
/// outlier moves the baseline by at most one step.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct RobustBaseline {
    seed: Vec<f64>,
    pub median: f64,
    pub mad: f64,
    pub samples: u64,
}

/// Charges (`charge.rs`): a map slot of about 72 bytes in WebAssembly,
/// and about 20 bytes of snapshot; per seed value 8 bytes in a grown list
/// and 8 in the snapshot.
impl Weigh for RobustBaseline {
    const FIXED: usize = 2 * 72 + SNAPSHOT_COPIES * 20;
    fn weight(&self) -> usize {
        let n = self.seed.len();
        charge::grown(charge::list(n, 8)) + SNAPSHOT_COPIES * 8 * n
    }
}

impl RobustBaseline {
    /// Whether `value`s are judged yet: once the first values have seeded
    /// the estimates, and at least `warmup` have been seen.
    pub fn is_warm(&self, warmup: usize) -> bool {
        !self.is_seeding() && self.samples >= warmup as u64
    }

    /// Whether the estimates are still to be seeded: nothing seen yet, or
    /// values kept for the seed. Told from what the baseline holds, not
    /// from `warmup`: a restored baseline may have been seeded, or be
    /// seeding, under another `warmup_values`. (A seed kept beside more
    /// samples than it holds comes from a snapshot of an older build, which
    /// never seeded a restored seed longer than a lowered `warmup_values`;
    /// the next value seeds it.)
    fn is_seeding(&self) -> bool {
        self.samples == 0 || !self.seed.is_empty()
    }

    /// Learns `value`. `step` is the fraction of the current spread each
    /// value may move the estimates by.
    pub fn update(&mut self, value: f64, warmup: usize, step: f64) {
        if self.is_seeding() {
            self.samples += 1;
            self.seed.push(value);
            // At `warmup`, or at once when a restored seed already holds
            // more than a lowered `warmup_values` asks for.
            if self.seed.len() >= warmup {
                self.median = median(&mut self.seed.clone());
                let mut deviations: Vec<f64> =
                    self.seed.iter().map(|v| (v - self.median).abs()).collect();
                self.mad = median(&mut deviations);
                self.seed = Vec::new();
            }
            return;
        }
        self.samples += 1;
        let spread = self.mad.max(self.median.abs() * 1e-3).max(1e-9);
        self.median += step * spread * sign(value - self.median);
        let deviation = (value - self.median).abs();
        self.mad = (self.mad + step * spread * sign(deviation - self.mad)).max(0.0);
    }

    /// How many robust standard deviations `value` lies from the median.
    /// The spread is floored at 1% of the median so a near-constant series
    /// does not turn rounding noise into outliers.
    pub fn z(&self, value: f64) -> f64 {
        let sigma = (1.4826 * self.mad).max(self.median.abs() * 0.01).max(1e-9);
        (value - self.median) / sigma
    }
}

fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ewma_tracks_mean_and_variance() {
        let mut ewma = Ewma::default();
        for i in 0..1000 {
            ewma.update(if i % 2 == 0 { 90.0 } else { 110.0 }, 0.05);
        }
        assert!((ewma.mean - 100.0).abs() < 1.0, "{ewma:?}");
        assert!((ewma.var.sqrt() - 10.0).abs() < 1.0, "{ewma:?}");
    }

    #[test]
    fn skipping_zeros_is_updating_with_zeros() {
        for alpha in [1.0, 0.5, 0.3, 0.1, 0.07, 1e-3] {
            for samples in [0, 1, 2, 5, 9, 10, 11, 13, 40, 5000] {
                for count in [1, 2, 3, 7, 10, 15, 100, 1441] {
                    let mut slow = Ewma::default();
                    for i in 0..samples {
                        slow.update(50.0 + f64::from(i % 7) * 3.0, alpha);
                    }
                    let mut fast = slow.clone();
                    for _ in 0..count {
                        slow.update(0.0, alpha);
                    }
                    fast.skip_zeros(count, alpha);
                    let close =
                        |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs()) + 1e-300;
                    assert!(
                        close(slow.mean, fast.mean) && close(slow.var, fast.var),
                        "alpha {alpha}, {samples} samples, {count} zeros: {slow:?} vs {fast:?}"
                    );
                    assert_eq!(slow.samples, fast.samples);
                }
            }
        }
    }

    /// A baseline restored under another `warmup_values`: seeding half way
    /// when it is lowered below what the seed holds, seeded when it is
    /// raised. Either way the values go on being judged against what was
    /// learnt, never against an unseeded median of 0.
    #[test]
    fn a_changed_warmup_keeps_what_the_baseline_learnt() {
        let value = |i: u64| 1000.0 + (i % 100) as f64;
        let mut halfway = RobustBaseline::default();
        (0..50).for_each(|i| halfway.update(value(i), 100, 0.05));
        assert!(!halfway.is_warm(100) && !halfway.is_warm(20));
        halfway.update(value(50), 20, 0.05);
        assert!(halfway.is_warm(20), "{halfway:?}");
        assert!((halfway.median - 1025.0).abs() < 1.0, "{halfway:?}");
        assert!((1000..3000).all(|i| {
            let z = halfway.z(value(i));
            halfway.update(value(i), 20, 0.05);
            z.abs() < 5.0
        }));

        // As an older build left such a key: a seed never turned into the
        // estimates, and samples judged against a median of 0 since.
        let mut stuck = RobustBaseline {
            seed: (0..50).map(value).collect(),
            median: 0.0,
            mad: 0.3,
            samples: 80,
        };
        assert!(!stuck.is_warm(20));
        stuck.update(value(50), 20, 0.05);
        assert!(stuck.is_warm(20) && stuck.seed.is_empty(), "{stuck:?}");
        assert!((stuck.median - 1025.0).abs() < 1.0, "{stuck:?}");

        let mut seeded = RobustBaseline::default();
        (0..20).for_each(|i| seeded.update(value(i), 20, 0.05));
        (20..200).for_each(|i| seeded.update(value(i), 100, 0.05));
        assert!(seeded.is_warm(100));
        assert!(seeded.seed.is_empty(), "no second seed: {seeded:?}");
        assert!((1000.0..1100.0).contains(&seeded.median), "{seeded:?}");
    }

    #[test]
    fn robust_baseline_ignores_outliers_and_follows_shifts() {
        let mut baseline = RobustBaseline::default();
        // A deterministic spread of values around 50.
        let value = |i: u64| 50.0 + ((i * 37) % 21) as f64 - 10.0;
        for i in 0..2000 {
            baseline.update(value(i), 50, 0.05);
            if i % 100 == 0 {
                baseline.update(1e6, 50, 0.05);
            }
        }
        assert!((baseline.median - 50.0).abs() < 2.0, "{baseline:?}");
        assert!((baseline.mad - 5.0).abs() < 2.0, "{baseline:?}");
        assert!(baseline.z(1e6) > 1000.0);
        assert!(baseline.z(55.0).abs() < 1.5);
        for i in 0..3000 {
            baseline.update(value(i) + 100.0, 50, 0.05);
        }
        assert!((baseline.median - 150.0).abs() < 3.0, "{baseline:?}");
    }
}
