//! `value_outlier`: a numeric field (latency, bytes) per key against a robust
//! streaming median and MAD, judged event by event.

use wasmstash_sdk::field_ref::FieldRef;

use crate::baseline::RobustBaseline;
use crate::config::{OutlierConfig, Scale};
use crate::finding::{Detector, Finding, Measure, score};
use crate::keyed::Keyed;

pub struct OutlierDetector {
    pub key_field: FieldRef,
    config: OutlierConfig,
    pub(crate) keys: Keyed<RobustBaseline>,
}

impl OutlierDetector {
    pub fn new(key_field: FieldRef, config: OutlierConfig, max_keys: usize) -> Self {
        OutlierDetector {
            key_field,
            config,
            keys: Keyed::new(max_keys),
        }
    }

    pub fn id(&self) -> String {
        format!("value_outlier:{}:{}", self.key_field, self.config.field)
    }

    /// What the learned median and MAD mean: values or their logarithms.
    pub fn settings(&self) -> String {
        format!("scale={:?}", self.config.scale)
    }

    pub fn field(&self) -> &str {
        &self.config.field
    }

    /// Judges `value` against `key`'s baseline, then learns it.
    pub fn check(&mut self, key: &str, value: f64, now: i64) -> Option<Finding> {
        if !value.is_finite() {
            return None;
        }
        let config = &self.config;
        let scaled = match config.scale {
            Scale::Log if value >= 0.0 => value.ln_1p(),
            Scale::Log => return None,
            Scale::Linear => value,
        };
        let mut baseline = self.keys.touch(key, now, RobustBaseline::default);
        let mut finding = None;
        if baseline.is_warm(config.warmup_values) {
            let z = baseline.z(scaled);
            let flagged = (config.direction.high() && z >= config.threshold)
                || (config.direction.low() && z <= -config.threshold);
            if flagged {
                let expected = match config.scale {
                    Scale::Log => baseline.median.exp_m1(),
                    Scale::Linear => baseline.median,
                };
                let reason = format!(
                    "value_outlier {} = {} for {} {}, expected about {:.4} (robust z {:.1}, threshold {})",
                    config.field, value, self.key_field, key, expected, z, config.threshold
                );
                finding = Some(Finding {
                    detector: Detector::ValueOutlier,
                    key_field: self.key_field.to_string(),
                    key: key.to_owned(),
                    score: score(z, config.threshold),
                    observed: Measure::Number(value),
                    expected: Measure::Number(expected),
                    reason,
                });
            }
        }
        baseline.update(scaled, config.warmup_values, config.step);
        finding
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Direction;

    fn detector() -> OutlierDetector {
        let config = OutlierConfig {
            field: "[event][duration]".into(),
            key_field: None,
            threshold: 5.0,
            direction: Direction::High,
            scale: Scale::Log,
            warmup_values: 50,
            step: 0.05,
        };
        OutlierDetector::new("[service][name]".into(), config, 100)
    }

    /// Latencies spread between 40 and 60 ms, as a deterministic sequence.
    fn normal(i: u64) -> f64 {
        40e6 + ((i * 7919) % 2000) as f64 * 1e4
    }

    #[test]
    fn flags_a_latency_spike_only_after_warm_up() {
        let mut detector = detector();
        assert!(
            detector.check("api", 5e9, 0).is_none(),
            "warm-up must not flag"
        );
        for i in 0..500 {
            assert!(
                detector.check("api", normal(i), i as i64).is_none(),
                "value {i}"
            );
        }
        let finding = detector
            .check("api", 2e9, 501)
            .expect("a 40x latency is an outlier");
        assert_eq!(finding.detector, Detector::ValueOutlier);
        assert_eq!(finding.key, "api");
        assert!(finding.score > 0.0 && finding.score <= 1.0);
        assert!(
            finding.reason.contains("expected about"),
            "{}",
            finding.reason
        );
        // Low values are not judged with direction = high.
        assert!(detector.check("api", 1.0, 502).is_none());
        // Another key has its own baseline, still warming up.
        assert!(detector.check("web", 2e9, 503).is_none());
    }
}
