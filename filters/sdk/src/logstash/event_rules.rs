//! Where Logstash's own event refuses a set that this SDK's [`Event`]
//! would carry out (or, for a negative list index before the list's start,
//! silently leave undone). Logstash's Ruby plugins meet the refusal as an
//! exception, which decides what they do next (grok counts the field as
//! unmatched, kv tags the event and sets no more pairs), so a filter that
//! follows them asks here before it sets.

use serde_json::Value;

use crate::Event;
use crate::event::MAX_LIST_PADDING;
use crate::field_ref::FieldPath;
use crate::json_text::{self, MAX_NESTING};

/// Whether Logstash's event raises on a set at `field` for the way there:
/// it passes through a string, number or boolean, which cannot hold a
/// child (`Accessors` casts it to a list, or throws
/// `InvalidFieldSetException`), or it steps into a list at a negative
/// index before the list's start (`[lst][-3]` on two members), whose
/// `setOnList` then sets the member at a negative offset and the list
/// throws `IndexOutOfBoundsException`. Through a missing or null field it
/// makes objects, and through a list at an index past its end it pads the
/// list with nulls. Each step is read as [`Event::get`] reads it, as
/// Logstash's `Accessors` do.
pub fn raises_on_set(event: &Event, field: &(impl FieldPath + ?Sized)) -> bool {
    obstacle(event, field).is_some_and(|blocked| blocked.kind != Obstacle::NotAnIndex)
}

/// Whether a set at `field` would not be carried out: Logstash's event
/// raises, as [`raises_on_set`] says, or changes nothing, because the way
/// steps into a list at a segment that is no index (a key, or a number
/// beyond 32 bits), where Logstash's `setOnList` (and [`Event::set`])
/// leave the list alone. One walk of the path for both.
pub fn cannot_set(event: &Event, field: &(impl FieldPath + ?Sized)) -> bool {
    obstacle(event, field).is_some()
}

/// [`cannot_set`], in words for a failure's reason: which value is in the
/// way, and what it is ("the event's `wasmstash` is a string, not an
/// object").
pub fn why_cannot_set(event: &Event, field: &(impl FieldPath + ?Sized)) -> Option<String> {
    let blocked = obstacle(event, field)?;
    let mut segments = field.segments();
    let path: Vec<&str> = segments.by_ref().take(blocked.steps).collect();
    let name = match path.as_slice() {
        [top] => (*top).to_owned(),
        steps => steps.iter().map(|step| format!("[{step}]")).collect(),
    };
    if let Value::Array(items) = blocked.value {
        let index = segments.next().unwrap_or_default();
        let len = items.len();
        match blocked.kind {
            Obstacle::BeforeListStart => {
                return Some(format!(
                    "the event's `{name}` is a list of {len}, which has no member {index}"
                ));
            }
            Obstacle::TooFarPastTheEnd => {
                return Some(format!(
                    "the event's `{name}` is a list of {len}: member {index} would pad it with \
                     more than {MAX_LIST_PADDING} nulls"
                ));
            }
            _ => {}
        }
    }
    let kind = match blocked.value {
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Array(_) => "a list",
        Value::Object(_) | Value::Null => "in the way",
    };
    Some(format!("the event's `{name}` is {kind}, not an object"))
}

#[derive(PartialEq)]
enum Obstacle {
    /// A string, number or boolean where the path needs an object.
    Scalar,
    /// A list, at a negative index before its start.
    BeforeListStart,
    /// A list, at a segment that is no 32-bit integer.
    NotAnIndex,
    /// A list, at an index so far past its end that padding it would add
    /// more nulls than [`Event::set`] adds (`MAX_LIST_PADDING`). Logstash
    /// pads it; an event here refuses, so a filter treats it as a raise.
    TooFarPastTheEnd,
}

/// What keeps a set from being carried out: the value in the way, named
/// by the first `steps` segments of the path.
struct Blocked<'e> {
    kind: Obstacle,
    value: &'e Value,
    steps: usize,
}

