//! `rare_template` and `new_value`: a value (a template id, a client address)
//! that a key has never, or seldom, shown before, once the key has shown
//! enough events to know what is usual for it.

use serde::{Deserialize, Serialize};

use wasmstash_sdk::field_ref::FieldRef;

use crate::charge::{self, SNAPSHOT_COPIES, Weigh};
use crate::config::NoveltyConfig;
use crate::finding::{Detector, Finding, Measure, quoted};
use crate::keyed::{Keyed, hash_text};
use wasmstash_sdk::stable_hash::Fnv1aMap;

#[derive(Serialize, Deserialize, Clone, Default, Debug, PartialEq)]
pub struct Seen {
    events: u64,
    /// Value hash to the times it was seen (saturating).
    counts: Fnv1aMap<u64, u32>,
    /// The key reached `max_values_per_key`: it is judged no more.
    saturated: bool,
}

/// Charges (`charge.rs`): a map slot of about 64 bytes in WebAssembly,
/// and about 12 bytes of snapshot; per value a 16-byte slot in a grown
/// hash table and up to 12 bytes in the snapshot (a hash takes 10 as a
/// varint).
impl Weigh for Seen {
    const FIXED: usize = 2 * 64 + SNAPSHOT_COPIES * 12;
    fn weight(&self) -> usize {
        let n = self.counts.len();
        charge::grown(charge::table(n, 16)) + SNAPSHOT_COPIES * 12 * n
    }
}

pub struct NoveltyDetector {
    detector: Detector,
    pub key_field: FieldRef,
    pub field: FieldRef,
    config: NoveltyConfig,
    pub(crate) keys: Keyed<Seen>,
}

impl NoveltyDetector {
    pub fn new(
        detector: Detector,
        key_field: FieldRef,
        field: FieldRef,
        config: NoveltyConfig,
        max_keys: usize,
    ) -> Self {
        NoveltyDetector {
            detector,
            key_field,
            field,
            config,
            keys: Keyed::new(max_keys),
        }
    }

    pub fn id(&self) -> String {
        format!(
            "{}:{}:{}",
            self.detector.as_str(),
            self.key_field,
            self.field
        )
    }

