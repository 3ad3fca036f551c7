//! Logstash's own way of writing a dissected line: one set at a time, in
//! its order (the normal fields as written, then the appended parts by their
//! order, then the indirect fields), each checked as Logstash's event checks
//! it. The dissector writes this way wherever that event could refuse a set,
//! because there the sets before the refused one stay and none after it is
//! made, so the order decides what the event holds.

use std::borrow::Cow;

use wasmstash_sdk::logstash::event_rules;
use wasmstash_sdk::{Event, Value, field_ref};

use super::{Dissector, Group, Join, Node, Scratch, appends, separator, span};
use crate::java_event;
use crate::pattern::{Field, Kind};

/// One set Logstash's dissect makes: a normal field's text, or an appended
/// part (with the separator that joins it to the field's current string).
/// Logstash makes the normal fields' sets in pattern order, then the
/// appended parts' by their order, then the indirect fields'.
pub(super) struct Set {
    field: usize,
    key: String,
    append: Option<String>,
}

impl Dissector {
    /// The normal and append fields' sets, one by one in Logstash's order,
    /// each checked first; an error at the first one refused, with the sets
    /// before it made. Values stay text: Logstash converts after all
    /// mappings, which a refusal keeps from running at all.
    pub(super) fn set_in_order(
        &self,
        text: &str,
        event: &mut Event,
        scratch: &Scratch,
    ) -> Result<(), String> {
        for set in &self.sets {
            let part = span(text, &scratch.spans, set.field);
            let value = match (&set.append, event.get(&set.key)) {
                (Some(separator), Some(Value::String(current))) => {
                    format!("{current}{separator}{part}")
                }
                _ => part.to_owned(),
            };
            set_checked(event, &set.key, Value::String(value))?;
        }
        Ok(())
    }

    /// The indirect fields, after all others as in Logstash. Logstash's
    /// IndirectField takes the key from the event when the event has the
    /// field (the pattern's own normal and appended fields are written by
    /// then), and only otherwise from the field of the pattern that
    /// captured it, a skip (`%{?name}`).
    pub(super) fn set_indirects(
        &self,
        text: &str,
        event: &mut Event,
        scratch: &Scratch,
    ) -> Result<(), String> {
        for indirect in &self.indirects {
            let key = match event.get(&indirect.key_name) {
                Some(value) => match key_text(value) {
                    Some(key) => Cow::Owned(key),
                    None => continue,
                },
                None => match indirect.key_field {
                    Some(field) => Cow::Borrowed(span(text, &scratch.spans, field)),
                    None => continue,
                },
            };
            if key.is_empty() {
                continue;
            }
            // Logstash parses the key as a field reference when it sets it,
            // and raises on one that is none (`[a`, `a[0]`).
            if let Err(e) = field_ref::validate(&key) {
                return Err(format!("`%{{&{}}}`: {e}", indirect.key_name));
            }
            let value = Value::String(span(text, &scratch.spans, indirect.value).to_owned());
            set_checked(event, key.as_ref(), value)?;
        }
        Ok(())
    }
}

/// Sets `value` at `key`, or says why Logstash's event would refuse it.
fn set_checked(event: &mut Event, key: &str, value: Value) -> Result<(), String> {
    if let Some(why) = java_event::refusal(event, key, &value) {
        return Err(event_rules::refused_set(key, why));
    }
    event.set(key, value);
    Ok(())
}

/// Whether no set of the joins can be refused on this event, nor meet a
/// list, whose members two keys may name alike (`[l][0]`, `[l][-1]`): on
/// the way to each key of a group already in the event there are only
/// objects (or nothing, or null, where the set makes objects). The groups
/// already are a tree, so the pattern's own keys do not meet either.
pub(super) fn clear_way(groups: &[Group], joins: &[Join], event: &Event) -> bool {
    groups
        .iter()
        .filter(|group| event.keys().any(|k| k == group.top))
        .all(|group| leaves_clear(&group.node, joins, event))
}

fn leaves_clear(node: &Node, joins: &[Join], event: &Event) -> bool {
    match node {
        Node::Leaf(index) => only_objects_on_the_way(event, &joins[*index].key),
        Node::Branch(children) => children
            .iter()
            .all(|(_, child)| leaves_clear(child, joins, event)),
    }
}

fn only_objects_on_the_way(event: &Event, key: &str) -> bool {
    let mut segments = field_ref::segments(key);
    let Some(top) = segments.next() else {
        return true;
    };
    let mut node = event.get(top);
    for segment in segments {
        node = match node {
            None | Some(Value::Null) => return true,
            Some(Value::Object(members)) => members.get(segment),
            Some(_) => return false,
        };
    }
    true
}

/// An event value as Java's `String.valueOf` writes it, which Logstash's
/// IndirectField takes as the key. `None` for an object or list, whose
/// Java text (`{k=v}`, `[a, b]`) no one means as a key.
fn key_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some("null".to_owned()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

/// Logstash's sets for the normal and append fields, in its order.
pub(super) fn sets(fields: &[Field], append_separator: Option<&str>) -> Vec<Set> {
    let normals = fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.kind == Kind::Normal)
        .map(|(i, f)| Set {
            field: i,
            key: f.name.clone(),
            append: None,
        });
    let appends = appends(fields).map(|i| Set {
        field: i,
        key: fields[i].name.clone(),
        append: Some(separator(fields, i, append_separator)),
    });
    normals.chain(appends).collect()
}
