//! Turning raw input lines into events, the same way for every entry point.
//!
//! A plain log line becomes `{"message": line}`. An NDJSON line is taken as
//! the event itself once [`check_event`] accepts it; one that is not a valid
//! JSON object is not lost but becomes a `message` event tagged
//! `_jsonparsefailure` with the reason recorded, as Logstash's `json_lines`
//! codec does.

use std::borrow::Cow;

use serde_json::json;
use wasmstash_sdk::Event;

use crate::event_check::{CheckedEvent, check_event};
use crate::pipeline::FAILURES_FIELD;

/// How input lines are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InputFormat {
    /// NDJSON if the first non-empty line is a JSON object, else plain lines.
    Auto,
    /// Each line is a log message.
    Lines,
    /// Each line is a JSON event.
    Ndjson,
}

/// Decides `Auto` by looking at the first non-empty line.
pub fn detect(first_line: &[u8]) -> InputFormat {
    if check_event(first_line).is_ok() {
        InputFormat::Ndjson
    } else {
        InputFormat::Lines
    }
}

/// The event a line stands for in `format` (`Auto` reads it as a plain
/// line), or `None` for a blank NDJSON line, which is no event.
pub fn event(format: InputFormat, line: &[u8]) -> Option<CheckedEvent> {
    match format {
        InputFormat::Ndjson if line.iter().all(u8::is_ascii_whitespace) => None,
        InputFormat::Ndjson => Some(ndjson_event(line)),
        InputFormat::Lines | InputFormat::Auto => Some(line_event(line)),
    }
}

/// Strips the line terminator (`\n` or `\r\n`).
pub fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// `{"message": line}`; bytes that are not UTF-8 become U+FFFD.
pub fn line_event(line: &[u8]) -> CheckedEvent {
    // Almost every line is valid UTF-8: check it in one pass and go lossy
    // only when it is not.
    let text = match std::str::from_utf8(line) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(line),
    };
    CheckedEvent::message(&text)
}

/// The event an NDJSON line stands for, or, if it is not a valid JSON
/// object, a message event tagged `_jsonparsefailure` with the reason.
pub fn ndjson_event(line: &[u8]) -> CheckedEvent {
    match CheckedEvent::copied(line) {
        Ok(event) => event,
        Err(reason) => {
            let mut event = Event::new();
            event.set("message", String::from_utf8_lossy(line).into_owned());
            event.add_tag("_jsonparsefailure");
            event.set(
                FAILURES_FIELD,
                json!([{"kind": "invalid_input", "reason": reason}]),
            );
            let mut bytes = Vec::new();
            event.write_json(&mut bytes);
            CheckedEvent::new(bytes).expect("a written event passes the check")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_become_message_events() {
        assert_eq!(
            line_event(b"GET \"/\" 200").text(),
            br#"{"message":"GET \"/\" 200"}"#
        );
        assert_eq!(
            line_event(b"bad \xff byte").text(),
            "{\"message\":\"bad \u{fffd} byte\"}".as_bytes()
        );
        assert_eq!(trim_newline(b"x\r\n"), b"x");
        // The same text serde_json would write, escapes and all.
        let mut tricky: String = (0u8..0x20).map(char::from).collect();
        tricky.push_str("\\ \" / é 😀 \u{7f} and a tail long enough for the wide steps");
        assert_eq!(
            line_event(tricky.as_bytes()).into_text(),
            serde_json::to_vec(&json!({"message": tricky})).unwrap()
        );
    }

    #[test]
    fn bad_ndjson_is_kept_and_tagged() {
        assert_eq!(ndjson_event(br#"{"a":1}"#).text(), br#"{"a":1}"#);
        let event = ndjson_event(br#"{"a":1,"a":2}"#);
        let text = String::from_utf8(event.into_text()).unwrap();
        assert!(text.contains("duplicate key `a`"), "{text}");
        assert!(text.contains(r#""tags":["_jsonparsefailure"]"#), "{text}");
        assert!(text.contains(r#""message":"{\"a\":1,\"a\":2}""#), "{text}");
    }

    #[test]
    fn a_blank_line_is_an_event_only_as_a_plain_line() {
        assert_eq!(event(InputFormat::Ndjson, b"  "), None);
        assert_eq!(
            event(InputFormat::Lines, b"").map(CheckedEvent::into_text),
            Some(br#"{"message":""}"#.to_vec())
        );
        assert_eq!(
            event(InputFormat::Ndjson, br#"{"a":1}"#).map(CheckedEvent::into_text),
            Some(br#"{"a":1}"#.to_vec())
        );
    }

    #[test]
    fn detects_ndjson_from_the_first_line() {
        assert_eq!(detect(br#"{"message":"x"}"#), InputFormat::Ndjson);
        assert_eq!(detect(b"127.0.0.1 - - [x]"), InputFormat::Lines);
    }
}
