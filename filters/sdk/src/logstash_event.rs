//! Where Logstash's own event refuses a set that this SDK's [`Event`]
//! would carry out. Logstash's Ruby plugins meet the refusal as an
//! exception, which decides what they do next (grok counts the field as
//! unmatched, kv tags the event and sets no more pairs), so a filter that
//! follows them asks here before it sets.

use serde_json::Value;

use crate::Event;
use crate::field_ref;

/// Whether the way to `field` passes through a string, number or boolean,
/// which Logstash's event cannot set a child of. Through a missing or null
/// field it makes objects; through a list it takes an index, or sets
/// nothing when the step is none (no refusal either way).
pub fn through_a_scalar(event: &Event, field: &str) -> bool {
    let segments: Vec<&str> = field_ref::segments(field).collect();
    let Some((_, parents)) = segments.split_last() else {
        return false;
    };
    let mut at: Option<&Value> = None;
    for (depth, segment) in parents.iter().enumerate() {
        let next = match at {
            None if depth == 0 => event.get(segment),
            None => return false,
            Some(Value::Object(members)) => members.get(*segment),
            Some(Value::Array(items)) => segment.parse::<i64>().ok().and_then(|i| {
                let i = if i < 0 { items.len() as i64 + i } else { i };
                usize::try_from(i).ok().and_then(|i| items.get(i))
            }),
            Some(_) => return true,
        };
        match next {
            None | Some(Value::Null) => return false,
            Some(value) => at = Some(value),
        }
    }
    matches!(
        at,
        Some(Value::String(_) | Value::Number(_) | Value::Bool(_))
    )
}

/// Whether Logstash's event refuses to set a string at `field`: a path
/// through a scalar, `@timestamp` (a timestamp object, set only as one) or
/// anything under it, or anything under `tags`.
pub fn refuses_text_at(event: &Event, field: &str) -> bool {
    let mut segments = field_ref::segments(field);
    match segments.next() {
        Some("@timestamp") => true,
        Some("tags") if segments.next().is_some() => true,
        _ => through_a_scalar(event, field),
    }
}
