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

use std::ops::Range;

use smallvec::SmallVec;
use wasmstash_sdk::json_text;

use super::keys::Keys;
use super::{Refused, Validator, checked_keys, to_one_line, utf8_error};

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

    /// The same key, where it starts at `start`.
    fn at(self, start: usize) -> KeySpan {
        let len = (self.end - self.start) as usize;
        KeySpan {
            start: start as u32,
            end: (start + len) as u32,
            ..self
        }
    }
}

/// Room left in a new event's buffer for the members stages will add, so
/// that adding them moves nothing: grok's ECS fields and date's
/// `@timestamp` on an access line are about 450 bytes.
const ROOM_TO_GROW: usize = 512;

/// An event's text, known to be one JSON object without repeated keys, and
/// its top-level keys. The text is one line: a line break in the whitespace
/// of what was checked (a pretty-printed body, a filter's output) is made a
/// space, so an event can always be written as one line of NDJSON.
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

impl AddedMembers {
    /// How many bytes the members take, held until they are added.
    pub fn byte_len(&self) -> usize {
        self.text.len()
    }
}

impl CheckedEvent {
    /// Checks `text` (see [`super::check_event`]).
    pub fn new(mut text: Vec<u8>) -> Result<CheckedEvent, String> {
        let mut keys = Keys::default();
        let line_breaks = checked_keys(&text, &mut keys)?;
        let spans = spans_within(&text, keys.written());
        drop(keys);
        if line_breaks {
            to_one_line(&mut text);
        }
        Ok(CheckedEvent { text, keys: spans })
    }

    /// Checks a copy of `text`, made with room to grow.
    pub fn copied(text: &[u8]) -> Result<CheckedEvent, String> {
        let mut copy = Vec::with_capacity(text.len() + ROOM_TO_GROW);
        copy.extend_from_slice(text);
        CheckedEvent::new(copy)
    }

    /// `{"message": text}`, which needs no check: it is written here.
    pub fn message(text: &str) -> CheckedEvent {
        const KEY: &[u8] = b"\"message\"";
        let mut event = Vec::with_capacity(text.len() + 16 + ROOM_TO_GROW);
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

    /// Where each top-level key is, `(start, end)` from its opening quote to
    /// past its closing one, in the order written: what a keyed batch tells
    /// a module (see `wasmstash_sdk::plumbing::wire`).
    pub fn key_spans(&self) -> impl ExactSizeIterator<Item = (u32, u32)> + '_ {
        debug_assert_eq!(
            self.keys,
            CheckedEvent::new(self.text.clone()).expect("checked").keys,
            "carried key spans differ from the check's"
        );
        self.keys.iter().map(|span| (span.start, span.end))
    }

    /// Checks `text`, the payload of a `replaced` result for this event, as
    /// [`Self::new`] would: the same verdict, and the same message. Filters
    /// copy the members they leave alone byte for byte, so the members the
    /// new text shares with this event at its start and at its end are not
    /// read again; only the run between them is checked, against their
    /// keys. (On a Beats event, the date filter's new `@timestamp` is 40
    /// bytes of 1,600.) Anything else goes to the whole check.
    pub fn check_replacement(&self, mut text: Vec<u8>) -> Result<CheckedEvent, String> {
        match self.replaced_in_part(&text) {
            Some((keys, changed)) => {
                // Only the changed bytes can hold a line break: the rest is
                // this event's, which is one line.
                to_one_line(&mut text[changed]);
                Ok(CheckedEvent { text, keys })
            }
            None => CheckedEvent::new(text),
        }
    }

