//! `@timestamp` in a document parsed into the event's root.
//!
//! Logstash keeps `@timestamp` as a time, not a text, and its json filter
//! (with no `target`) reads the document's `@timestamp` as one: a text in
//! ISO 8601 becomes the event's `@timestamp`, written in UTC as Logstash
//! writes times (`2015-12-02T16:40:00.666Z`, at least three fraction
//! digits). Anything else, a text that is no such time or a value that is
//! no text, leaves the event's `@timestamp` at the current time, tags the
//! event `_timestampparsefailure` and keeps the value, as text, in
//! `_@timestamp`. A `null` there changes nothing.
//!
//! The texts read are those of Logstash 8's parser
//! ([`Timestamp::parse_iso8601`]).
use serde_json::{Number, Value};
use wasmstash_sdk::logstash::ruby_inspect::inspect_with;
use wasmstash_sdk::logstash::ruby_number::{number_to_s, value_to_s};
use wasmstash_sdk::timestamp::Timestamp;

pub const FAILURE_TAG: &str = "_timestampparsefailure";
pub const FAILURE_FIELD: &str = "_@timestamp";

/// The time `text` gives, written as Logstash writes `@timestamp`; `None`
/// where Logstash's parser refuses it.
pub fn parse(text: &str) -> Option<String> {
    Timestamp::parse_iso8601(text).map(|time| time.text())
}

/// What json.rb keeps in `_@timestamp`: the value's `to_s`. Logstash's
/// JSON parser (JrJackson, with no options) makes every number with a
/// fraction or an exponent a BigDecimal, whose text is `0.15e4` for
/// `1.5e3`, also inside a list or an object.
pub fn failure_text(time: &Value) -> String {
    match time {
        Value::Number(number) => logstash_number_to_s(number),
        Value::Array(_) | Value::Object(_) => inspect_with(time, &logstash_number_to_s),
        other => value_to_s(other),
    }
}

fn logstash_number_to_s(number: &Number) -> String {
    let text = number.to_string();
    match text.contains(['.', 'e', 'E']) {
        true => bigdecimal_to_s(&text).unwrap_or_else(|| number_to_s(number)),
        false => number_to_s(number),
    }
}

/// Ruby's `BigDecimal#to_s` of a JSON number's text, as JRuby writes a
/// Java BigDecimal: `0.` and the significant digits, then `e` and the
/// power of ten (`1700000000.123` is `0.1700000000123e10`, `0.001` is
/// `0.1e-2`); zero is `0.0`, with no sign, as Java's BigDecimal has no
/// negative zero. `None` for an exponent past Java's int scale, where
/// JrJackson refuses the document anyway.
fn bigdecimal_to_s(text: &str) -> Option<String> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i32>().ok()?),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{whole}{fraction}");
    let significant = digits.trim_start_matches('0');
    // 0.DIGITS x 10^(whole digits + exponent), less one per leading zero.
    let power =
        i64::from(exponent) + whole.len() as i64 - (digits.len() - significant.len()) as i64;
    let significant = significant.trim_end_matches('0');
    if significant.is_empty() {
        return Some("0.0".to_owned());
    }
    let sign = if negative { "-" } else { "" };
    Some(format!("{sign}0.{significant}e{power}"))
}

/// The current time, as Logstash writes it (to the millisecond).
pub fn now() -> String {
    let nanos = wasmstash_sdk::host::now_unix_nanos();
    Timestamp::from_unix_millis(nanos.div_euclid(1_000_000)).text()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_a_time_logstash_would_write() {
        let now = now();
        assert_eq!(parse(&now).as_deref(), Some(now.as_str()));
        assert!(now.ends_with('Z') && now.len() == 24, "{now}");
    }
}
