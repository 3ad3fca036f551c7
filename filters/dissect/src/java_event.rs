//! Where Logstash's event refuses a set that dissect makes. Logstash's
//! dissect 1.2 sets its fields and conversions through the event's Java API
//! (`Event.setField`), not Ruby's `event.set` that the common options and
//! most plugins use, and the two refuse different things; the refusal is an
//! exception that the plugin's catch turns into `tag_on_failure`.

use wasmstash_sdk::field_ref::FieldPath;
use wasmstash_sdk::logstash::event_rules;
use wasmstash_sdk::{Event, Value};

/// Why Logstash's Java event would refuse `value` at `field`, if it would:
/// as [`event_rules::refusal`] says (a path through a string, number or
/// boolean; anything under `tags` or `@timestamp`; a `tags` that is no
/// string; an `@metadata` that is no object), except at the top-level
/// `@timestamp`: `Event.setField` puts any value there (only Ruby's
/// `event.set` insists on a timestamp).
pub fn refusal(
    event: &Event,
    field: &(impl FieldPath + ?Sized),
    value: &Value,
) -> Option<&'static str> {
    let mut segments = field.segments();
    let first = segments.next();
    let top_level = segments.next().is_none();
    match first {
        Some("@timestamp") if top_level => None,
        _ => event_rules::refusal(event, field, value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_java_api_differs_from_ruby_at_timestamp_and_metadata() {
        let event =
            Event::parse(br#"{"host":"x","tags":["a"],"@timestamp":"2020-01-01T00:00:00.000Z"}"#)
                .unwrap();
        let text = json!("t");
        for (field, refused) in [
            ("@timestamp", false),
            ("[@timestamp]", false),
            ("[@timestamp][x]", true),
            ("@metadata", true),
            ("[@metadata]", true),
            ("[@metadata][x]", false),
            ("tags", false),
            ("[tags][0]", true),
            ("[host][name]", true),
            ("[a][b]", false),
        ] {
            assert_eq!(refusal(&event, field, &text).is_some(), refused, "{field}");
        }
        assert!(refusal(&event, "tags", &json!(5)).is_some());
        assert!(refusal(&event, "@metadata", &json!({"k": "v"})).is_none());
    }
}
