//! What the fuzz targets share: an independent reading of "a valid event"
//! to hold the host's check against, and the way a target's input bytes are
//! cut into parts.
//!
//! The host's check (`wasmstash::event_check`) is a hand-written one-pass
//! validator, fast because it builds nothing. The reference here is the
//! slow, obvious one: serde_json builds the value, and a visitor refuses a
//! repeated key. The check's own documentation says it accepts exactly
//! what serde_json parses, less numbers beyond an f64's range; these
//! targets hold it to that on inputs no one wrote by hand.

pub mod targets;

use std::collections::HashSet;
use std::fmt;

use serde::Deserializer;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// Whether `bytes` is an event by the reference: one JSON object, in UTF-8,
/// with no key repeated in any object, no number beyond an f64's range, no
/// deeper nesting than serde_json's limit, and no key that is serde_json's
/// token for a number (which the check refuses, as filters would read the
/// object holding it as a number).
pub fn is_valid_event(bytes: &[u8]) -> bool {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let top = deserializer.deserialize_any(Strict);
    matches!(top, Ok(Shape::Object)) && deserializer.end().is_ok() && !has_number_token_key(bytes)
}

/// Whether some key in `bytes`, a JSON text, decodes to [`NUMBER_TOKEN`].
/// Read from the text, as a visitor cannot tell that key from a number:
/// a key is a string followed by a `:`, which no value string is.
fn has_number_token_key(bytes: &[u8]) -> bool {
    let mut at = 0;
    while let Some(open) = bytes[at..].iter().position(|&b| b == b'"').map(|i| at + i) {
        let mut end = open + 1;
        while end < bytes.len() && bytes[end] != b'"' {
            end += if bytes[end] == b'\\' { 2 } else { 1 };
        }
        if end >= bytes.len() {
            return false;
        }
        let after = bytes[end + 1..].iter().find(|b| !b.is_ascii_whitespace());
        if after == Some(&b':')
            && serde_json::from_slice::<String>(&bytes[open..=end]).is_ok_and(|k| k == NUMBER_TOKEN)
        {
            return true;
        }
        at = end + 1;
    }
    false
}

/// `bytes` parsed as a value (for comparing two texts of one event), or
/// `None` if serde_json refuses it.
pub fn value(bytes: &[u8]) -> Option<serde_json::Value> {
    serde_json::from_slice(bytes).ok()
}

/// Splits `data` at its first NUL byte: the parts before and after it (the
/// second empty when there is none).
pub fn split_at_nul(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[]),
    }
}

/// What a value was, as far as the top level needs to know.
#[derive(PartialEq)]
enum Shape {
    Object,
    Other,
}

/// The key serde_json's `arbitrary_precision` feature hands a number over
/// in: a map of one member, that key, and the number's text.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

struct Strict;

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Shape;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Shape, D::Error> {
        deserializer.deserialize_any(Strict)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Shape;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
        Ok(Shape::Other)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
        Ok(Shape::Other)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
        Ok(Shape::Other)
    }
    fn visit_f64<E: de::Error>(self, number: f64) -> Result<Shape, E> {
        finite(number)
    }
    fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
        Ok(Shape::Other)
    }
    fn visit_unit<E>(self) -> Result<Shape, E> {
        Ok(Shape::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Shape, A::Error> {
        while items.next_element_seed(Strict)?.is_some() {}
        Ok(Shape::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<Shape, A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = members.next_key::<String>()? {
            if key == NUMBER_TOKEN {
                let text: String = members.next_value()?;
                let number: f64 = text.parse().map_err(de::Error::custom)?;
                return finite(number);
            }
            if !seen.insert(key) {
                return Err(de::Error::custom("repeated key"));
            }
            members.next_value_seed(Strict)?;
        }
        Ok(Shape::Object)
    }
}

fn finite<E: de::Error>(number: f64) -> Result<Shape, E> {
    if number.is_finite() {
        Ok(Shape::Other)
    } else {
        Err(E::custom("number beyond an f64's range"))
    }
}

#[cfg(test)]
mod tests {
    use super::is_valid_event;

    #[test]
    fn the_reference_reads_events_as_the_check_promises() {
        assert!(is_valid_event(br#"{"a":[1,{"b":null}],"c":"\u00e9"}"#));
        assert!(is_valid_event(b" {} \n"));
        assert!(!is_valid_event(br#"{"a":1,"a":2}"#));
        assert!(!is_valid_event(br#"{"x":{"a":1,"\u0061":2}}"#));
        assert!(!is_valid_event(br#"{"n":1e400}"#));
        assert!(is_valid_event(
            br#"{"n":1e-400,"m":123456789012345678901234567890}"#
        ));
        assert!(!is_valid_event(b"[]"));
        assert!(!is_valid_event(br#"{"a":1} {}"#));
        assert!(!is_valid_event(br#"{"s":"\ud800"}"#));
        assert!(!is_valid_event(
            br#"{"a":{"$serde_json::private::Number":"1"}}"#
        ));
        assert!(!is_valid_event(
            br#"{"\u0024serde_json::private::Number":"x"}"#
        ));
        assert!(is_valid_event(br#"{"a":"$serde_json::private::Number"}"#));
    }
}
