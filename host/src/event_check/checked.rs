//! An event that passed the check, carried on with where its top-level keys
//! are.
//!
//! A filter that only adds fields returns an `extended` result, whose keys
//! must not repeat one the event already has at its top level. Finding those
//! means stepping over every value of the event, mostly what no filter
//! touched (the line in `message`, a Beats event's kilobyte of metadata),
//! and every stage paid for it again. The check that accepts an event passes
//! each of its keys anyway: kept with the event, they let an `extended`
//! result cost only what it adds, and the added members join the event in
//! place instead of in a copy of it.

use smallvec::SmallVec;
use wasmstash_sdk::json_text;

use super::keys::Keys;
use super::{Refused, Validator, checked_keys, utf8_error};

/// Where each top-level key is in an event's text, as written (quotes
/// included). Lengths on the wire are 32-bit, so an event never outgrows
/// them.
type KeySpans = SmallVec<[KeySpan; 8]>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KeySpan {
    start: u32,
    end: u32,
    /// Whether the key holds an escape, so may be spelled another way.
    escaped: bool,
}

impl KeySpan {
    fn of<'a>(&self, text: &'a [u8]) -> &'a [u8] {
        &text[self.start as usize..self.end as usize]
    }
}

/// An event's text, known to be one JSON object without repeated keys, and
/// its top-level keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedEvent {
    text: Vec<u8>,
    keys: KeySpans,
}

/// The members of an `extended` result, checked against the event they are
/// for, ready to join it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedMembers {
    /// The members and the event's closing brace; empty when nothing is added.
    text: Vec<u8>,
    /// Their keys, within `text`.
    keys: KeySpans,
}

impl CheckedEvent {
    /// Checks `text` (see [`super::check_event`]).
    pub fn new(text: Vec<u8>) -> Result<CheckedEvent, String> {
        let mut keys = Keys::default();
        checked_keys(&text, &mut keys)?;
        let spans = spans_within(&text, keys.written());
        drop(keys);
        Ok(CheckedEvent { text, keys: spans })
    }

    /// `{"message": text}`, which needs no check: it is written here.
    pub fn message(text: &str) -> CheckedEvent {
        const KEY: &[u8] = b"\"message\"";
        let mut event = Vec::with_capacity(text.len() + 16);
        event.push(b'{');
        event.extend_from_slice(KEY);
        event.push(b':');
        json_text::write_str(&mut event, text);
        event.push(b'}');
        CheckedEvent {
            text: event,
            keys: SmallVec::from_slice(&[KeySpan {
                start: 1,
                end: 1 + KEY.len() as u32,
                escaped: false,
            }]),
        }
    }

    pub fn text(&self) -> &[u8] {
        &self.text
    }

    pub fn into_text(self) -> Vec<u8> {
        self.text
    }

    /// Checks `members`, the payload of an `extended` result for this event:
    /// they must be well-formed object members in UTF-8, and no key may
    /// repeat one of the event's top-level keys or another added one. Only
    /// the added bytes are read.
    pub fn check_added(&self, members: &[u8]) -> Result<AddedMembers, String> {
        if members.iter().all(u8::is_ascii_whitespace) {
            return Ok(AddedMembers {
                text: Vec::new(),
                keys: KeySpans::new(),
            });
        }
        // The copy out of the filter's memory, with the brace that will
        // close the event after them, is what gets checked.
        let mut text = Vec::with_capacity(members.len() + 1);
        text.extend_from_slice(members);
        text.push(b'}');
        let mut keys = Keys::default();
        for span in &self.keys {
            keys.insert(span.of(&self.text), span.escaped);
        }
        let validator = Validator::new(&text);
        match validator.added_members(0, &mut keys) {
            Ok(()) => {
                let added_keys = spans_within(&text, keys.written().skip(self.keys.len()));
                drop(keys);
                Ok(AddedMembers {
                    text,
                    keys: added_keys,
                })
            }
            Err(Refused) => Err(match utf8_error(members) {
                Some(at) => format!("invalid UTF-8 at byte {at} of the added members"),
                None => (validator.invalid.into_inner()).describe(&text, " of the added members"),
            }),
        }
    }

