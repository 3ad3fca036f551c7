//! Logstash's rule for an `@timestamp` that comes with the data.
//!
//! Logstash holds `@timestamp` as an instant, written in one form
//! (`2015-05-17T10:05:03.000Z`). Making an event from data, it reads a text
//! there as ISO 8601 (`Timestamp::parse_iso8601`), so a time with an
//! offset, or with no fraction, comes out in that form. A value it cannot
//! read (a text that is no such time, a number, a list, an object) moves
//! to `_@timestamp` as it was, the event is tagged `_timestampparsefailure`
//! and its `@timestamp` is the current time. A `null` is no `@timestamp`
//! to Logstash; this host leaves an event without one as it is (no current
//! time is made up for it), and removes a `null`, so that the filters take
//! both as Logstash's take an event's own time: a `%{+yyyy.MM.dd}` reads
//! the current time for it.
//!
//! The filters read `@timestamp` in Logstash's form only
//! (`Timestamp::parse`): an input time in any other form would print as
//! nothing in a `%{+yyyy.MM.dd}`, though Logstash would print its day.

use std::time::{SystemTime, UNIX_EPOCH};

use wasmstash_sdk::timestamp::Timestamp;
use wasmstash_sdk::{Event, Value};

use crate::event_check::CheckedEvent;

const TIMESTAMP: &str = "@timestamp";
const FAILURE_TAG: &str = "_timestampparsefailure";
const FAILURE_FIELD: &str = "_@timestamp";

/// Whether `value` (the text of a top-level `@timestamp`, from its first
/// byte) is a string with no escape that Logstash would write back as it
/// is.
pub(super) fn in_logstash_form(value: &[u8]) -> bool {
    let Some(rest) = value.strip_prefix(b"\"") else {
        return false;
    };
    let Some(end) = memchr::memchr2(b'"', b'\\', rest) else {
        return false;
    };
    if rest[end] != b'"' {
        return false;
    }
    let Ok(text) = std::str::from_utf8(&rest[..end]) else {
        return false;
    };
    let Some(time) = Timestamp::parse(text) else {
        return false;
    };
    // What Logstash writes nearly always: a four-digit year and three
    // fraction digits, the one form of that length with those bytes. It
    // spares each event the writing below.
    let bytes = text.as_bytes();
    if bytes.len() == 24 && bytes[0].is_ascii_digit() && bytes[19] == b'.' {
        return true;
    }
    time.text() == text
}

/// `event`, whose `@timestamp` is not in Logstash's form, with it
/// rewritten, removed or moved aside (see the module's notes).
pub(super) fn made_readable(event: CheckedEvent, clock: Option<i64>) -> CheckedEvent {
    let Ok(mut parsed) = Event::parse(event.text()) else {
        return event;
    };
    let Some(given) = parsed.get(TIMESTAMP).cloned() else {
        return event;
    };
    let read = given.as_str().and_then(Timestamp::parse_iso8601);
    match (given, read) {
        (_, Some(time)) => parsed.insert(TIMESTAMP, time.text()),
        (Value::Null, None) => {
            parsed.remove(TIMESTAMP);
        }
        (given, None) => {
            parsed.insert(TIMESTAMP, now(clock).text());
            parsed.add_tag(FAILURE_TAG);
            parsed.insert(FAILURE_FIELD, given);
        }
    }
    // Nothing moved deeper than it was, so the check cannot refuse it; if
    // it ever did, the event goes on as it came.
    match super::written(&parsed, event.text().len()) {
        Ok(made) => super::without_spare_room(made, event),
        Err(_) => event,
    }
}

/// The current time to the millisecond, as Logstash's event takes it:
/// `clock`'s if it is fixed, else the system's.
fn now(clock: Option<i64>) -> Timestamp {
    let nanos = clock.unwrap_or_else(|| {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        since_epoch.as_nanos() as i64
    });
    Timestamp::from_unix_millis(nanos.div_euclid(1_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn made(text: &str) -> String {
        let event = CheckedEvent::new(text.as_bytes().to_vec()).expect("a valid event");
        let made = crate::logstash_event::as_logstash_makes_it(event, None);
        String::from_utf8(made.into_text()).unwrap()
    }

    #[test]
    fn a_time_in_logstash_form_and_no_time_are_left_as_they_are() {
        for text in [
            r#"{"message":"m"}"#,
            r#"{"@timestamp":"2015-05-17T10:05:03.000Z","message":"m"}"#,
            r#"{"@timestamp" : "2015-05-17T10:05:03.123456Z"}"#,
            r#"{"@timestamp":"+10000-01-01T00:00:00.000Z"}"#,
            r#"{"a":{"@timestamp":5}}"#,
        ] {
            assert_eq!(made(text), text);
        }
    }

    #[test]
    fn other_iso_8601_texts_are_written_in_logstash_form() {
        for (given, written) in [
            ("2021-06-30T23:15:00-02:00", "2021-07-01T01:15:00.000Z"),
            ("2015-05-17T10:05:03Z", "2015-05-17T10:05:03.000Z"),
            ("2015-05-17T10:05:03.120000Z", "2015-05-17T10:05:03.120Z"),
            ("2015-05-17", "2015-05-17T00:00:00.000Z"),
            // An escape spells the same text.
            (r"2015-05-17T10:05:03.000\u005a", "2015-05-17T10:05:03.000Z"),
        ] {
            assert_eq!(
                made(&format!(r#"{{"@timestamp":"{given}","n":1}}"#)),
                format!(r#"{{"@timestamp":"{written}","n":1}}"#),
                "{given}"
            );
        }
        // So is a key spelled with one.
        assert_eq!(
            made(r#"{"\u0040timestamp":"2015-05-17"}"#),
            r#"{"\u0040timestamp":"2015-05-17T00:00:00.000Z"}"#
        );
    }

    #[test]
    fn a_null_time_is_removed() {
        assert_eq!(made(r#"{"@timestamp":null,"m":1}"#), r#"{"m":1}"#);
    }

    #[test]
    fn a_time_logstash_cannot_read_moves_aside_and_the_event_is_tagged() {
        for given in [
            r#""yesterday""#,
            r#""2015-05-17 10:05:03""#,
            "12345",
            "true",
            r#"["2015-05-17T10:05:03.000Z"]"#,
            r#"{"t":1}"#,
        ] {
            let before = now(None);
            let out = made(&format!(r#"{{"@timestamp":{given},"tags":"x"}}"#));
            let after = now(None);
            let event: serde_json::Value = serde_json::from_str(&out).unwrap();
            let expected: serde_json::Value = serde_json::from_str(given).unwrap();
            assert_eq!(event[FAILURE_FIELD], expected, "{out}");
            assert_eq!(
                event["tags"],
                serde_json::json!(["x", FAILURE_TAG]),
                "{out}"
            );
            let time = Timestamp::parse(event[TIMESTAMP].as_str().unwrap()).unwrap();
            assert!(before <= time && time <= after, "{out}");
        }
    }
}
