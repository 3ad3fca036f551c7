//! `mutate`: renames, replaces, converts and re-cases fields and adds or
//! removes fields and tags, with Logstash's mutate options and order.
//!
//! Operations run in Logstash's order: `rename`, `update`, `replace`,
//! `convert`, `uppercase`, `lowercase`, `strip`, `copy`; then, as every
//! Logstash filter does on success, `add_field`, `remove_field`, `add_tag`,
//! `remove_tag`. Values and names in `replace`, `update`, `add_field`,
//! `remove_field`, `add_tag` and `remove_tag` may use `%{field}` references.
//! A `convert` that cannot convert a value leaves it as it was and tags the
//! event with `tag_on_failure` (default `_mutate_error`).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Map;
use wasmstash_sdk::field_ref::{self, FieldPath, FieldRef};
use wasmstash_sdk::prelude::*;
use wasmstash_sdk::template::Template;
use wasmstash_sdk::text_case;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    rename: Map<String, Value>,
    #[serde(default)]
    update: Map<String, Value>,
    #[serde(default)]
    replace: Map<String, Value>,
    #[serde(default)]
    convert: Map<String, Value>,
    #[serde(default)]
    uppercase: Vec<String>,
    #[serde(default)]
    lowercase: Vec<String>,
    #[serde(default)]
    strip: Vec<String>,
    #[serde(default)]
    copy: Map<String, Value>,
    #[serde(default)]
    add_field: Map<String, Value>,
    #[serde(default)]
    remove_field: Vec<String>,
    #[serde(default)]
    add_tag: Vec<String>,
    #[serde(default)]
    remove_tag: Vec<String>,
    #[serde(default = "default_failure_tags")]
    tag_on_failure: Vec<String>,
}

fn default_failure_tags() -> Vec<String> {
    vec!["_mutate_error".into()]
}

#[derive(Clone, Copy)]
enum Conversion {
    Integer,
    Float,
    String,
    Boolean,
}

type Pairs = Vec<(String, String)>;

/// A field name from the config: split into its path once, unless it holds
/// `%{field}` references and so may name another field on each event.
enum FieldName {
    Fixed(FieldRef),
    Sprintf(Template),
}

pub struct Mutate {
    rename: Vec<(FieldRef, FieldRef)>,
    update: Vec<(FieldRef, Template)>,
    replace: Vec<(FieldRef, Template)>,
    convert: Vec<(FieldRef, Conversion)>,
    uppercase: Vec<FieldRef>,
    lowercase: Vec<FieldRef>,
    strip: Vec<FieldRef>,
    copy: Vec<(FieldRef, FieldRef)>,
    add_field: Vec<(FieldName, Template)>,
    remove_field: Vec<String>,
    add_tag: Vec<String>,
    remove_tag: Vec<String>,
    tag_on_failure: Vec<String>,
}

/// Checks that every key is a field reference and every value a string.
fn pairs(option: &str, map: Map<String, Value>) -> Result<Pairs, String> {
    map.into_iter()
        .map(|(field, value)| {
            field_ref::validate(&field).map_err(|e| format!("{option}: {e}"))?;
            match value {
                Value::String(text) => Ok((field, text)),
                other => Err(format!(
                    "{option}: the value for `{field}` must be a string, not {other}"
                )),
            }
        })
        .collect()
}

fn fields(option: &str, list: Vec<String>) -> Result<Vec<FieldRef>, String> {
    list.iter()
        .map(|field| {
            field_ref::validate(field).map_err(|e| format!("{option}: {e}"))?;
            Ok(FieldRef::new(field))
        })
        .collect()
}

/// `pairs` whose values are fields too (`rename` and `copy`), checked as such.
fn field_pairs(option: &str, map: Map<String, Value>) -> Result<Vec<(FieldRef, FieldRef)>, String> {
    pairs(option, map)?
        .into_iter()
        .map(|(from, to)| {
            field_ref::validate(&to).map_err(|e| format!("{option}: {e}"))?;
            Ok((FieldRef::new(&from), FieldRef::new(&to)))
        })
        .collect()
}

/// `pairs` of a field and a template (`update` and `replace`).
fn templates(option: &str, map: Map<String, Value>) -> Result<Vec<(FieldRef, Template)>, String> {
    Ok(pairs(option, map)?
        .into_iter()
        .map(|(field, template)| (FieldRef::new(&field), Template::new(template)))
        .collect())
}