    /// Judges `value` for `key`, then learns it. `label` is what the reason
    /// shows (a template's text rather than its id, when known).
    pub fn check(
        &mut self,
        key: &str,
        value: &str,
        label: Option<&str>,
        now: i64,
    ) -> Option<Finding> {
        let config = &self.config;
        let mut seen = self.keys.touch(key, now, Seen::default);
        if seen.saturated {
            return None;
        }
        let hash = hash_text(value);
        let prior = seen.counts.get(&hash).copied().unwrap_or(0);
        let warm = seen.events >= config.warmup_events;
        seen.events += 1;
        if prior == 0 && seen.counts.len() >= config.max_values_per_key {
            seen.saturated = true;
            seen.counts = Fnv1aMap::default();
            wasmstash_sdk::host::count("saturated_keys", 1);
            return None;
        }
        let distinct = seen.counts.len();
        let count = seen.counts.entry(hash).or_insert(0);
        *count = count.saturating_add(1);
        if !warm || prior >= config.min_count {
            return None;
        }
        let shown = quoted(label.unwrap_or(value));
        let (what, expected) = match (self.detector, prior) {
            (Detector::RareTemplate, 0) => {
                ("new template", format!("one of {distinct} known templates"))
            }
            (Detector::RareTemplate, _) => (
                "rare template",
                format!("templates seen at least {} times", config.min_count),
            ),
            (_, 0) => ("new value", format!("one of {distinct} known values")),
            (_, _) => (
                "rare value",
                format!("values seen at least {} times", config.min_count),
            ),
        };
        // A template's text is what an analyst reads, but the field holds its
        // id: the reason names both rather than call the text the field's value.
        let subject = match label {
            Some(_) => format!(
                "template \"{shown}\" ({} = \"{}\")",
                self.field,
                quoted(value)
            ),
            None => format!("{} = \"{shown}\"", self.field),
        };
        let reason = format!(
            "{} {what} for {} {}: {subject}, seen {prior} times in {} events, expected {expected}",
            self.detector.as_str(),
            self.key_field,
            key,
            seen.events - 1
        );
        // Never seen scores 1, seen half `min_count` times 0.5, and seen just
        // under it near 0: the rarer, the higher.
        let rarity = 1.0 - f64::from(prior) / f64::from(config.min_count);
        Some(Finding {
            detector: self.detector,
            key_field: self.key_field.to_string(),
            key: key.to_owned(),
            score: rarity,
            observed: Measure::Text(shown),
            expected: Measure::Text(expected),
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detector(detector: Detector, min_count: u32, max_values: usize) -> NoveltyDetector {
        let config = NoveltyConfig {
            field: None,
            key_field: None,
            warmup_events: 100,
            min_count,
            max_values_per_key: max_values,
        };
        NoveltyDetector::new(
            detector,
            "[service][name]".into(),
            "[source][address]".into(),
            config,
            10,
        )
    }

    #[test]
    fn new_value_flags_unseen_values_after_warm_up_only() {
        let mut d = detector(Detector::NewValue, 1, 1000);
        for i in 0..100 {
            assert!(
                d.check("api", &format!("10.0.0.{}", i % 20), None, i)
                    .is_none()
            );
        }
        assert!(d.check("api", "10.0.0.3", None, 100).is_none());
        let finding = d.check("api", "192.168.1.1", None, 101).expect("new value");
        assert_eq!(finding.score, 1.0);
        assert!(finding.reason.contains("new value"), "{}", finding.reason);
        assert!(
            finding.reason.contains("one of 20 known values"),
            "{}",
            finding.reason
        );
        // Once seen, it is known.
        assert!(d.check("api", "192.168.1.1", None, 102).is_none());
    }

    /// A huge new value is quoted by its start only: quoted whole, three
    /// times over, a few megabytes took the instance past its memory limit.
    #[test]
    fn a_huge_value_is_quoted_cut_at_a_character_boundary() {
        let mut d = detector(Detector::NewValue, 1, 1000);
        for i in 0..100 {
            d.check("api", "known", None, i);
        }
        // Three-byte characters after one ASCII byte: 256 falls inside one.
        let value = format!("x{}", "€".repeat(400_000));
        let finding = d.check("api", &value, None, 100).expect("new value");
        let Measure::Text(observed) = &finding.observed else {
            panic!("{:?}", finding.observed);
        };
        assert!(observed.len() < 300, "{} bytes", observed.len());
        assert!(value.starts_with(observed.trim_end_matches("… (1200001 bytes)")));
        assert!(observed.ends_with("€… (1200001 bytes)"), "{observed}");
        assert!(finding.reason.len() < 500, "{} bytes", finding.reason.len());
        assert!(finding.reason.contains(observed.as_str()));
        // What fits is quoted whole.
        let short = "é".repeat(128);
        let finding = d.check("api", &short, None, 101).expect("new value");
        assert_eq!(finding.observed, Measure::Text(short));
    }

    #[test]
    fn rare_template_flags_until_seen_min_count_times() {
        let mut d = detector(Detector::RareTemplate, 3, 1000);
        for i in 0..100 {
            d.check("api", &format!("t{}", i % 5), None, i);
        }
        let flagged: Vec<bool> = (0..4)
            .map(|i| {
                d.check("api", "t-new", Some("disk <*> full"), 100 + i)
                    .is_some()
            })
            .collect();
        assert_eq!(flagged, [true, true, true, false]);
    }

    #[test]
    fn the_rarer_a_value_the_higher_it_scores() {
        let mut d = detector(Detector::NewValue, 4, 1000);
        for i in 0..100 {
            d.check("api", &format!("v{}", i % 5), None, i);
        }
        let scores: Vec<f64> = (0..4)
            .map(|i| d.check("api", "rare", None, 100 + i).unwrap().score)
            .collect();
        assert_eq!(scores, [1.0, 0.75, 0.5, 0.25]);
    }

    #[test]
    fn a_template_reason_names_its_text_and_its_id_apart() {
        let mut d = detector(Detector::RareTemplate, 1, 1000);
        d.field = "[wasmstash][template][id]".into();
        for i in 0..100 {
            d.check("api", &format!("t{}", i % 5), None, i);
        }
        let finding = d
            .check("api", "9f2c", Some("disk <*> full"), 100)
            .expect("new template");
        assert!(
            finding
                .reason
                .contains(r#"template "disk <*> full" ([wasmstash][template][id] = "9f2c")"#),
            "{}",
            finding.reason
        );
        assert_eq!(finding.observed, Measure::Text("disk <*> full".into()));
    }

    #[test]
    fn a_key_with_too_many_values_is_no_longer_judged() {
        let mut d = detector(Detector::NewValue, 1, 50);
        for i in 0..200 {
            assert!(d.check("api", &i.to_string(), None, i).is_none());
        }
        assert!(
            d.keys
                .iter_mut()
                .all(|(_, seen)| seen.saturated && seen.counts.is_empty())
        );
    }
}