    /// The keys of `new` if it is this event with one run of members
    /// changed, and that run passes the check, with where in `new` the bytes
    /// that differ from this event are; `None` if it is not, or the run does
    /// not pass (the whole check then says why).
    fn replaced_in_part(&self, new: &[u8]) -> Option<(KeySpans, Range<usize>)> {
        let (old, spans) = (&self.text[..], &self.keys[..]);
        let prefix = shared_run::<false>(old, new);
        let suffix = shared_run::<true>(old, new).min(old.len().min(new.len()) - prefix);
        // The first changed member: every one before it ends, comma and
        // all, within the shared start, and so does the start of its key.
        let first = (spans.get(1..)?.iter())
            .take_while(|span| span.start as usize <= prefix)
            .count();
        let start = spans.get(first)?.start as usize;
        if start > prefix {
            return None;
        }
        // The first member of the shared end, if any: from its key on, the
        // two texts are the same.
        let shared_from = old.len() - suffix;
        let rest = spans[first..]
            .iter()
            .position(|span| span.start as usize >= shared_from)
            .map_or(spans.len(), |i| first + i);
        let moved = |at: usize| at + new.len() - old.len();
        // The changed run in `new`: members only, without the comma that
        // joins them to the shared end.
        let run = if rest < spans.len() {
            let between = &new[start..moved(spans[rest].start as usize)];
            match json_text::trim_whitespace_end(between).split_last() {
                None => &[][..], // members were only taken out
                Some((b',', members)) if !only_whitespace(members) => members,
                Some(_) => return None,
            }
        } else {
            let close = old.iter().rposition(|&b| b == b'}')?;
            if close < shared_from {
                return None;
            }
            let members = &new[start..moved(close)];
            if only_whitespace(members) && first > 0 {
                return None; // a comma would be left before the brace
            }
            json_text::trim_whitespace_end(members)
        };
        let changed = if run.is_empty() {
            KeySpans::new()
        } else {
            let kept = spans[..first].iter().chain(&spans[rest..]);
            checked_members(run, old, kept).ok()?.1
        };
        let keys = (spans[..first].iter().copied())
            .chain(
                changed
                    .iter()
                    .map(|span| span.at(start + span.start as usize)),
            )
            .chain(
                spans[rest..]
                    .iter()
                    .map(|span| span.at(moved(span.start as usize))),
            )
            .collect();
        Some((keys, prefix..new.len() - suffix))
    }

    /// Checks `members`, the payload of an `extended` result for this event:
    /// they must be well-formed object members in UTF-8, and no key may
    /// repeat one of the event's top-level keys or another added one. Only
    /// the added bytes are read.
    pub fn check_added(&self, members: &[u8]) -> Result<AddedMembers, String> {
        if only_whitespace(members) {
            return Ok(AddedMembers {
                text: Vec::new(),
                keys: KeySpans::new(),
            });
        }
        let (text, keys) = checked_members(members, &self.text, &self.keys)?;
        Ok(AddedMembers { text, keys })
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
        let base = self.text.len();
        self.text.extend_from_slice(&added.text);
        (self.keys).extend(
            added
                .keys
                .iter()
                .map(|span| span.at(base + span.start as usize)),
        );
    }
}

/// Checks `members` (object members: an `extended` result's, or the run a
/// `replaced` result changed) as they will stand before an event's closing
/// brace, beside `kept`, the keys of `text` that stay: well-formed, in
/// UTF-8, and with no key repeating a kept one or another of theirs.
/// Returns their copy (out of the filter's memory, closed by that brace,
/// which is what gets checked) and their keys within it, or what is wrong.
fn checked_members<'k>(
    members: &[u8],
    text: &[u8],
    kept: impl IntoIterator<Item = &'k KeySpan>,
) -> Result<(Vec<u8>, KeySpans), String> {
    let mut copy = Vec::with_capacity(members.len() + 1);
    copy.extend_from_slice(members);
    copy.push(b'}');
    let mut keys = Keys::default();
    let mut kept_count = 0;
    for span in kept {
        keys.insert(span.of(text), span.escaped);
        kept_count += 1;
    }
    let validator = Validator::new(&copy);
    match validator.added_members(0, &mut keys) {
        Ok(()) => {
            let spans = spans_within(&copy, keys.written().skip(kept_count));
            drop(keys);
            if validator.line_breaks.get() {
                to_one_line(&mut copy);
            }
            Ok((copy, spans))
        }
        Err(Refused) => Err(match utf8_error(members) {
            Some(at) => format!("invalid UTF-8 at byte {at} of the added members"),
            None => (validator.invalid.into_inner()).describe(&copy, " of the added members"),
        }),
    }
}

impl AsRef<[u8]> for CheckedEvent {
    fn as_ref(&self) -> &[u8] {
        &self.text
    }
}

/// Whether `text` is nothing but JSON whitespace.
fn only_whitespace(text: &[u8]) -> bool {
    json_text::trim_whitespace_end(text).is_empty()
}