impl Filter for Mutate {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        let convert = pairs("convert", config.convert)?
            .into_iter()
            .map(|(field, kind)| {
                let conversion = match kind.as_str() {
                    "integer" => Conversion::Integer,
                    "float" => Conversion::Float,
                    "string" => Conversion::String,
                    "boolean" => Conversion::Boolean,
                    other => {
                        return Err(format!(
                            "convert: unknown type `{other}` for `{field}`; use integer, float, string or boolean"
                        ));
                    }
                };
                Ok((FieldRef::new(&field), conversion))
            })
            .collect::<Result<_, String>>()?;
        let add_field = pairs("add_field", config.add_field)?
            .into_iter()
            .map(|(field, value)| {
                let name = match Template::new(field) {
                    fixed if fixed.is_fixed() => FieldName::Fixed(FieldRef::new(fixed.as_str())),
                    template => FieldName::Sprintf(template),
                };
                (name, Template::new(value))
            })
            .collect();
        Ok(Mutate {
            rename: field_pairs("rename", config.rename)?,
            update: templates("update", config.update)?,
            replace: templates("replace", config.replace)?,
            convert,
            uppercase: fields("uppercase", config.uppercase)?,
            lowercase: fields("lowercase", config.lowercase)?,
            strip: fields("strip", config.strip)?,
            copy: field_pairs("copy", config.copy)?,
            add_field,
            remove_field: config.remove_field,
            add_tag: config.add_tag,
            remove_tag: config.remove_tag,
            tag_on_failure: config.tag_on_failure,
        })
    }

    fn process(&mut self, event: &mut Event) -> Verdict {
        for (from, to) in &self.rename {
            if let Some(value) = event.remove(from) {
                event.set(to, value);
            }
        }
        for (field, template) in &self.update {
            if event.contains(field) {
                let value = template.render(event);
                event.set(field, value);
            }
        }
        for (field, template) in &self.replace {
            let value = template.render(event);
            event.set(field, value);
        }
        let mut failed = false;
        for (field, conversion) in &self.convert {
            failed |= convert_field(event, field, *conversion).is_err();
        }
        for field in &self.uppercase {
            map_strings(event, field, text_case::uppercase);
        }
        for field in &self.lowercase {
            map_strings(event, field, text_case::lowercase);
        }
        for field in &self.strip {
            map_strings(event, field, |s| match s.trim() {
                trimmed if trimmed.len() == s.len() => Cow::Borrowed(s),
                trimmed => Cow::Owned(trimmed.to_owned()),
            });
        }
        for (from, to) in &self.copy {
            if let Some(value) = event.get(from).cloned() {
                event.set(to, value);
            }
        }
        if failed {
            for tag in &self.tag_on_failure {
                event.add_tag(tag);
            }
            return Verdict::Keep;
        }
        self.decorate(event);
        Verdict::Keep
    }
}

impl Mutate {
    /// The common options Logstash applies after a filter succeeds.
    fn decorate(&self, event: &mut Event) {
        for (name, template) in &self.add_field {
            let value = Value::String(template.render(event).into_owned());
            match name {
                FieldName::Fixed(field) => add_value(event, field, value),
                FieldName::Sprintf(template) => {
                    let field = template.render(event);
                    add_value(event, &field, value);
                }
            }
        }
        event.apply_tag_and_remove_options(&self.remove_field, &self.add_tag, &self.remove_tag);
    }
}

/// Adds `value` at `field`; as in Logstash, adding to a field that exists
/// makes it a list.
fn add_value(event: &mut Event, field: &(impl FieldPath + ?Sized), value: Value) {
    match event.get_mut(field) {
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
        None => event.set(field, value),
    }
}

/// Applies `change` to a string field, or to every string in a list field.
/// `change` borrows its input back when it leaves it as it was; a field
/// where nothing changed is left untouched.
fn map_strings(event: &mut Event, field: &FieldRef, change: impl Fn(&str) -> Cow<'_, str>) {
    // Check with a read first so an absent or non-string field stays untouched.
    let Some(current) = event.get(field) else {
        return;
    };
    let changed = match current {
        Value::String(s) => match change(s) {
            Cow::Owned(new) => Value::String(new),
            Cow::Borrowed(_) => return,
        },
        Value::Array(items) => {
            let mut any = false;
            let new: Vec<Value> = items
                .iter()
                .map(|item| match item {
                    Value::String(s) => match change(s) {
                        Cow::Owned(new) => {
                            any = true;
                            Value::String(new)
                        }
                        Cow::Borrowed(_) => item.clone(),
                    },
                    other => other.clone(),
                })
                .collect();
            if !any {
                return;
            }
            Value::Array(new)
        }
        _ => return,
    };
    event.set(field, changed);
}

fn convert_field(event: &mut Event, field: &FieldRef, conversion: Conversion) -> Result<(), ()> {
    let Some(current) = event.get(field) else {
        return Ok(());
    };
    let converted = match current {
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| convert(v, conversion))
                .collect::<Result<_, _>>()?,
        ),
        single => convert(single, conversion)?,
    };
    if &converted != current {
        event.set(field, converted);
    }
    Ok(())
}

