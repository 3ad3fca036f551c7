//! Validates events before they reach a filter and after they leave one.
//!
//! Filters read events lazily and trust that what they get is one well-formed
//! JSON object with no repeated keys (ABI v1 promises that); a filter's output
//! is trusted by nobody. This check is the single place both promises are kept.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Checks that `bytes` is one UTF-8 JSON object with no duplicate key at any
/// depth. The error says what is wrong and where.
pub fn check_event(bytes: &[u8]) -> Result<(), String> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(match first {
            None => "empty event: expected a JSON object".into(),
            Some(_) => {
                "not a JSON object: an event must be an object like {\"message\": \"...\"}".into()
            }
        });
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    Checked
        .deserialize(&mut deserializer)
        .map_err(|e| e.to_string())?;
    deserializer.end().map_err(|e| e.to_string())
}

/// A seed that walks any JSON value, failing on a repeated key.
#[derive(Clone, Copy)]
struct Checked;

impl<'de> DeserializeSeed<'de> for Checked {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Checked {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Most objects are small, where a linear scan beats hashing; large
        // ones switch to a set so a hostile event cannot make this quadratic.
        let mut few: Vec<Cow<'de, str>> = Vec::new();
        let mut many: HashSet<Cow<'de, str>> = HashSet::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let duplicate = if many.is_empty() && few.len() < 32 {
                few.contains(&key) || {
                    few.push(key.clone());
                    false
                }
            } else {
                many.extend(few.drain(..));
                !many.insert(key.clone())
            };
            if duplicate {
                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
            }
            map.next_value_seed(self)?;
        }
        Ok(())
    }
}

/// Reads a key, borrowing it from the input when it has no escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(key))
    }
    fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(key.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::check_event;

    #[test]
    fn accepts_objects() {
        assert!(check_event(br#" {"a":[1,{"b":null}],"c":"\u00e9","a\"":2} "#).is_ok());
        assert!(check_event(b"{}").is_ok());
    }

    #[test]
    fn rejects_everything_else_with_a_reason() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "empty event"),
            (b"[1]", "not a JSON object"),
            (b"\"x\"", "not a JSON object"),
            (br#"{"a":1,"a":2}"#, "duplicate key `a`"),
            (br#"{"o":{"k":1,"k":1}}"#, "duplicate key `k`"),
            (br#"{"a":1} {"b":2}"#, "trailing characters"),
            (br#"{"a":1"#, "EOF"),
            (b"{\"a\":\"\xff\"}", "invalid unicode"),
        ];
        let wide: String = (0..100).map(|i| format!("\"k{i}\":1,")).collect();
        let wide = format!("{{{wide}\"k7\":2}}");
        assert!(
            check_event(wide.as_bytes())
                .unwrap_err()
                .contains("duplicate key `k7`")
        );
        for (input, expected) in cases {
            let err = check_event(input).unwrap_err();
            assert!(
                err.contains(expected),
                "{:?}: {err}",
                String::from_utf8_lossy(input)
            );
        }
    }
}
