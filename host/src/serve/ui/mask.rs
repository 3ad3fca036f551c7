//! What the live view hides: `[server.ui] mask_fields`, in every form
//! Elasticsearch reads as each field, and what the filters derived from
//! those fields' values. Masking the fields alone was not enough: the
//! `anomaly` filter quotes a value it watches in its reason and findings,
//! a key can come from a field inside a masked one, and a `templates`
//! filter's text and parameters are the mined field cut into words. So the
//! values a mask hides are collected as it hides them, and then hidden
//! wherever else in the event they show.

use serde_json::Value;
use wasmstash_sdk::field_ref;

pub const MASK: &str = "***";

/// A hidden value shorter than this is replaced only where a string is
/// all of it: as part of other text, a value of one or two characters
/// (`1`, `ok`) would take every such run of letters with it.
const SHORTEST_FOUND_INSIDE: usize = 3;

/// The fields to mask, each as the steps of its path.
pub struct Mask {
    fields: Vec<Vec<String>>,
}

impl Mask {
    /// `fields` are Logstash references (`[source][address]`) or, as
    /// Elasticsearch and Kibana write them, dotted names
    /// (`source.address`): both name the same field here.
    pub fn new(fields: &[String]) -> Mask {
        Mask {
            fields: (fields.iter().map(|field| steps_of(field)))
                .filter(|steps| !steps.is_empty() && steps.iter().all(|s| !s.is_empty()))
                .collect(),
        }
    }

    /// Whether there is anything to mask.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Masks `event`: each masked field replaced by `"***"`, and the values
    /// they held hidden wherever else they show.
    pub fn apply(&self, event: &mut Value) {
        let hidden = self.mask_fields(event);
        if hidden.is_empty() {
            return;
        }
        if let Some(template) = event.pointer_mut("/wasmstash/template") {
            hide_template(template, &hidden);
        }
        // The event's own keys are field names (`tags`, `message`), which a
        // value may happen to be: only keys below them are hidden.
        match event {
            Value::Object(fields) => {
                (fields.values_mut()).for_each(|v| replace_in_strings(v, &hidden))
            }
            other => replace_in_strings(other, &hidden),
        }
    }

    /// Masks the masked fields of `event` and returns the values they held,
    /// with the keys of anomaly findings about them: what [`hide_in_text`]
    /// then hides elsewhere. The longest first, so that one holding another
    /// is hidden whole (`j.doe.home.example.net` before `j.doe`).
    pub fn mask_fields(&self, event: &mut Value) -> Vec<String> {
        let mut hidden = Vec::new();
        for steps in &self.fields {
            mask_path(event, steps, &mut hidden);
        }
        self.anomaly_keys(event, &mut hidden);
        hidden.retain(|value| !value.is_empty());
        hidden.sort_by_key(|value| std::cmp::Reverse(value.len()));
        hidden
    }

    /// The keys of the event's anomaly findings whose key field is masked.
    /// An interval finding rides on whatever event comes next (a silent
    /// key has none of its own), so its key is no value of this event's
    /// masked fields, yet it is one of that field's values.
    fn anomaly_keys(&self, event: &Value, hidden: &mut Vec<String>) {
        let Some(anomaly) = event.pointer("/wasmstash/anomaly") else {
            return;
        };
        let findings = anomaly.get("findings").and_then(Value::as_array);
        for item in std::iter::once(anomaly).chain(findings.into_iter().flatten()) {
            let field = item.get("key_field").and_then(Value::as_str);
            if let (Some(field), Some(key)) = (field, item.get("key"))
                && self.covers(&steps_of(field))
            {
                collect_leaves(key, hidden);
            }
        }
    }

    /// Whether a field (its steps) is masked: it or an object around it.
    /// Compared as dotted names, as Elasticsearch reads both: a mask of
    /// `[user.name]` covers a key field written `user.name` or
    /// `[user][name]`.
    fn covers(&self, field: &[String]) -> bool {
        let field = field.join(".");
        self.fields
            .iter()
            .map(|masked| masked.join("."))
            .any(|masked| {
                field == masked
                    || field
                        .strip_prefix(&masked)
                        .is_some_and(|rest| rest.starts_with('.'))
            })
    }
}

/// A field's steps: a Logstash reference or, as Elasticsearch and Kibana
/// write it, a dotted name.
fn steps_of(field: &str) -> Vec<String> {
    if field.starts_with('[') {
        field_ref::segments(field).map(str::to_owned).collect()
    } else {
        field.split('.').map(str::to_owned).collect()
    }
}

