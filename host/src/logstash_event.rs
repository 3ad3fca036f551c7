//! Events made as Logstash's event makes them from outside data, where
//! events come in (`run`'s NDJSON, the sidecar's batches).
//!
//! Logstash's `Event` fixes two members when it is made from data: a
//! `tags` that is not text (`tags`) and an `@timestamp` that is not its
//! kind of time (`timestamp`). Events from Logstash have been made so
//! already; an NDJSON file, or a client other than Logstash, can bring
//! either. Made here as Logstash makes them, such events reach the filters
//! as they would in Logstash, and the filters can rely on what Logstash's
//! filters rely on. The checks read only those two members' text, found
//! in one pass over the keys, so an event that needs nothing costs little.

mod tags;
mod timestamp;

use wasmstash_sdk::json_text;

pub(crate) use tags::{as_text, written, written_keeping_tags};

use crate::event_check::CheckedEvent;

/// `event` as Logstash's event would hold it. `clock` is the current time
/// where it is fixed (`wasmstash test --now`), in nanoseconds since the
/// epoch; `None` reads the system's clock.
pub fn as_logstash_makes_it(event: CheckedEvent, clock: Option<i64>) -> CheckedEvent {
    let [tags, time] = member_values(&event, ["tags", "@timestamp"]);
    let legal_tags = tags.is_none_or(tags::is_legal);
    let readable_time = time.is_none_or(timestamp::in_logstash_form);
    // Logstash's constructor fixes `tags` first, so a tag for a bad time
    // comes after `_tagsparsefailure`.
    let event = match legal_tags {
        true => event,
        false => tags::moved_aside(event),
    };
    match readable_time {
        true => event,
        false => timestamp::made_readable(event, clock),
    }
}

/// The texts of the event's top-level members `names`, each from its
/// value's first byte to the event's end (`None` for one it lacks), found
/// in one pass over its keys. A key spelled with escapes (`"t\u0061gs"`)
/// is the same key.
fn member_values<'e, const N: usize>(
    event: &'e CheckedEvent,
    names: [&str; N],
) -> [Option<&'e [u8]>; N] {
    let text = event.text();
    let mut found = [None; N];
    for (start, end) in event.key_spans() {
        let key = &text[start as usize..end as usize];
        let unquoted = &key[1..key.len() - 1];
        let decoded = || serde_json::from_slice::<String>(key).ok();
        let Some(at) = names.iter().position(|name| {
            unquoted == name.as_bytes()
                || (key.contains(&b'\\') && decoded().is_some_and(|k| k == *name))
        }) else {
            continue;
        };
        // Past the key: the colon, then the value, which the check passed.
        let value = skip_whitespace(&text[end as usize..]);
        found[at] = Some(skip_whitespace(value.strip_prefix(b":").unwrap_or(value)));
    }
    found
}

fn skip_whitespace(text: &[u8]) -> &[u8] {
    let skipped = text.iter().take_while(|&&b| json_text::is_whitespace(b));
    &text[skipped.count()..]
}

/// `made` (a rewrite of `original`) in a buffer of its own length: the
/// sidecar charges a waiting event the bytes of its text
/// (`serve::budget`), so room to spare would hold memory the budget does
/// not see. `original` if the copy is refused, which it cannot be: it is
/// text the check passed.
fn without_spare_room(made: CheckedEvent, original: CheckedEvent) -> CheckedEvent {
    let mut text = made.into_text();
    text.shrink_to_fit();
    CheckedEvent::new(text).unwrap_or(original)
}