/// How many bytes `a` and `b` share at their start, or with `FROM_END` at
/// their end, compared a word at a time. A word is read so that the byte
/// nearest the chosen end is its lowest.
fn shared_run<const FROM_END: bool>(a: &[u8], b: &[u8]) -> usize {
    let len = a.len().min(b.len());
    let word = |bytes: &[u8], done: usize| {
        if FROM_END {
            let end = bytes.len() - done;
            u64::from_be_bytes(bytes[end - 8..end].try_into().unwrap())
        } else {
            u64::from_le_bytes(bytes[done..done + 8].try_into().unwrap())
        }
    };
    let byte = |bytes: &[u8], done: usize| match FROM_END {
        true => bytes[bytes.len() - 1 - done],
        false => bytes[done],
    };
    let mut done = 0;
    while done + 8 <= len {
        let differ = word(a, done) ^ word(b, done);
        if differ != 0 {
            return done + differ.trailing_zeros() as usize / 8;
        }
        done += 8;
    }
    while done < len && byte(a, done) == byte(b, done) {
        done += 1;
    }
    done
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

    /// The date filter's result on a Beats event: only the new `@timestamp`
    /// is read.
    #[test]
    fn a_replaced_member_is_checked_alone() {
        let old = br#"{"@timestamp":"2015-05-20T21:05:15.000Z","message":"GET /","agent":{"name":"web-01"},"log":{"offset":7}}"#;
        let new = br#"{"@timestamp":"2015-05-17T10:05:03.000Z","message":"GET /","agent":{"name":"web-01"},"log":{"offset":7}}"#;
        let event = CheckedEvent::new(old.to_vec()).unwrap();
        let (keys, changed) = event.replaced_in_part(new).expect("checked in part");
        assert_eq!(changed, 23..34);
        let whole = CheckedEvent::new(new.to_vec()).unwrap();
        assert_eq!(keys, whole.keys);
        assert_eq!(event.check_replacement(new.to_vec()), Ok(whole));
        let repeat = br#"{"@timestamp":"x","message":"GET /","agent":{"name":"web-01"},"log":{"offset":7},"agent":1}"#;
        assert_eq!(
            event.check_replacement(repeat.to_vec()),
            Err("duplicate key `agent`".to_owned())
        );
    }

    /// Every run of members replaced by every snippet, and every byte of
    /// the event replaced, removed or doubled: the result is exactly the
    /// whole check's, error message and key spans included, and the partial
    /// check did the work in most of the cases that pass.
    #[test]
    fn replacements_get_the_verdict_of_the_whole_check() {
        let events: [&[u8]; 4] = [
            br#"{"@timestamp":"t","message":"a \"q\" b","agent":{"id":[1,{"k":null}]},"n":-1.5e3}"#,
            b" {\n \"a\" : 1 ,\"b\":[] , \"c\":{} }\n",
            br#"{"\u0061":"x","b":"\u00e9","c":true}"#,
            br#"{"only":"one"}"#,
        ];
        let snippets: [&[u8]; 18] = [
            b"",
            b" ",
            b"\x0c", // form feed: ASCII whitespace, not JSON's
            b"\"z\":1,\x0c",
            br#""z":1"#,
            br#""z":1,"y":{"a":[]}"#,
            br#""z":1,"z":2"#,
            br#""a":0"#,
            br#""\u0062":0"#,
            b",",
            br#""z":1,"#,
            br#""z""#,
            br#""z":"#,
            br#""z":1}"#,
            br#"}{"z":1"#,
            b"\"z\":\"\xff\"",
            br#""z":[1,2"#,
            br#""z":"\""#,
        ];
        let (mut compared, mut in_part) = (0, 0);
        let mut compare = |event: &CheckedEvent, new: Vec<u8>| {
            let partial = event.replaced_in_part(&new).map(|(keys, _)| keys);
            let whole = CheckedEvent::new(new.clone());
            if let Ok(whole) = &whole {
                assert!(!whole.text.iter().any(|&b| b == b'\n' || b == b'\r'));
            }
            if let Some(keys) = &partial {
                assert_eq!(
                    Ok(keys),
                    whole.as_ref().map(|e| &e.keys),
                    "{:?}",
                    String::from_utf8_lossy(&new)
                );
                in_part += 1;
            }
            assert_eq!(event.check_replacement(new), whole);
            compared += 1;
        };
        for text in events {
            let event = CheckedEvent::new(text.to_vec()).unwrap();
            // Member boundaries: each key's start, and the closing brace.
            let close = text.iter().rposition(|&b| b == b'}').unwrap();
            let mut bounds: Vec<usize> = event.keys.iter().map(|s| s.start as usize).collect();
            bounds.push(close);
            for (i, &from) in bounds.iter().enumerate() {
                for &to in &bounds[i..] {
                    for snippet in snippets {
                        for joint in [&b""[..], b",", b" , ", b",\x0c", b"\x0c,"] {
                            let mut new = text[..from].to_vec();
                            new.extend_from_slice(snippet);
                            if to < close {
                                new.extend_from_slice(joint);
                            }
                            new.extend_from_slice(&text[to..]);
                            compare(&event, new);
                        }
                    }
                }
            }
            for at in 0..text.len() {
                for byte in [b'"', b',', b'}', b' ', b'1', 0xc3, 0x0c] {
                    let mut new = text.to_vec();
                    new[at] = byte;
                    compare(&event, new);
                }
                let mut removed = text.to_vec();
                removed.remove(at);
                compare(&event, removed);
                let mut doubled = text.to_vec();
                doubled.insert(at, text[at]);
                compare(&event, doubled);
            }
        }
        assert!(compared > 2_000, "only {compared} cases");
        assert!(
            in_part > 300,
            "only {in_part} of {compared} were checked in part"
        );
    }

    /// In checked text a raw line break can only be whitespace: however an
    /// event's text is made (checked whole, added to, replaced in part or
    /// whole), it comes out one line that means what the input meant, and
    /// an escaped `\n` in a string is left alone.
    #[test]
    fn checked_events_are_one_line() {
        let one_line = |event: &CheckedEvent| {
            assert!(
                !event.text.iter().any(|&b| b == b'\n' || b == b'\r'),
                "{:?}",
                String::from_utf8_lossy(&event.text)
            );
            assert_eq!(CheckedEvent::new(event.text.clone()).as_ref(), Ok(event));
        };
        let value = |text: &[u8]| serde_json::from_slice::<serde_json::Value>(text).unwrap();
        let pretty = b"{\r\n  \"message\": \"a\\nb\",\n  \"n\": [1,\n 2],\n  \"o\": {\n }\n}\n";
        let mut event = CheckedEvent::new(pretty.to_vec()).unwrap();
        one_line(&event);
        assert_eq!(event.text.len(), pretty.len());
        assert_eq!(value(&event.text), value(pretty));
        let added = event.check_added(b"\n\"x\":\r\n[1,\n2]\n").unwrap();
        event.add(added);
        one_line(&event);
        assert_eq!(value(&event.text)["x"], serde_json::json!([1, 2]));

        let old = CheckedEvent::new(br#"{"a":"x","b":1,"c":2}"#.to_vec()).unwrap();
        let replacements: [&[u8]; 5] = [
            b"{\"a\":\"x\",\"b\":\n[1],\n\"c\":2}",
            b"{\"a\":\"x\",\"b\":1\n,\r\n\"c\":2}",
            b"{\"a\":\"x\",\"b\":1,\"c\":\n3\r\n}",
            b"{\"a\":\"x\",\"b\":1,\"c\":2,\n\"d\":\"\\r\"\n}",
            b"\n{\"a\":\"x\",\"b\":1,\"c\":2}\n",
        ];
        for (i, new) in replacements.into_iter().enumerate() {
            // All but the last (whose brace moved) are checked in part.
            assert_eq!(old.replaced_in_part(new).is_some(), i < 4, "{i}");
            let replaced = old.check_replacement(new.to_vec()).unwrap();
            one_line(&replaced);
            assert_eq!(value(&replaced.text), value(new));
        }
    }

    #[test]
    fn shared_runs_are_counted_from_either_end() {
        let text = b"0123456789abcdefghij";
        for cut in 0..text.len() {
            let mut other = text.to_vec();
            other[cut] = b'-';
            assert_eq!(shared_run::<false>(text, &other), cut);
            assert_eq!(shared_run::<true>(text, &other), text.len() - 1 - cut);
            assert_eq!(shared_run::<false>(text, &text[..cut]), cut);
            assert_eq!(shared_run::<true>(text, &text[cut..]), text.len() - cut);
        }
    }
}