/// A template's text and parameters are its source field cut into words
/// and variables: a word of a hidden value among them hides them all.
fn hide_template(template: &mut Value, hidden: &[String]) {
    let words: Vec<&str> = (hidden.iter())
        .flat_map(|value| value.split_whitespace())
        .filter(|word| word.chars().count() >= SHORTEST_FOUND_INSIDE)
        .collect();
    let Some(template) = template.as_object_mut() else {
        return;
    };
    let shows = |key: &str| {
        template
            .get(key)
            .is_some_and(|value| holds_any(value, &words))
    };
    if shows("text") || shows("params") {
        for key in ["text", "params"] {
            if let Some(value) = template.get_mut(key) {
                *value = Value::String(MASK.to_owned());
            }
        }
    }
}

/// Whether a string in `value` (itself, or an item of a list) holds one
/// of `words`.
fn holds_any(value: &Value, words: &[&str]) -> bool {
    match value {
        Value::String(text) => words.iter().any(|word| text.contains(word)),
        Value::Array(items) => items.iter().any(|item| holds_any(item, words)),
        _ => false,
    }
}

fn mask_path(value: &mut Value, steps: &[String], hidden: &mut Vec<String>) {
    let mut mask_or_descend = |child: &mut Value, rest: &[String]| match rest {
        [] => {
            collect_leaves(child, hidden);
            *child = Value::String(MASK.to_owned());
        }
        rest => mask_path(child, rest, hidden),
    };
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if let Some(used) = steps_in_key(key, steps) {
                    mask_or_descend(child, &steps[used..]);
                }
            }
        }
        Value::Array(items) => match steps[0].parse::<usize>() {
            Ok(index) => {
                if let Some(item) = items.get_mut(index) {
                    mask_or_descend(item, &steps[1..]);
                }
            }
            Err(_) => items
                .iter_mut()
                .for_each(|item| mask_path(item, steps, hidden)),
        },
        _ => {}
    }
}

/// Every scalar under `value`, as text: what a mask of it hides.
fn collect_leaves(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::String(text) => into.push(text.clone()),
        Value::Number(number) => into.push(number.to_string()),
        Value::Bool(_) | Value::Null => {}
        Value::Array(items) => items.iter().for_each(|item| collect_leaves(item, into)),
        Value::Object(map) => map.values().for_each(|item| collect_leaves(item, into)),
    }
}

/// How many of `steps` the object key `key` spells, one or several
/// joined by dots; `None` if it is not a start of the path. A key that
/// spells the whole path and goes on (`address.ip` for `[address]`) names
/// a field inside the masked one, and counts as all of it.
fn steps_in_key(key: &str, steps: &[String]) -> Option<usize> {
    let mut rest = key;
    for (used, step) in steps.iter().enumerate() {
        rest = rest.strip_prefix(step)?;
        if rest.is_empty() {
            return Some(used + 1);
        }
        rest = rest.strip_prefix('.')?;
    }
    Some(steps.len())
}

/// Hides each of `hidden` in every string of `value`, a number that is
/// one, and an object key that is one (a filter may make a key of a value:
/// `seen_by.<user>`). A key is hidden only whole: part of one is a field
/// name (`tags`, `wasmstash`) that a short value may happen to spell.
/// [`Mask::apply`] leaves the event's top-level keys alone.
fn replace_in_strings(value: &mut Value, hidden: &[String]) {
    match value {
        Value::String(text) => hide_in_text(text, hidden),
        Value::Number(number) if hidden.contains(&number.to_string()) => {
            *value = Value::String(MASK.to_owned());
        }
        Value::Array(items) => items.iter_mut().for_each(|v| replace_in_strings(v, hidden)),
        Value::Object(map) if map.keys().any(|key| hidden.contains(key)) => {
            let members = std::mem::take(map);
            for (key, mut member) in members {
                replace_in_strings(&mut member, hidden);
                let mut key = if hidden.contains(&key) {
                    MASK.to_owned()
                } else {
                    key
                };
                // Two hidden keys, or one and a `***` already there, must
                // not merge: the view would drop one's member.
                let mut n = 1;
                while map.contains_key(&key) {
                    n += 1;
                    key = format!("{MASK}#{n}");
                }
                map.insert(key, member);
            }
        }
        Value::Object(map) => map.values_mut().for_each(|v| replace_in_strings(v, hidden)),
        _ => {}
    }
}

