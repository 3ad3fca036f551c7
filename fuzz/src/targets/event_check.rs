//! The host's event check against the reference, on the three ways it is
//! used: a whole event as it enters (`CheckedEvent::copied`, what the
//! sidecar and `run` do with each input line), a filter's `replaced` result
//! (checked in part, against the members it shares with the event), and an
//! `extended` one (added members, checked against the event's keys).
//!
//! Input: a mode byte, then an event's text, a NUL, and the rest. For a
//! replacement, the rest is two little-endian u16s (where in the event, and
//! how many bytes to cut there) and the bytes put in their place; making the
//! new text from the old is what sends the check down its partial path.

use crate::{is_valid_event, split_at_nul, value};
use wasmstash::event_check::CheckedEvent;

/// One input, as the fuzz target of this name gets it.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (old, rest) = split_at_nul(rest);
    let checked = CheckedEvent::copied(old);
    assert_eq!(
        checked.is_ok(),
        is_valid_event(old),
        "check and reference disagree on {:?}: {checked:?}",
        String::from_utf8_lossy(old)
    );
    let Ok(event) = checked else {
        return;
    };
    assert_same_event(&event, old);
    match mode % 3 {
        0 => {}
        1 => replaced(&event, old, rest),
        _ => extended(event, rest),
    }
}

/// The checked event is the text it came from, on one line, with the key
/// spans the whole check finds (`key_spans` asserts that in a debug build).
fn assert_same_event(event: &CheckedEvent, from: &[u8]) {
    let one_line: Vec<u8> = from
        .iter()
        .map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b })
        .collect();
    assert_eq!(event.text(), &one_line[..]);
    let _ = event.key_spans().count();
}

fn replaced(event: &CheckedEvent, old: &[u8], edit: &[u8]) {
    let Some((at, rest)) = edit.split_first_chunk::<2>() else {
        return;
    };
    let Some((cut, insert)) = rest.split_first_chunk::<2>() else {
        return;
    };
    let at = usize::from(u16::from_le_bytes(*at)) % (old.len() + 1);
    let cut = usize::from(u16::from_le_bytes(*cut)).min(old.len() - at);
    let new = [&old[..at], insert, &old[at + cut..]].concat();
    let result = event.check_replacement(new.clone());
    assert_eq!(
        result.is_ok(),
        is_valid_event(&new),
        "replacement check and reference disagree on {:?} after {:?}: {result:?}",
        String::from_utf8_lossy(&new),
        String::from_utf8_lossy(old),
    );
    if let Ok(replacement) = result {
        assert_same_event(&replacement, &new);
    }
}

fn extended(mut event: CheckedEvent, members: &[u8]) {
    let text = event.text().to_vec();
    let close = text.iter().rposition(|&b| b == b'}').expect("an object");
    let has_members = !value(&text)
        .and_then(|v| v.as_object().map(|o| o.is_empty()))
        .expect("a checked event parses");
    let blank = members.iter().all(|b| b" \t\n\r".contains(b));
    let expected = if blank {
        text.clone()
    } else {
        let comma: &[u8] = if has_members { b"," } else { b"" };
        [&text[..close], comma, members, &text[close..]].concat()
    };
    let added = event.check_added(members);
    assert_eq!(
        added.is_ok(),
        is_valid_event(&expected),
        "added-members check and reference disagree on {:?} added to {:?}: {added:?}",
        String::from_utf8_lossy(members),
        String::from_utf8_lossy(&text),
    );
    let Ok(added) = added else {
        return;
    };
    event.add(added);
    assert_eq!(value(event.text()), value(&expected));
    let _ = event.key_spans().count();
}