/// The first thing on the way to `field` that keeps a set from making or
/// stepping into objects and list members. Walks the values once, from the
/// top-level member, with nothing allocated: filters ask this per event.
fn obstacle<'e>(event: &'e Event, field: &(impl FieldPath + ?Sized)) -> Option<Blocked<'e>> {
    let mut segments = field.segments().peekable();
    let first = segments.next()?;
    segments.peek()?; // a top-level field has nothing in its way
    let mut parent = event.get(first)?;
    let mut steps = 1;
    while let Some(segment) = segments.next() {
        let blocked = |kind| {
            Some(Blocked {
                kind,
                value: parent,
                steps,
            })
        };
        let child = match parent {
            Value::Null => return None,
            Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                return blocked(Obstacle::Scalar);
            }
            Value::Array(items) => {
                let Ok(index) = segment.parse::<i32>() else {
                    return blocked(Obstacle::NotAnIndex);
                };
                let offset = i64::from(index) + if index < 0 { items.len() as i64 } else { 0 };
                if offset < 0 {
                    return blocked(Obstacle::BeforeListStart);
                }
                if offset as usize > items.len() + MAX_LIST_PADDING {
                    return blocked(Obstacle::TooFarPastTheEnd);
                }
                items.get(offset as usize)
            }
            Value::Object(members) => members.get(segment),
        };
        // The last segment names what is set, which need not be there.
        segments.peek()?;
        parent = child?;
        steps += 1;
    }
    None
}

/// Why Logstash's event would refuse to set `value` at `field`, if it
/// would: a path it raises on, as [`raises_on_set`] says;
/// `@timestamp` or anything under it (there the event takes only its
/// timestamp object, which no value a filter makes is: Ruby raises
/// `TypeError`); anything under `tags`, or at `tags` anything but a
/// string, null or a list of strings (its `Event.setField` throws
/// `InvalidTagsTypeException`); at `@metadata` itself anything but an
/// object (`setField` casts it to a map). Also this SDK's own limits, which
/// Logstash does not have: padding a list with more than
/// 65,536 nulls, and nesting the event more than
/// [`MAX_NESTING`] deep (a string never does: a field reference is at
/// most that deep). The reason reads after "cannot set `field`: ".
pub fn refusal(
    event: &Event,
    field: &(impl FieldPath + ?Sized),
    value: &Value,
) -> Option<&'static str> {
    if let Some(why) = logstash_refusal(event, field, value) {
        return Some(why);
    }
    if !(value.is_array() || value.is_object()) {
        return None;
    }
    nesting_refusal(field, json_text::nesting(value))
}

/// A refusal ([`refusal`] and the rest) in words: "Logstash's event
/// cannot set `field`: why", but for the padding and nesting limits,
/// which are this SDK's own (Logstash pads a list, and nests a value,
/// without one), "cannot set `field` here: why".
pub fn refused_set(field: &str, why: &str) -> String {
    match why == TOO_FAR_PAST_THE_END || why == TOO_DEEP {
        true => format!("cannot set `{field}` here: {why}"),
        false => format!("Logstash's event cannot set `{field}`: {why}"),
    }
}

/// Why Logstash's event would refuse a timestamp object at `field`, as
/// the date filter sets one at its `target`: `@timestamp` itself takes it,
/// and elsewhere a timestamp is refused wherever a number is, being
/// neither a string (`tags`) nor a map (`@metadata`).
pub fn timestamp_refusal(event: &Event, field: &(impl FieldPath + ?Sized)) -> Option<&'static str> {
    let mut segments = field.segments();
    if segments.next() == Some("@timestamp") && segments.next().is_none() {
        return None;
    }
    refusal(event, field, &Value::from(0))
}

/// Whether Logstash's event refuses some values at `field`, so that a set
/// there must be asked about with the value itself ([`refusal`]). Of the
/// names without brackets (a top-level field) only `tags`, `@metadata` and
/// `@timestamp` do, which is told without a walk: a filter setting many
/// top-level fields asks this of each.
pub fn constrains(event: &Event, field: &str) -> bool {
    if !field.contains('[') {
        return matches!(field, "tags" | "@metadata" | "@timestamp");
    }
    // Asked with `false`, which none of the constrained fields takes.
    refusal(event, field, &Value::Bool(false)).is_some()
}

/// Whether `value` is one Logstash's event takes as `tags`: its
/// `isLegalTagValue`.
pub(crate) fn is_legal_tags(value: &Value) -> bool {
    match value {
        Value::String(_) | Value::Null => true,
        Value::Array(items) => items.iter().all(Value::is_string),
        _ => false,
    }
}

/// Why a value `nesting` objects and arrays deep cannot be set at `field`,
/// if it cannot: the event would nest past [`MAX_NESTING`], this SDK's
/// limit, which [`refusal`] applies to a value it is given. For a set
/// that makes a value deeper than the one in hand (a field that becomes a
/// list of what it held and the new value).
pub fn nesting_refusal(field: &(impl FieldPath + ?Sized), nesting: usize) -> Option<&'static str> {
    (field.segments().count() + nesting > MAX_NESTING).then_some(TOO_DEEP)
}

