//! What a detector found, and how findings are written onto an event under
//! `wasmstash.anomaly.*` (docs/FIELDS.md).

use serde::{Deserialize, Serialize};
use wasmstash_sdk::logstash::event_rules;
use wasmstash_sdk::{Event, Value, json};

pub const TAG: &str = "anomaly";

/// An observed or expected value: a number for the statistical detectors,
/// text for the novelty ones.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub enum Measure {
    Number(f64),
    Text(String),
}

impl Measure {
    fn to_json(&self) -> Value {
        match self {
            // Four significant decimals are plenty for a human and keep
            // events small; JSON has no NaN, so none is written.
            // A number past 2^52 has no decimals to round (and times ten
            // thousand, near f64::MAX, would overflow to infinity).
            Measure::Number(n) if n.abs() >= 4.5e15 => json!(n),
            Measure::Number(n) if n.is_finite() => json!((n * 10_000.0).round() / 10_000.0),
            Measure::Number(_) => Value::Null,
            Measure::Text(text) => json!(text),
        }
    }
}

/// The detectors, named as in `wasmstash.anomaly.detectors`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detector {
    Rate,
    ErrorRatio,
    ValueOutlier,
    RareTemplate,
    NewValue,
}

impl Detector {
    pub fn as_str(self) -> &'static str {
        match self {
            Detector::Rate => "rate",
            Detector::ErrorRatio => "error_ratio",
            Detector::ValueOutlier => "value_outlier",
            Detector::RareTemplate => "rare_template",
            Detector::NewValue => "new_value",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Finding {
    pub detector: Detector,
    pub key_field: String,
    pub key: String,
    /// In [0, 1]: 0 at the flagging threshold, 1 far beyond it.
    pub score: f64,
    pub observed: Measure,
    pub expected: Measure,
    pub reason: String,
}

/// Most bytes of a watched value (or template text) a finding quotes. The
/// value is written three times per finding (its reason, the event's
/// reason, `observed`), so a multi-megabyte one quoted whole took the
/// instance past its memory limit; a few hundred bytes tell it apart.
pub const MAX_QUOTED_BYTES: usize = 256;

/// `text` as a finding quotes it: whole up to [`MAX_QUOTED_BYTES`], else its
/// start (cut at a character boundary), `…` and its length in bytes.
pub fn quoted(text: &str) -> String {
    if text.len() <= MAX_QUOTED_BYTES {
        return text.to_owned();
    }
    let start = &text[..text.floor_char_boundary(MAX_QUOTED_BYTES)];
    format!("{start}… ({} bytes)", text.len())
}

/// Maps a deviation `z` (in the detector's own units) at or past `threshold`
/// to [0, 1]: 0 at the threshold, 0.5 at twice it, approaching 1 beyond.
pub fn score(z: f64, threshold: f64) -> f64 {
    if !z.is_finite() {
        return 1.0;
    }
    (1.0 - threshold / z.abs().max(threshold)).clamp(0.0, 1.0)
}

/// Where the findings go.
pub const FIELD: &str = "[wasmstash][anomaly]";

/// Why `event` cannot take findings, if it cannot: Logstash's event refuses
/// a set through a `wasmstash` that is a string, number or boolean, and a
/// set through a list changes nothing. The tag is never added without the
/// fields, so such an event fails instead (the host keeps its `wasmstash`
/// in `wasmstash.displaced`, docs/FIELDS.md).
pub fn cannot_write(event: &Event) -> Option<String> {
    event_rules::why_cannot_set(event, FIELD).map(|why| format!("cannot set `{FIELD}`: {why}"))
}

/// The failure of an event that cannot take `findings` (see
/// [`cannot_write`]): `why`, and what was found, so it is not lost.
pub fn unwritten(why: &str, findings: &[Finding]) -> String {
    let top = findings
        .iter()
        .max_by(|a, b| a.score.total_cmp(&b.score))
        .map_or("", |f| f.reason.as_str());
    format!(
        "{why}; {} finding(s) not written, the top one: {top}",
        findings.len()
    )
}

/// Writes `findings` onto `event` (no-op when empty), highest score first.
/// The caller has checked [`cannot_write`].
pub fn write(event: &mut Event, mut findings: Vec<Finding>) {
    if findings.is_empty() {
        return;
    }
    findings.sort_by(|a, b| b.score.total_cmp(&a.score));
    let top = &findings[0];
    let mut detectors: Vec<&str> = Vec::new();
    for finding in &findings {
        if !detectors.contains(&finding.detector.as_str()) {
            detectors.push(finding.detector.as_str());
        }
    }
    let reason: Vec<&str> = findings.iter().map(|f| f.reason.as_str()).collect();
    let records: Vec<Value> = findings
        .iter()
        .map(|f| {
            json!({
                "detector": f.detector.as_str(),
                "key_field": f.key_field,
                "key": f.key,
                "score": Measure::Number(f.score).to_json(),
                "observed": f.observed.to_json(),
                "expected": f.expected.to_json(),
                "reason": f.reason,
            })
        })
        .collect();
    event.add_tag(TAG);
    event.set(
        FIELD,
        json!({
            "score": Measure::Number(top.score).to_json(),
            "detectors": detectors,
            "reason": reason.join("; "),
            "key": top.key,
            "key_field": top.key_field,
            "findings": records,
        }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_is_zero_at_the_threshold_and_grows_towards_one() {
        assert_eq!(score(4.0, 4.0), 0.0);
        assert_eq!(score(-8.0, 4.0), 0.5);
        assert!(score(400.0, 4.0) > 0.98);
        assert_eq!(score(f64::INFINITY, 4.0), 1.0);
    }

    /// Rounded to four decimals, except where there are none to round:
    /// times ten thousand, a value near f64::MAX was infinite, so null.
    #[test]
    fn a_measure_is_written_as_a_number_however_large() {
        assert_eq!(Measure::Number(2.123456).to_json(), json!(2.1235));
        assert_eq!(Measure::Number(1e308).to_json(), json!(1e308));
        assert_eq!(Measure::Number(-1e308).to_json(), json!(-1e308));
        assert_eq!(Measure::Number(f64::MAX).to_json(), json!(f64::MAX));
        assert_eq!(Measure::Number(f64::NAN).to_json(), Value::Null);
    }
}
