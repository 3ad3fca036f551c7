//! How a field reference's segments step through the values under a
//! top-level field, as Logstash's `Accessors` step through them: a segment
//! names an object's member, or a list's member by index, counted from the
//! end when negative (`[ports][-1]` is the last port). Writing past a
//! list's end pads it with nulls, and a segment that is no index leaves a
//! list alone; neither turns the list into an object, which would lose it.

use serde_json::{Map, Value};

/// Most nulls one write may pad a list with. Logstash pads without a limit
/// (an index of two billion exhausts the JVM's heap); here such a write
/// is refused, and its event fails with the reason, instead of the write
/// exhausting the instance's memory.
pub(crate) const MAX_LIST_PADDING: usize = 1 << 16;

/// A list's member for `segment`: an index (a 32-bit integer, as Logstash
/// reads it), from the end when negative; `None` past either end.
fn list_offset(segment: &str, len: usize) -> Option<usize> {
    let index = i64::from(segment.parse::<i32>().ok()?);
    let offset = if index < 0 { len as i64 + index } else { index };
    usize::try_from(offset).ok().filter(|&offset| offset < len)
}

pub(super) fn child<'v>(value: &'v Value, segment: &str) -> Option<&'v Value> {
    match value {
        Value::Object(map) => map.get(segment),
        Value::Array(items) => items.get(list_offset(segment, items.len())?),
        _ => None,
    }
}

pub(super) fn child_mut<'v>(value: &'v mut Value, segment: &str) -> Option<&'v mut Value> {
    match value {
        Value::Object(map) => map.get_mut(segment),
        Value::Array(items) => {
            let offset = list_offset(segment, items.len())?;
            items.get_mut(offset)
        }
        _ => None,
    }
}

/// Removes the member `segment` names from `parent`, if it has one.
pub(super) fn remove_child(parent: &mut Value, segment: &str) -> Option<Value> {
    match parent {
        Value::Object(map) => map.shift_remove(segment),
        Value::Array(items) => {
            let offset = list_offset(segment, items.len())?;
            Some(items.remove(offset))
        }
        _ => None,
    }
}

/// The value `segment` names under `slot`, made if missing, for a write:
/// an object's member (`null` when new), or a list's member, the list
/// padded with nulls up to an index past its end. `None` when `slot` is a
/// list and `segment` names none of its members: the write then changes
/// nothing. For a key, so does Logstash's; for a negative index before the
/// list's start, Logstash's event raises, which a filter that follows it
/// finds out beforehand (`event_rules::raises_on_set`).
/// Any other value is replaced by an object, as the path says it must be
/// one. An error says why padding the list was refused.
pub(super) fn child_for_write<'v>(
    slot: &'v mut Value,
    segment: &str,
) -> Result<Option<&'v mut Value>, String> {
    if let Value::Array(items) = slot {
        let Ok(index) = segment.parse::<i32>() else {
            return Ok(None);
        };
        if index >= 0 && index as usize >= items.len() {
            let padding = index as usize - items.len();
            if padding > MAX_LIST_PADDING {
                return Err(format!(
                    "member {index} of a list of {} would pad it with {padding} nulls \
                     (at most {MAX_LIST_PADDING})",
                    items.len()
                ));
            }
            items.resize(index as usize + 1, Value::Null);
        }
        return Ok(list_offset(segment, items.len()).map(|offset| &mut items[offset]));
    }
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    let Value::Object(map) = slot else {
        unreachable!("made an object above")
    };
    Ok(Some(map.entry(segment.to_owned()).or_insert(Value::Null)))
}

/// The field reference of `segments`: `[a][0]` for `a`, `0`.
pub(super) fn path_of(segments: &[&str]) -> String {
    segments.iter().map(|s| format!("[{s}]")).collect()
}
