//! Logstash's common filter options: `add_field`, `remove_field`, `add_tag`
//! and `remove_tag`, which every Logstash filter takes and applies when it
//! succeeds (its `filter_matched`).
//!
//! A block moved over from logstash.conf may carry them on any filter, so
//! a filter takes them by wrapping its own options, `type Config =
//! WithCommon<MyOptions>`. The wrapper takes the four keys out of the
//! config before the filter's own options are read, so those keep
//! `#[serde(deny_unknown_fields)]` and a misspelt option is still an error.
//! The filter calls [`CommonOptions::apply`] where Logstash's would call
//! `filter_matched`.
//!
//! Also here: [`tags`], for `tag_on_failure`, which Logstash takes as one
//! tag or a list whichever way the plugin declares it, and [`hash`], for the
//! options Logstash declares as hashes, which its config also takes as a
//! flat list of keys and values (`rename => [ "a", "b" ]`).
//!
//! [`EcsCompatibility`] is here too, for filters that take Logstash's
//! `ecs_compatibility`, so that every filter reads and refuses it alike.
//!
//! Logstash's other options for every plugin, `id`, `enable_metric` and
//! `periodic_flush`, are taken and have no effect here: a filter's name in
//! metrics and failure records is the pipeline's `name` for it.

use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde::{Deserialize, de};
use serde_json::Map;

use crate::field_ref::FieldPath;
use crate::template::{FieldName, ResolvedField, Template};
use crate::{Event, Value};

/// Logstash's `ecs_compatibility`. In json and kv it changes no output (in
/// Logstash it only decides whether a missing `target` is warned about);
/// grok picks its pattern set by it. Taken so that a config moved over
/// loads, and checked, so that a misspelt mode is still an error.
#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum EcsCompatibility {
    Disabled,
    V1,
    V8,
}

/// A filter's own options and the common ones beside them.
pub struct WithCommon<C> {
    pub options: C,
    pub common: CommonOptions,
}

/// The common options of one filter, read once from its config.
#[derive(Default)]
pub struct CommonOptions {
    /// Field name and the values to add there, each a `%{field}` template.
    add_field: Vec<(FieldName, Vec<Template>)>,
    remove_field: Vec<FieldName>,
    add_tag: Vec<Template>,
    remove_tag: Vec<Template>,
}

impl<'de, C: DeserializeOwned> Deserialize<'de> for WithCommon<C> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut config = Map::<String, Value>::deserialize(deserializer)?;
        let common = CommonOptions::take_from(&mut config).map_err(D::Error::custom)?;
        // Read from text, not from the `Value`: with `arbitrary_precision` a
        // `Value`'s numbers are text too, and a wrong one (`-1` for a count)
        // says only "invalid number" where the parser says what it expected.
        let text = Value::Object(config).to_string();
        let options = read_config(text.as_bytes()).map_err(D::Error::custom)?;
        Ok(WithCommon { options, common })
    }
}

/// Reads a filter's config from its JSON text. The error names the option
/// it is about, as serde's own does not (`invalid type: string "x",
/// expected u64` in a config of a dozen options does not say where to
/// look), and leaves out serde's " at line L column C": the text was
/// written by the host (from a TOML table, or from `--filter` JSON it has
/// already parsed), so a position in it points at nothing the user wrote.
pub(crate) fn read_config<T: DeserializeOwned>(json: &[u8]) -> Result<T, String> {
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let config = serde_path_to_error::deserialize(&mut deserializer)
        .map_err(|e| naming_option(e.path(), without_position(e.inner())))?;
    deserializer.end().map_err(|e| without_position(&e))?;
    Ok(config)
}

fn without_position(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    match message.strip_suffix(&position) {
        Some(bare) => bare.to_owned(),
        None => message,
    }
}

fn naming_option(path: &serde_path_to_error::Path, error: impl std::fmt::Display) -> String {
    let message = error.to_string();
    // An unknown option's path is that option, which the message names.
    if path.iter().next().is_none() || message.starts_with("unknown field") {
        message
    } else {
        format!("{path}: {message}")
    }
}

