//! Logstash's rule for a `tags` its event cannot hold.
//!
//! Logstash's event holds only a string or a list of strings in `tags`.
//! When it makes an event from data that has anything else there (a
//! number, an object, a list holding either), it moves that value into the
//! list `_tags` and tags the event `_tagsparsefailure`. Made here as
//! Logstash makes them, such events reach the filters as they would in
//! Logstash: a filter that then sets `tags` (grok's `overwrite`, mutate's
//! `replace`) leaves the old value in `_tags` rather than losing it, and
//! one that adds a tag finds a list to add it to.
//!
//! A value already at the nesting limit is one level too deep once it is a
//! member of `_tags`: it is kept there as its JSON text instead. A `_tags`
//! the event already has keeps its values, the moved one after them, where
//! Logstash's event would set `_tags` anew: nothing is lost.

use wasmstash_sdk::{Event, Value, json_text};

use crate::event_check::{CheckedEvent, MAX_DEPTH};

/// Where a `tags` value that is not a list of strings is kept, and that
/// list's depth in the event (whose own object is at 1): an item with `n`
/// containers one inside another reaches depth `TAGS_KEPT_DEPTH + n`.
const TAGS_KEPT: &str = "_tags";
const TAGS_KEPT_DEPTH: usize = 2;

/// Whether `value` (the text of a top-level `tags`, from its first byte)
/// is one Logstash's event holds: a string, null or a list of strings.
pub(super) fn is_legal(value: &[u8]) -> bool {
    match value.first() {
        Some(b'"') | Some(b'n') => true,
        Some(b'[') => is_list_of_strings(&value[1..]),
        _ => false,
    }
}

/// `event`, whose `tags` Logstash cannot hold, with that value moved to
/// `_tags` (see the module's notes).
pub(super) fn moved_aside(event: CheckedEvent) -> CheckedEvent {
    let Ok(mut parsed) = Event::parse(event.text()) else {
        return event;
    };
    // Adding no tag moves the value, as adding one would.
    parsed.append_tags(std::iter::empty());
    match written_keeping_tags(&mut parsed, event.text().len()) {
        Ok(made) => super::without_spare_room(made, event),
        Err(_) => event,
    }
}

/// Whether `rest`, the text after a list's `[`, holds strings only up to
/// its `]`.
fn is_list_of_strings(mut rest: &[u8]) -> bool {
    loop {
        rest = super::skip_whitespace(rest);
        match rest.first() {
            Some(b']') => return true,
            Some(b'"') => rest = super::skip_whitespace(after_string(&rest[1..])),
            _ => return false,
        }
        match rest.first() {
            Some(b',') => rest = &rest[1..],
            Some(b']') => return true,
            _ => return false,
        }
    }
}

/// The text after a string whose opening quote came just before `rest`.
fn after_string(mut rest: &[u8]) -> &[u8] {
    loop {
        // Checked JSON has no raw control character in a string.
        let stop = json_text::skip_plain_string_bytes(rest, 0);
        match rest.get(stop) {
            Some(b'"') => return &rest[stop + 1..],
            // A backslash escapes the byte after it (`\"` among them).
            Some(_) => rest = rest.get(stop + 2..).unwrap_or_default(),
            None => return rest,
        }
    }
}

/// `event` written and checked; where that fails because a value moved
/// into `_tags` is now too deep, with such values kept as their JSON text.
/// Only `_tags`' members went deeper than the event they came from.
pub(crate) fn written_keeping_tags(
    event: &mut Event,
    size_hint: usize,
) -> Result<CheckedEvent, String> {
    if let Ok(checked) = written(event, size_hint) {
        return Ok(checked);
    }
    if let Some(Value::Array(items)) = event.get_mut(TAGS_KEPT) {
        for item in items.iter_mut() {
            if TAGS_KEPT_DEPTH + json_text::nesting(item) >= MAX_DEPTH {
                *item = as_text(item.take()).into();
            }
        }
    }
    written(event, size_hint)
}

/// `event` written and checked.
pub(crate) fn written(event: &Event, size_hint: usize) -> Result<CheckedEvent, String> {
    let mut out = Vec::with_capacity(size_hint + 256);
    event.write_json(&mut out);
    CheckedEvent::new(out)
}

/// `value` as text: a string as it is, anything else as its JSON.
pub(crate) fn as_text(value: Value) -> String {
    match value {
        Value::String(text) => text,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn made(text: &str) -> String {
        let event = CheckedEvent::new(text.as_bytes().to_vec()).expect("a valid event");
        let made = crate::logstash_event::as_logstash_makes_it(event, None).into_text();
        assert_eq!(made.capacity(), made.len(), "no room to spare");
        String::from_utf8(made).unwrap()
    }

    #[test]
    fn tags_logstash_holds_are_left_as_they_are() {
        for text in [
            r#"{"message":"m"}"#,
            r#"{"tags":"one"}"#,
            r#"{"tags":null}"#,
            r#"{"tags":[]}"#,
            r#"{"tags" : [ "a" , "b\"]," ,"\\"] ,"x":1}"#,
            r#"{"a":{"tags":5}}"#,
        ] {
            assert_eq!(made(text), text);
        }
    }

    #[test]
    fn other_tags_move_to_underscore_tags_as_logstash_moves_them() {
        assert_eq!(
            made(r#"{"message":"m","tags":{"k":1}}"#),
            r#"{"message":"m","tags":["_tagsparsefailure"],"_tags":[{"k":1}]}"#
        );
        // A key spelled with an escape is the same key (and kept as spelled).
        assert_eq!(
            made(r#"{"t\u0061gs":["a",1]}"#),
            r#"{"t\u0061gs":["_tagsparsefailure"],"_tags":[["a",1]]}"#
        );
        for value in ["5", "true", "[\"a\",[\"b\"]]", "[null]"] {
            let out = made(&format!(r#"{{"tags":{value}}}"#));
            assert!(out.contains("_tagsparsefailure"), "{value}: {out}");
        }
        // A `_tags` the event has keeps its values, the moved one after them.
        assert_eq!(
            made(r#"{"_tags":["old"],"tags":7}"#),
            r#"{"_tags":["old",7],"tags":["_tagsparsefailure"]}"#
        );
    }

    /// A `tags` as deep as an event may be is one level too deep in
    /// `_tags`: it is kept as its text, and the event passes the check.
    #[test]
    fn a_value_too_deep_for_underscore_tags_is_kept_as_text() {
        let deep = format!("{}{}", "[".repeat(126), "]".repeat(126));
        let out = made(&format!(r#"{{"tags":{deep}}}"#));
        let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed["_tags"][0], serde_json::Value::String(deep));
        assert_eq!(parsed["tags"], serde_json::json!(["_tagsparsefailure"]));
    }
}
