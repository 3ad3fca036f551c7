//! Where Logstash's own event refuses a set that this SDK's [`Event`]
//! would carry out. Logstash's Ruby plugins meet the refusal as an
//! exception, which decides what they do next (grok counts the field as
//! unmatched, kv tags the event and sets no more pairs), so a filter that
//! follows them asks here before it sets.

use serde_json::Value;

use crate::Event;
use crate::field_ref::FieldPath;

/// Whether the way to `field` passes through a string, number or boolean,
/// which Logstash's event cannot set a child of. Through a missing or null
/// field it makes objects; through a list it takes an index (no refusal
/// either way; see [`cannot_set`] for a step that is none). Each step
/// is read with [`Event::get`], which steps through objects and lists as
/// Logstash's `Accessors` do.
pub fn through_a_scalar(event: &Event, field: &(impl FieldPath + ?Sized)) -> bool {
    obstacle(event, field) == Some(Obstacle::Scalar)
}

/// Whether a set at `field` would not be carried out: refused, as
/// [`through_a_scalar`] says, or changing nothing, because the way passes
/// through a list at a step that names none of its members (a key, or a
/// negative index before its start), where Logstash's event (and
/// [`Event::set`]) leave the list alone. One walk of the path for both.
pub fn cannot_set(event: &Event, field: &(impl FieldPath + ?Sized)) -> bool {
    obstacle(event, field).is_some()
}

#[derive(PartialEq)]
enum Obstacle {
    Scalar,
    NoSuchMember,
}

/// The first thing on the way to `field` that keeps a set from making or
/// stepping into objects and list members. Walks the values once, from the
/// top-level member, with nothing allocated: filters ask this per event.
fn obstacle(event: &Event, field: &(impl FieldPath + ?Sized)) -> Option<Obstacle> {
    let mut segments = field.segments().peekable();
    let first = segments.next()?;
    segments.peek()?; // a top-level field has nothing in its way
    let mut parent = event.get(first)?;
    while let Some(segment) = segments.next() {
        let child = match parent {
            Value::Null => return None,
            Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                return Some(Obstacle::Scalar);
            }
            Value::Array(items) => {
                let len = items.len() as i64;
                let index = segment.parse::<i32>().ok().map(i64::from);
                let Some(index) = index.filter(|&i| i >= 0 || i + len >= 0) else {
                    return Some(Obstacle::NoSuchMember);
                };
                items.get(if index < 0 { index + len } else { index } as usize)
            }
            Value::Object(members) => members.get(segment),
        };
        // The last segment names what is set, which need not be there.
        segments.peek()?;
        parent = child?;
    }
    None
}

/// Whether Logstash's event refuses to set a string at `field`: a path
/// through a scalar, `@timestamp` (a timestamp object, set only as one) or
/// anything under it, or anything under `tags`.
pub fn refuses_text_at(event: &Event, field: &(impl FieldPath + ?Sized)) -> bool {
    let mut segments = field.segments();
    match segments.next() {
        Some("@timestamp") => true,
        Some("tags") if segments.next().is_some() => true,
        _ => through_a_scalar(event, field),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_follow_the_path_through_objects_and_lists() {
        let event = Event::parse(br#"{"host":"x","a":{"b":1},"l":["s",{"k":null}]}"#).unwrap();
        for (field, refused) in [
            ("[host][name]", true),
            ("[a][b][c]", true),
            ("[a][c][d]", false),
            ("[l][0][x]", true),
            ("[l][-1][k][x]", false),
            ("[l][key][x]", false),
            ("[l][9][x]", false),
            ("[missing][x]", false),
            ("host", false),
        ] {
            assert_eq!(through_a_scalar(&event, field), refused, "{field}");
        }
        for (field, not_set) in [
            ("[l][key][x]", true),
            ("[l][-3][x]", true),
            ("[l][-1][k][x]", false),
            ("[l][9][x]", false),
            ("[a][c][d]", false),
            ("[host][name]", true),
            ("[missing][x]", false),
        ] {
            assert_eq!(cannot_set(&event, field), not_set, "{field}");
        }
        assert!(refuses_text_at(&event, "@timestamp"));
        assert!(refuses_text_at(&event, "[tags][0]"));
        assert!(!refuses_text_at(&event, "tags"));
        assert!(refuses_text_at(&event, "[host][name]"));
    }
}