impl CommonOptions {
    /// Takes the four options out of `config`, leaving the filter's own.
    fn take_from(config: &mut Map<String, Value>) -> Result<CommonOptions, String> {
        let mut take = |key: &str| config.remove(key).unwrap_or(Value::Null);
        for ignored in PLUGIN_OPTIONS {
            take(ignored);
        }
        let add_field = match take("add_field") {
            Value::Null => Vec::new(),
            fields => hash_of(fields)
                .map_err(|e| format!("add_field: {e}"))?
                .into_iter()
                .map(|(field, values)| {
                    let values = texts(values).map_err(|what| {
                        format!("add_field: the value for `{field}` must be {what}")
                    })?;
                    let values = templates("add_field", values)?;
                    Ok((FieldName::new("add_field", field)?, values))
                })
                .collect::<Result<_, String>>()?,
        };
        let list =
            |key: &str, value: Value| texts(value).map_err(|what| format!("{key} must be {what}"));
        let remove_field = list("remove_field", take("remove_field"))?
            .into_iter()
            .map(|field| FieldName::new("remove_field", field))
            .collect::<Result<_, String>>()?;
        Ok(CommonOptions {
            add_field,
            remove_field,
            add_tag: templates("add_tag", list("add_tag", take("add_tag"))?)?,
            remove_tag: templates("remove_tag", list("remove_tag", take("remove_tag"))?)?,
        })
    }

    /// Logstash's `filter_matched`, in its order: `add_field`,
    /// `remove_field`, `add_tag`, `remove_tag`.
    pub fn apply(&self, event: &mut Event) {
        // A fixed name is used as the `FieldRef` it is (most are fixed, and
        // this runs per event), not through `ResolvedField`'s segments.
        for (field, values) in &self.add_field {
            let Some(field) = resolved(field, event) else {
                continue;
            };
            for value in values {
                let value = Value::String(value.render(event).into_owned());
                match &field {
                    ResolvedField::Fixed(field) => add_value(event, *field, value),
                    ResolvedField::Rendered(name) => add_value(event, name.as_ref(), value),
                }
            }
        }
        for field in &self.remove_field {
            match resolved(field, event) {
                Some(ResolvedField::Fixed(field)) => event.remove(field),
                Some(ResolvedField::Rendered(name)) => event.remove(name.as_ref()),
                None => None,
            };
        }
        for tag in &self.add_tag {
            let tag = tag.render(event);
            event.add_tag(&tag);
        }
        for tag in &self.remove_tag {
            let tag = tag.render(event);
            event.remove_tag(&tag);
        }
    }
}

/// Templates for `option`, their date patterns checked: one that Joda or
/// java.time refuses would stop Logstash's pipeline at the first event, so
/// it is a config error here.
fn templates(option: &str, texts: Vec<String>) -> Result<Vec<Template>, String> {
    texts
        .into_iter()
        .map(|text| {
            let template = Template::new(text);
            template.check().map_err(|e| format!("{option}: {e}"))?;
            Ok(template)
        })
        .collect()
}

/// The field `name` gives for `event`, if it is a field reference; one
/// that is not (its template filled in with the event's own text) is
/// skipped with a warning, as a literal name would write a field nobody
/// named.
fn resolved<'a>(name: &'a FieldName, event: &Event) -> Option<ResolvedField<'a>> {
    match name.resolve(event) {
        Ok(field) => Some(field),
        Err(e) => {
            crate::host::log(
                crate::host::Level::Warn,
                &format!("common options: a field name gave {e}; skipped"),
            );
            None
        }
    }
}

/// Adds `value` at `field` as Logstash's `add_field` does: a field that is
/// not there is set; one that is there (even as null) becomes a list with
/// the value at its end. Logstash makes that list with Ruby's `Array()`,
/// so null becomes an empty list and an object its `[key, value]` pairs.
fn add_value(event: &mut Event, field: &(impl FieldPath + ?Sized), value: Value) {
    let Some(existing) = event.get_mut(field) else {
        event.set(field, value);
        return;
    };
    let mut list = match existing.take() {
        Value::Null => Vec::new(),
        Value::Array(items) => items,
        Value::Object(members) => members
            .into_iter()
            .map(|(key, value)| Value::Array(vec![Value::String(key), value]))
            .collect(),
        other => vec![other],
    };
    list.push(value);
    *existing = Value::Array(list);
}

/// One text or a list of them; numbers and booleans are taken as their
/// text, as Logstash's config does. The error says what was expected.
fn texts(value: Value) -> Result<Vec<String>, &'static str> {
    let one = |value: Value| match value {
        Value::String(text) => Ok(text),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err("a string or a list of strings"),
    };
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items.into_iter().map(one).collect(),
        single => Ok(vec![one(single)?]),
    }
}

/// For `#[serde(deserialize_with = "wasmstash_sdk::common::tags")]`: one
/// tag or a list of tags, as Logstash's config accepts either.
pub fn tags<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    one_or_many(deserializer, "expected a tag or a list of tags")
}

/// For `#[serde(deserialize_with = "wasmstash_sdk::common::fields")]`: one
/// field or a list of fields, as Logstash's config accepts either for a
/// list option (`lowercase => "level"`).
pub fn fields<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    one_or_many(deserializer, "expected a field or a list of fields")
}

/// Options every Logstash plugin takes that mean nothing to a filter here
/// (see the module's doc).
const PLUGIN_OPTIONS: [&str; 3] = ["id", "enable_metric", "periodic_flush"];

