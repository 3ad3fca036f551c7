//! Events made as Logstash's event makes them from outside data, where
//! events come in (`run`'s NDJSON, the sidecar's batches).
//!
//! Logstash's `Event` fixes two members when it is made from data: a
//! `tags` that is not text (`tags`) and an `@timestamp` that is not its
//! kind of time (`timestamp`). Events from Logstash have been made so
//! already; an NDJSON file, or a client other than Logstash, can bring
//! either. Made here as Logstash makes them, such events reach the filters
//! as they would in Logstash, and the filters can rely on what Logstash's
//! filters rely on. Each check reads only its own member's text, so an
//! event that needs nothing costs two key lookups.

mod tags;
mod timestamp;

use wasmstash_sdk::json_text;

pub(crate) use tags::{as_text, written, written_keeping_tags};

use crate::event_check::CheckedEvent;

/// `event` as Logstash's event would hold it.
pub fn as_logstash_makes_it(event: CheckedEvent) -> CheckedEvent {
    // Logstash's constructor fixes `tags` first, so a tag for a bad time
    // comes after `_tagsparsefailure`.
    timestamp::readable(tags::legal(event))
}

/// The text of the event's top-level member `name`, from its value's first
/// byte to the event's end; `None` if the event has no such member. A key
/// spelled with escapes (`"t\u0061gs"`) is the same key.
fn member_value<'e>(event: &'e CheckedEvent, name: &str) -> Option<&'e [u8]> {
    let text = event.text();
    let (_, end) = event.key_spans().find(|&(start, end)| {
        let key = &text[start as usize..end as usize];
        let plain = key.len() == name.len() + 2 && &key[1..key.len() - 1] == name.as_bytes();
        plain
            || (key.contains(&b'\\')
                && serde_json::from_slice::<String>(key).is_ok_and(|k| k == name))
    })?;
    // Past the key: the colon, then the value, which the check passed.
    let value = skip_whitespace(&text[end as usize..]);
    Some(skip_whitespace(value.strip_prefix(b":").unwrap_or(value)))
}

fn skip_whitespace(text: &[u8]) -> &[u8] {
    let skipped = text.iter().take_while(|&&b| json_text::is_whitespace(b));
    &text[skipped.count()..]
}