/// What of [`refusal`] Logstash's event refuses, and the padding limit.
fn logstash_refusal(
    event: &Event,
    field: &(impl FieldPath + ?Sized),
    value: &Value,
) -> Option<&'static str> {
    let mut segments = field.segments();
    let first = segments.next();
    let nested = segments.next().is_some();
    match first {
        Some("@timestamp") => Some("`@timestamp` takes only a timestamp, and nothing under it"),
        Some("tags") if nested => Some("nothing can be set under `tags`"),
        Some("tags") => {
            (!is_legal_tags(value)).then_some("`tags` takes only a string or a list of strings")
        }
        Some("@metadata") if !nested => {
            (!value.is_object()).then_some("`@metadata` takes only an object")
        }
        _ => match obstacle(event, field)?.kind {
            Obstacle::Scalar => Some(THROUGH_A_SCALAR),
            Obstacle::BeforeListStart => Some(BEFORE_LIST_START),
            Obstacle::TooFarPastTheEnd => Some(TOO_FAR_PAST_THE_END),
            Obstacle::NotAnIndex => None,
        },
    }
}

const THROUGH_A_SCALAR: &str = "the way to it passes through a string, number or boolean";
const BEFORE_LIST_START: &str = "the way to it steps into a list before its first member";
const TOO_FAR_PAST_THE_END: &str = "the way to it steps into a list so far past its end \
     that padding it would add more than 65536 nulls, more than an event here may add";