/// For `#[serde(deserialize_with = "wasmstash_sdk::common::hash")]`: an
/// option Logstash declares as a hash, given as a map or as its flat list
/// of keys and values.
pub fn hash<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Map<String, Value>, D::Error> {
    hash_of(Value::deserialize(deserializer)?).map_err(de::Error::custom)
}

/// A map, or a flat list of an even length made one as Logstash's config
/// validation makes it: a key given twice collects its values in a list.
fn hash_of(value: Value) -> Result<Map<String, Value>, String> {
    match value {
        Value::Object(map) => Ok(map),
        Value::Array(items) if items.len() % 2 == 0 => {
            let mut map = Map::new();
            for pair in items.chunks(2) {
                let Value::String(key) = &pair[0] else {
                    return Err(format!(
                        "expected a key, not {}, at an even place of the list",
                        pair[0]
                    ));
                };
                let value = pair[1].clone();
                match map.get_mut(key) {
                    None => {
                        map.insert(key.clone(), value);
                    }
                    Some(Value::Array(values)) => values.push(value),
                    Some(first) => *first = Value::Array(vec![first.take(), value]),
                }
            }
            Ok(map)
        }
        Value::Array(items) => Err(format!(
            "a list in place of a map needs an even number of items (key, value, ...), got {}",
            items.len()
        )),
        other => Err(format!(
            "expected a map (or a flat list of keys and values), not {other}"
        )),
    }
}

/// For `#[serde(deserialize_with = "wasmstash_sdk::common::strings")]`: one
/// string or a list of them, as Logstash's config accepts either for a
/// list option (`include_keys => "user"`).
pub fn strings<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    one_or_many(deserializer, "expected a string or a list of strings")
}

