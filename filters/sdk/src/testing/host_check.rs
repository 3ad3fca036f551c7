//! The host's check of a changed event, written the plain way (serde_json's
//! parser and a visitor), for tests. A filter can write raw JSON
//! (`Event::insert_json`), which the SDK trusts and the host does not:
//! `NativeFilter::process_events` fails such an event as the host would (a
//! duplicate key, text that is no JSON, nesting past ABI.md's limit, a
//! number past a double's range), so that an author's unit test cannot pass
//! where the module fails. The host's own fast check is held to this one.

use serde::de::{DeserializeSeed, Error, MapAccess, SeqAccess, Visitor};

use crate::json_text::{MAX_NESTING, number_in_range};

/// Why the host would refuse `event` as a filter's result, if it would.
pub fn refusal(event: &[u8]) -> Option<String> {
    let first = event.iter().find(|&&b| !crate::json_text::is_whitespace(b));
    if first != Some(&b'{') {
        return Some("the event is not a JSON object".into());
    }
    let mut reader = serde_json::Deserializer::from_slice(event);
    let checked = Strict.deserialize(&mut reader).and_then(|()| reader.end());
    // serde_json's own limit on nesting is ABI.md's (see the tests).
    checked
        .err()
        .map(|e| match crate::json_text::is_nesting_error(&e) {
            true => format!("nested more than {MAX_NESTING} deep"),
            false => e.to_string(),
        })
}

/// Any JSON value, with no key twice in an object and every number within
/// a double's range.
struct Strict;

/// The key serde_json's `arbitrary_precision` hands a number under, as a
/// map of one member whose value is the number's text.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, reader: D) -> Result<(), D::Error> {
        reader.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
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

    fn visit_f64<E: Error>(self, n: f64) -> Result<(), E> {
        match n.is_finite() {
            true => Ok(()),
            false => Err(E::custom("a number past a double's range")),
        }
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        while items.next_element_seed(Strict)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = members.next_key::<String>()? {
            if key == NUMBER_TOKEN {
                let text: String = members.next_value()?;
                let number: serde_json::Number = text.parse().map_err(A::Error::custom)?;
                return match number_in_range(&number) {
                    true => Ok(()),
                    false => Err(A::Error::custom(format!(
                        "the number {text} is past a double's range"
                    ))),
                };
            }
            if !seen.insert(key.clone()) {
                return Err(A::Error::custom(format!("duplicate key `{key}`")));
            }
            members.next_value_seed(Strict)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::refusal;
    use crate::{Event, Filter, NativeFilter, Outcome, Verdict};

    #[test]
    fn what_the_host_refuses_is_refused_here() {
        assert_eq!(refusal(br#"{"a":[1,{"b":null}],"c":1.5e300}"#), None);
        assert_eq!(refusal(br#"{"a":{}}"#), None);
        let refused = |event: &[u8]| refusal(event).expect("refused");
        assert!(refused(br#"{"x":{"a":1,"a":2}}"#).contains("duplicate key `a`"));
        assert!(refused(br#"{"x":{bad}"#).contains("key must be a string"));
        assert!(refused(br#"{"x":1e400}"#).contains("range"));
        assert!(refused(br#"[1]"#).contains("not a JSON object"));
        let deep = |n: usize| format!(r#"{{"x":{}{}}}"#, "[".repeat(n), "]".repeat(n));
        assert_eq!(refusal(deep(126).as_bytes()), None);
        let too_deep = refused(deep(127).as_bytes());
        assert!(too_deep.contains("nested more than 127 deep"), "{too_deep}");
    }

    /// The case that made this check: a unit test passed where the real
    /// module failed the event.
    #[test]
    fn raw_json_the_host_would_refuse_fails_the_event_natively_too() {
        struct Raw;
        impl Filter for Raw {
            type Config = crate::NoConfig;
            fn new(_: crate::NoConfig) -> Result<Self, String> {
                Ok(Raw)
            }
            fn process(&mut self, event: &mut Event) -> Verdict {
                let json = event
                    .get_str("json")
                    .unwrap_or_default()
                    .as_bytes()
                    .to_vec();
                event.insert_json("x", json);
                Verdict::Keep
            }
        }
        let mut filter = NativeFilter::<Raw>::new(b"{}").unwrap();
        let outcomes = filter.process_events(&[
            br#"{"json":"{\"a\":1}"}"#,
            br#"{"json":"{\"a\":1,\"a\":2}"}"#,
        ]);
        assert_eq!(outcomes[0].clone().into_value()["x"]["a"], 1);
        assert!(
            matches!(&outcomes[1], Outcome::Failed(why) if why.starts_with("invalid output: duplicate key `a`")),
            "{outcomes:?}"
        );
    }
}