const TOO_DEEP: &str = "the value would nest the event more than 127 objects and arrays deep, more than an event \
     here may be";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_padding_refusal_names_the_padding_limit() {
        let limit = MAX_LIST_PADDING.to_string();
        assert!(TOO_FAR_PAST_THE_END.contains(&format!(" {limit} ")));
        assert!(TOO_DEEP.contains(&format!(" {MAX_NESTING} ")));
    }

    /// A value is refused where the event would nest deeper than the host
    /// takes a filter's result: its field's segments and its own nesting.
    #[test]
    fn a_value_that_would_nest_the_event_too_deep_is_refused() {
        let event = Event::parse(br#"{"a":1}"#).unwrap();
        let nested = |levels: usize| (0..levels).fold(json!(1), |inner, _| json!([inner]));
        assert_eq!(refusal(&event, "a", &nested(126)), None);
        assert_eq!(refusal(&event, "a", &nested(127)), Some(TOO_DEEP));
        assert_eq!(refusal(&event, "[b][c]", &nested(125)), None);
        assert_eq!(refusal(&event, "[b][c]", &nested(126)), Some(TOO_DEEP));
        // Logstash's own refusal comes first, whatever the depth.
        assert_eq!(
            refusal(&event, "[a][x]", &nested(200)),
            Some(THROUGH_A_SCALAR)
        );
        assert_eq!(
            refused_set("a", TOO_DEEP),
            format!("cannot set `a` here: {TOO_DEEP}")
        );
    }

    /// Logstash pads a list without limit: only the other refusals are
    /// its event's.
    #[test]
    fn a_refusal_in_words_names_whose_rule_it_is() {
        let event = Event::parse(br#"{"host":"x","l":[1]}"#).unwrap();
        let padded = refusal(&event, "[l][70000]", &json!(1)).unwrap();
        assert_eq!(
            refused_set("[l][70000]", padded),
            format!("cannot set `[l][70000]` here: {TOO_FAR_PAST_THE_END}")
        );
        let scalar = refusal(&event, "[host][x]", &json!(1)).unwrap();
        assert_eq!(
            refused_set("[host][x]", scalar),
            format!("Logstash's event cannot set `[host][x]`: {THROUGH_A_SCALAR}")
        );
    }

    #[test]
    fn top_level_names_are_constrained_as_refusal_says() {
        let event = Event::parse(br#"{"host":"x","tags":["a"]}"#).unwrap();
        for field in [
            "tags",
            "@metadata",
            "@timestamp",
            "host",
            "message",
            "",
            "a]b",
            "[host][x]",
            "[tags][0]",
            "[n]",
        ] {
            assert_eq!(
                constrains(&event, field),
                refusal(&event, field, &Value::Bool(false)).is_some(),
                "{field}"
            );
        }
        assert!(constrains(&event, "[host][x]"));
        assert!(!constrains(&event, "message"));
    }

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
            ("[l][key]", false),
            ("[l][9][x]", false),
            ("[l][-2]", false),
            ("[l][99999999999]", false),
            // setOnList sets member -1 of the list, which throws.
            ("[l][-3]", true),
            ("[l][-3][x]", true),
            ("[l][-2147483648]", true),
            ("[missing][x]", false),
            ("host", false),
        ] {
            assert_eq!(raises_on_set(&event, field), refused, "{field}");
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
        // Why, in words: the value in the way, by its path.
        let why = |field: &str| why_cannot_set(&event, field);
        assert_eq!(
            why("[host][name]").unwrap(),
            "the event's `host` is a string, not an object"
        );
        assert_eq!(
            why("[a][b][c]").unwrap(),
            "the event's `[a][b]` is a number, not an object"
        );
        assert_eq!(
            why("[l][key][x]").unwrap(),
            "the event's `l` is a list, not an object"
        );
        assert_eq!(
            why("[l][-3]").unwrap(),
            "the event's `l` is a list of 2, which has no member -3"
        );
        assert_eq!(
            refusal(&event, "[l][-3][x]", &json!("v")),
            Some(BEFORE_LIST_START)
        );
        assert_eq!(refusal(&event, "[l][key]", &json!("v")), None);
        // Padding a list past what `Event::set` pads is refused beforehand,
        // as a raise, so a filter tags its own failure.
        assert_eq!(refusal(&event, "[l][65538]", &json!("v")), None);
        assert_eq!(
            refusal(&event, "[l][65539]", &json!("v")),
            Some(TOO_FAR_PAST_THE_END)
        );
        assert!(raises_on_set(&event, "[l][100000][x]"));
        assert_eq!(
            why("[l][100000]").unwrap(),
            "the event's `l` is a list of 2: member 100000 would pad it with more than 65536 nulls"
        );
        assert_eq!(why("[a][c][d]"), None);
        assert!(refusal(&event, "@timestamp", &json!("x")).is_some());
        assert!(refusal(&event, "@metadata", &json!("x")).is_some());
        assert!(refusal(&event, "[@metadata][x]", &json!("x")).is_none());
        assert_eq!(
            refusal(&event, "[@metadata]", &json!([1])),
            Some("`@metadata` takes only an object")
        );
        assert_eq!(refusal(&event, "@metadata", &json!({"k": 1})), None);
        assert!(refusal(&event, "[tags][0]", &json!("x")).is_some());
        assert!(refusal(&event, "tags", &json!("x")).is_none());
        assert!(refusal(&event, "[host][name]", &json!("x")).is_some());
    }

    /// Event.java's `setField`: `tags` takes a string, null or a list of
    /// strings (`isLegalTagValue`), nothing may be set under it
    /// (`isTagsWithMap`), and `@timestamp` takes only a timestamp object.
    #[test]
    fn tags_and_timestamp_take_only_what_logstash_takes() {
        let event =
            Event::parse(br#"{"host":"x","tags":["a"],"@timestamp":"2020-01-01T00:00:00.000Z"}"#)
                .unwrap();
        let refused = |field: &str, value: Value| refusal(&event, field, &value);
        for legal in [json!("t"), json!(null), json!([]), json!(["a", "b"])] {
            assert_eq!(refused("tags", legal.clone()), None, "{legal}");
            assert_eq!(refused("[tags]", legal.clone()), None, "{legal}");
        }
        for illegal in [
            json!(1),
            json!(["a", 1]),
            json!([["a"]]),
            json!({"a": "b"}),
            json!(true),
        ] {
            assert_eq!(
                refused("tags", illegal.clone()),
                Some("`tags` takes only a string or a list of strings"),
                "{illegal}"
            );
        }
        for field in ["[tags][0]", "[tags][x]", "[tags][x][y]"] {
            assert_eq!(
                refused(field, json!("t")),
                Some("nothing can be set under `tags`")
            );
        }
        for field in ["@timestamp", "[@timestamp]", "[@timestamp][z]"] {
            let timestamp = json!("2021-01-01T00:00:00.000Z");
            assert!(
                refused(field, timestamp)
                    .unwrap()
                    .starts_with("`@timestamp` takes only")
            );
        }
        assert_eq!(refused("[host][name]", json!("h")), Some(THROUGH_A_SCALAR));
        assert_eq!(refused("[tagsx][y]", json!("h")), None);
        assert_eq!(refused("[@metadata][tags]", json!(5)), None);
    }
}