/// One string or a list of strings; `expected` is the error otherwise.
fn one_or_many<'de, D: Deserializer<'de>>(
    deserializer: D,
    expected: &str,
) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    match OneOrMany::deserialize(deserializer) {
        Ok(OneOrMany::One(one)) => Ok(vec![one]),
        Ok(OneOrMany::Many(many)) => Ok(many),
        Err(_) => Err(de::Error::custom(expected)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NoConfig, json};

    fn common(config: Value) -> Result<CommonOptions, String> {
        serde_json::from_value::<WithCommon<NoConfig>>(config)
            .map(|c| c.common)
            .map_err(|e| e.to_string())
    }

    fn applied(config: Value, event: Value) -> Value {
        let text = event.to_string();
        let mut event = Event::parse(text.as_bytes()).unwrap();
        common(config).unwrap().apply(&mut event);
        serde_json::from_str(&event.to_json()).unwrap()
    }

    #[test]
    fn add_field_makes_a_list_of_a_field_that_is_there_as_logstash_does() {
        let config = json!({"add_field": {"new": "v-%{n}", "s": "x", "nul": "x",
                                          "[o]": ["x", "%{n}"], "list": "x"}});
        let event = json!({"n": 7, "s": "a", "nul": null, "o": {"k": 1}, "list": [1]});
        assert_eq!(
            applied(config, event),
            json!({"n": 7, "s": ["a", "x"], "nul": ["x"], "o": [["k", 1], "x", "7"],
                   "list": [1, "x"], "new": "v-7"})
        );
    }

    #[test]
    fn a_filled_in_name_that_is_no_field_reference_is_skipped() {
        let config = json!({"add_field": {"%{n}": "x"}, "remove_field": ["%{n}"]});
        let deep = "[a]".repeat(200);
        for name in ["[a", deep.as_str()] {
            let event = json!({"n": name, "[a": 1});
            assert_eq!(applied(config.clone(), event.clone()), event, "{name}");
        }
        // A good one is used: added, then removed, leaving its parent.
        assert_eq!(
            applied(config, json!({"n": "[b][c]"})),
            json!({"n": "[b][c]", "b": {}})
        );
    }

    /// Logstash's flat-list form of a hash, and its options for every
    /// plugin, come over from logstash.conf as they are.
    #[test]
    fn logstash_shapes_of_the_options_are_taken() {
        let config = json!({"add_field": ["a", "1", "b", "%{n}", "a", "2"],
                            "id": "my_filter", "enable_metric": false, "periodic_flush": true});
        assert_eq!(
            applied(config, json!({"n": 7})),
            json!({"n": 7, "a": ["1", "2"], "b": "7"})
        );
        let odd = common(json!({"add_field": ["a", "1", "b"]})).err().unwrap();
        assert!(
            odd.contains("add_field: a list in place of a map needs an even number"),
            "{odd}"
        );
        let keyless = common(json!({"add_field": [1, "x"]})).err().unwrap();
        assert!(keyless.contains("expected a key, not 1"), "{keyless}");
    }

    #[test]
    fn timestamps_are_formatted_and_bad_date_patterns_refused() {
        let config = json!({"add_field": {"[@metadata][index]": "app-%{+YYYY.MM.dd}",
                                          "day-%{{e}}": "%{+%s}"},
                            "add_tag": "%{{MMM}}"});
        assert_eq!(
            applied(config, json!({"@timestamp": "2015-05-17T10:05:03.000Z"})),
            json!({"@timestamp": "2015-05-17T10:05:03.000Z",
                   "@metadata": {"index": "app-2015.05.17"}, "day-1": "1431857103",
                   "tags": ["May"]})
        );
        for (config, says) in [
            (
                json!({"add_field": {"i": "%{+yyyy-MM-ddTHH}"}}),
                "add_field: `%{+yyyy-MM-ddTHH}`: `T` is not",
            ),
            (
                json!({"add_field": {"%{{aa}}": "x"}}),
                "add_field: `%{{aa}}`: `aa`",
            ),
            (
                json!({"add_tag": ["ok", "%{{BAD_TIME_NOW}}"]}),
                "add_tag: `%{{BAD_TIME_NOW}}`",
            ),
            (json!({"remove_tag": "%{+q}"}), "remove_tag: `%{+q}`"),
            (json!({"remove_field": "%{+q}"}), "remove_field: `%{+q}`"),
        ] {
            let error = common(config).err().unwrap();
            assert!(error.contains(says), "{error}");
        }
    }

    #[test]
    fn the_options_run_in_logstash_order() {
        // remove_field runs after add_field, remove_tag after add_tag.
        let config = json!({"add_field": {"gone": "x"}, "remove_field": ["gone", "[a][%{k}]"],
                            "add_tag": ["t-%{k}", "u"], "remove_tag": "u"});
        assert_eq!(
            applied(config, json!({"k": "b", "a": {"b": 1, "c": 2}})),
            json!({"k": "b", "a": {"c": 2}, "tags": ["t-b"]})
        );
    }

    #[test]
    fn the_filter_keeps_its_own_options_strict() {
        #[derive(Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        struct Own {
            #[serde(default, deserialize_with = "tags")]
            tag_on_failure: Vec<String>,
        }
        let read = |config: Value| {
            serde_json::from_value::<WithCommon<Own>>(config).map(|c| c.options.tag_on_failure)
        };
        assert_eq!(
            read(json!({"add_tag": ["a"], "tag_on_failure": "x"})).unwrap(),
            ["x"]
        );
        assert_eq!(
            read(json!({"tag_on_failure": ["x", "y"]})).unwrap(),
            ["x", "y"]
        );
        let unknown = read(json!({"add_tags": ["a"]})).unwrap_err().to_string();
        assert!(unknown.contains("unknown field `add_tags`"), "{unknown}");
        let bad = read(json!({"tag_on_failure": 3})).unwrap_err().to_string();
        assert!(bad.starts_with("tag_on_failure: "), "{bad}");
        assert!(bad.contains("a tag or a list of tags"), "{bad}");
    }

    /// serde says what it expected, not of which option: `invalid type:
    /// string "x", expected u64` sent an operator through every number in
    /// the config.
    #[test]
    fn a_value_of_the_wrong_type_names_its_option() {
        // Read only through the errors they make.
        #[allow(dead_code)]
        #[derive(Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        struct Own {
            #[serde(default)]
            limit: u64,
            #[serde(default)]
            inner: Option<Inner>,
        }
        #[allow(dead_code)]
        #[derive(Deserialize, Debug)]
        struct Inner {
            ratio: f64,
        }
        let error = |config: Value| {
            serde_json::from_value::<WithCommon<Own>>(config)
                .map(|c| c.options)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            error(json!({"limit": "x"})),
            "limit: invalid type: string \"x\", expected u64"
        );
        assert_eq!(
            error(json!({"limit": -1})),
            "limit: invalid value: integer `-1`, expected u64"
        );
        assert_eq!(
            error(json!({"limit": 1.5})),
            "limit: invalid type: floating point `1.5`, expected u64"
        );
        assert!(error(json!({"inner": {"ratio": "NaN"}})).starts_with("inner.ratio: "));
        assert!(error(json!({"nope": 1})).starts_with("unknown field `nope`"));
    }

    #[test]
    fn bad_common_options_are_named() {
        let error = |config| common(config).err().unwrap();
        assert!(error(json!({"add_tag": {"a": 1}})).contains("add_tag must be a string"));
        assert!(error(json!({"add_field": "a"})).contains("add_field: expected a map"));
        assert!(error(json!({"add_field": {"a": {}}})).contains("value for `a`"));
        assert!(error(json!({"remove_field": ["[a"]})).starts_with("remove_field:"));
    }
}