/// Hides each of `hidden` in `text`: all of it if it is one, and, if one
/// is long enough to be found inside text, wherever it shows.
pub fn hide_in_text(text: &mut String, hidden: &[String]) {
    if hidden.iter().any(|h| h == text) {
        *text = MASK.to_owned();
        return;
    }
    for needle in hidden {
        if needle.chars().count() >= SHORTEST_FOUND_INSIDE && text.contains(needle.as_str()) {
            *text = text.replace(needle.as_str(), MASK);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn masked(fields: &[&str], mut event: Value) -> Value {
        let fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        Mask::new(&fields).apply(&mut event);
        event
    }

    #[test]
    fn a_masked_field_is_masked_in_every_form_elasticsearch_reads_as_it() {
        let event = json!({
            "source.address": "10.6.6.6",
            "source.address.port": 5,
            "source": {"address": ["10.5.5.5"], "address.ip": "10.1.1.1", "port": 1},
            "client": [{"user.name": "ann"}, {"user": {"name": "bob"}}],
            "user": {"name": "eve", "named": "kept"},
            "sources": {"address": "kept"},
        });
        let fields = ["[source][address]", "[client][user][name]", "user.name"];
        assert_eq!(
            masked(&fields, event),
            json!({
                "source.address": MASK,
                "source.address.port": MASK,
                "source": {"address": MASK, "address.ip": MASK, "port": 1},
                "client": [{"user.name": MASK}, {"user": {"name": MASK}}],
                "user": {"name": MASK, "named": "kept"},
                "sources": {"address": "kept"},
            })
        );
        let listed = masked(&["[tags][1]"], json!({"tags": ["a", "b"]}));
        assert_eq!(listed, json!({"tags": ["a", MASK]}));
    }

    /// The values a mask hides are hidden where filters quoted them: an
    /// anomaly's reason and finding, a key from inside a masked object.
    #[test]
    fn what_a_filter_quotes_of_a_masked_value_is_hidden_too() {
        let event = json!({
            "source": {"address": "198.51.100.77"},
            "client": {"ip": "192.0.2.55"},
            "wasmstash": {"anomaly": {
                "key": "192.0.2.55", "key_field": "[client][ip]",
                "reason": "new value for 192.0.2.55: [source][address] = \"198.51.100.77\"",
                "findings": [{"observed": "198.51.100.77"}]}},
        });
        let shown = masked(&["[source][address]", "[client]"], event).to_string();
        assert!(!shown.contains("198.51.100.77"), "{shown}");
        assert!(!shown.contains("192.0.2.55"), "{shown}");
        assert!(
            shown.contains(r#"new value for ***: [source][address] = \"***\""#),
            "{shown}"
        );
    }

    /// An interval finding rides on another key's event: its key is a
    /// value of the masked key field all the same. A value holding another
    /// is hidden whole, and so is one a filter made a key of.
    #[test]
    fn another_keys_finding_overlaps_and_keys_are_hidden() {
        let event = json!({
            "user": {"name": "bob.jones"},
            "source": {"address": "j.doe.home.example.net"},
            "client": {"name": "j.doe"},
            "note": "connection from j.doe.home.example.net",
            "seen_by": {"bob.jones": 1},
            "wasmstash": {"anomaly": {
                "key": "alice.secret", "key_field": "user.name",
                "reason": "rate went silent: 0 events for [user][name] alice.secret",
                "findings": [{"key": "carol.x", "key_field": "[user][name]"},
                             {"key": "kept.service", "key_field": "[service][name]"}]}},
        });
        let shown = masked(&["[user][name]", "[source][address]", "client.name"], event);
        let text = shown.to_string();
        for secret in [
            "alice.secret",
            "carol.x",
            "bob.jones",
            "home.example.net",
            "j.doe",
        ] {
            assert!(!text.contains(secret), "{secret}: {text}");
        }
        assert_eq!(shown["note"], "connection from ***");
        assert_eq!(shown["seen_by"], json!({MASK: 1}));
        assert!(text.contains("kept.service"), "{text}");
        // A mask of the dotted key covers a key field in either spelling;
        // a key is hidden only whole, a kept `***` and a number too.
        let event = json!({"user.name": "tags", "uid": 4711, "id": {"n": 4711},
            "tags": ["_login_failed_tags"], "seen": {"tags": 1, "***": 2},
            "wasmstash": {"anomaly": {"key": "alice.secret", "key_field": "user.name"}}});
        let shown = masked(&["[user.name]", "[id][n]"], event);
        assert_eq!(shown["tags"], json!(["_login_failed_***"]));
        assert_eq!(shown["seen"], json!({"***": 1, "***#2": 2}));
        assert_eq!(shown["uid"], MASK);
        assert_eq!(shown["wasmstash"]["anomaly"]["key"], MASK);
    }

    /// A masked `message` hides the template mined from it, text and
    /// parameters; a template that shows none of a masked value stays.
    #[test]
    fn a_template_mined_from_a_masked_field_is_hidden() {
        let template = json!({"id": "a1", "new": true,
            "text": "Failed password for alice-SECRET from <*>", "params": ["203.0.113.99"]});
        let event = json!({"message": "Failed password for alice-SECRET from 203.0.113.99",
            "user": {"name": "ann"}, "wasmstash": {"template": template}});
        let hidden = masked(&["message"], event.clone());
        assert_eq!(hidden["wasmstash"]["template"]["text"], MASK);
        assert_eq!(hidden["wasmstash"]["template"]["params"], MASK);
        assert_eq!(hidden["wasmstash"]["template"]["id"], "a1");
        let kept = masked(&["[user][name]"], event);
        assert_eq!(kept["wasmstash"]["template"], template);
    }
}