fn convert(value: &Value, conversion: Conversion) -> Result<Value, ()> {
    let text = match value {
        Value::String(s) => s.trim().to_owned(),
        Value::Null => return Ok(Value::Null),
        other => other.to_string(),
    };
    Ok(match conversion {
        Conversion::String => Value::String(match value {
            Value::String(s) => s.clone(),
            _ => text,
        }),
        Conversion::Integer => match text.parse::<i64>() {
            Ok(n) => n.into(),
            // Logstash truncates "3.7" to 3 rather than failing.
            Err(_) => match text.parse::<f64>() {
                Ok(f) if f.is_finite() => (f.trunc() as i64).into(),
                _ => return Err(()),
            },
        },
        Conversion::Float => match text.parse::<f64>() {
            Ok(f) if f.is_finite() => serde_json::Number::from_f64(f)
                .map(Value::Number)
                .ok_or(())?,
            _ => return Err(()),
        },
        Conversion::Boolean => match text.to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "1" | "1.0" => true.into(),
            "false" | "f" | "no" | "n" | "0" | "0.0" => false.into(),
            _ => return Err(()),
        },
    })
}

export_filter!(Mutate);

#[cfg(test)]
mod tests {
    use super::*;
    use wasmstash_sdk::NativeFilter;

    fn run(config: Value, input: &str) -> String {
        let mut filter = Mutate::new(serde_json::from_value(config).unwrap()).unwrap();
        let mut event = Event::parse(input.as_bytes()).unwrap();
        assert_eq!(filter.process(&mut event), Verdict::Keep);
        event.to_json()
    }

    #[test]
    fn renames_recases_and_strips() {
        let config = json!({
            "rename": {"lvl": "[log][level]", "absent": "x"},
            "uppercase": ["method"],
            "lowercase": ["[log][level]"],
            "strip": ["name", "list"],
        });
        let input = r#"{"lvl":"WARN","method":"get","name":"  bob ","list":[" a ",1]}"#;
        assert_eq!(
            run(config, input),
            r#"{"method":"GET","name":"bob","list":["a",1],"log":{"level":"warn"}}"#
        );
    }

    #[test]
    fn replace_update_copy_and_decorations() {
        let config = json!({
            "replace": {"msg": "%{host} said %{msg}"},
            "update": {"absent": "never", "host": "h-%{host}"},
            "copy": {"host": "[copy][host]"},
            "add_field": {"host": "second", "service": "svc-%{[copy][host]}", "[by][%{kind}]": "k"},
            "remove_field": ["drop_%{kind}"],
            "add_tag": ["seen", "from_%{kind}"],
            "remove_tag": ["old"],
        });
        let input = r#"{"host":"web","msg":"hi","kind":"a","drop_a":1,"tags":["old"]}"#;
        assert_eq!(
            run(config, input),
            r#"{"host":["h-web","second"],"msg":"h-web said hi","kind":"a","tags":["seen","from_a"],"copy":{"host":"h-web"},"service":"svc-h-web","by":{"a":"k"}}"#
        );
    }

    #[test]
    fn convert_types_and_tag_failures() {
        let config = json!({"convert": {"a": "integer", "b": "float", "c": "boolean", "d": "string", "e": "integer"}});
        let out = run(
            config.clone(),
            r#"{"a":"42","b":"1.5","c":"yes","d":7,"e":["1","2.9"]}"#,
        );
        assert_eq!(out, r#"{"a":42,"b":1.5,"c":true,"d":"7","e":[1,2]}"#);
        let out = run(
            json!({"convert": {"a": "integer"}, "add_tag": ["ok"]}),
            r#"{"a":"forty"}"#,
        );
        assert_eq!(out, r#"{"a":"forty","tags":["_mutate_error"]}"#);
    }

    #[test]
    fn no_op_leaves_the_event_unchanged() {
        let mut filter =
            Mutate::new(serde_json::from_value(json!({"lowercase": ["m"]})).unwrap()).unwrap();
        let mut event = Event::parse(br#"{"m":"already lower"}"#).unwrap();
        filter.process(&mut event);
        assert!(!event.is_changed());
    }

    #[test]
    fn bad_config_is_explained() {
        let err = NativeFilter::<Mutate>::new(br#"{"convert":{"a":"int"}}"#)
            .err()
            .unwrap();
        assert!(err.contains("unknown type `int`"), "{err}");
        let err = NativeFilter::<Mutate>::new(br#"{"rename":{"a":5}}"#)
            .err()
            .unwrap();
        assert!(err.contains("must be a string"), "{err}");
        let err = NativeFilter::<Mutate>::new(br#"{"lowercse":["a"]}"#)
            .err()
            .unwrap();
        assert!(err.contains("unknown field `lowercse`"), "{err}");
    }
}