    /// Adds members checked by [`Self::check_added`] on this event, as it
    /// was then, at its end.
    pub fn add(&mut self, added: AddedMembers) {
        if added.text.is_empty() {
            return;
        }
        let close = (self.text.iter().rposition(|&b| b == b'}')).expect("an event is an object");
        self.text.truncate(close);
        if !self.keys.is_empty() {
            self.text.push(b',');
        }
        let base = self.text.len() as u32;
        self.text.extend_from_slice(&added.text);
        (self.keys).extend(added.keys.iter().map(|span| KeySpan {
            start: base + span.start,
            end: base + span.end,
            ..*span
        }));
    }
}

impl AsRef<[u8]> for CheckedEvent {
    fn as_ref(&self) -> &[u8] {
        &self.text
    }
}

impl TryFrom<Vec<u8>> for CheckedEvent {
    type Error = String;

    fn try_from(text: Vec<u8>) -> Result<CheckedEvent, String> {
        CheckedEvent::new(text)
    }
}

/// The spans of `keys`, each a slice of `text`.
fn spans_within<'a>(text: &[u8], keys: impl Iterator<Item = (&'a [u8], bool)>) -> KeySpans {
    let base = text.as_ptr() as usize;
    keys.map(|(key, escaped)| {
        let start = key.as_ptr() as usize - base;
        debug_assert!(start + key.len() <= text.len());
        KeySpan {
            start: start as u32,
            end: (start + key.len()) as u32,
            escaped,
        }
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_of(event: &CheckedEvent) -> Vec<&str> {
        (event.keys.iter())
            .map(|span| std::str::from_utf8(span.of(&event.text)).unwrap())
            .collect()
    }

    #[test]
    fn keys_are_found_at_the_top_level_only() {
        let event = CheckedEvent::new(
            br#" { "a" : {"b": 1}, "c\u0064":[{"e":2}], "f":"\"g\":" } "#.to_vec(),
        )
        .unwrap();
        assert_eq!(keys_of(&event), [r#""a""#, r#""c\u0064""#, r#""f""#]);
        assert!(CheckedEvent::new(b"{}".to_vec()).unwrap().keys.is_empty());
        assert!(CheckedEvent::new(br#"{"a":1,"a":2}"#.to_vec()).is_err());
    }

    #[test]
    fn a_message_event_is_what_the_check_would_make_of_it() {
        for text in ["GET / 200", "", "quote \" and \\ and \u{1} and é"] {
            let built = CheckedEvent::message(text);
            assert_eq!(CheckedEvent::new(built.text.clone()), Ok(built));
        }
    }

    /// However many results are added, the keys carried are the keys a new
    /// check of the text finds, and the text is the event with the members.
    #[test]
    fn added_members_join_the_event_with_their_keys() {
        let mut event = CheckedEvent::new(b" { }\n".to_vec()).unwrap();
        let steps: [&str; 5] = [
            r#""a":{"x":1}"#,
            "  ",
            r#" "b" : [1, {"a": 2}] , "\u0063":"}" "#,
            r#""d":"é""#,
            &(0..20)
                .map(|i| format!(r#""k{i}":{i}"#))
                .collect::<Vec<_>>()
                .join(","),
        ];
        for members in steps {
            let added = event.check_added(members.as_bytes()).unwrap();
            event.add(added);
            assert_eq!(CheckedEvent::new(event.text.clone()).as_ref(), Ok(&event));
        }
        assert_eq!(keys_of(&event).len(), 4 + 20);
        for repeat in [r#""a":2"#, r#""\u0061":2"#, r#""k19":0"#, r#""z":1,"z":2"#] {
            let error = event.check_added(repeat.as_bytes()).unwrap_err();
            assert!(error.starts_with("duplicate key"), "{repeat}: {error}");
        }
        let error = event.check_added(br#""z":[1,]"#).unwrap_err();
        assert_eq!(
            error,
            "expected a JSON value at byte 7 of the added members"
        );
    }
}
