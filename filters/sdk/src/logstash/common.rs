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
//! `filter_matched`, and meets a set Logstash's event would refuse there
//! as its Logstash plugin meets the exception.
//!
//! Also here: [`tags`], for `tag_on_failure`, which Logstash takes as one
//! tag or a list whichever way the plugin declares it, and [`hash`], for the
//! options Logstash declares as hashes, which its config also takes as a
//! flat list of keys and values (`rename => [ "a", "b" ]`).
//!
//! Logstash's `ecs_compatibility`, which every Logstash 8 plugin takes, is
//! read here too, once for every filter ([`CommonOptions::ecs_compatibility`]):
//! grok picks its pattern set by it, and for the others it changes nothing.
//!
//! The filter's own options are read as Logstash reads them, `"5000"` for
//! a number and `"false"` for a boolean included (see `option_types.rs`).
//!
//! Logstash's other options for every plugin, `id`, `enable_metric` and
//! `periodic_flush`, are taken and have no effect here: a filter's name in
//! metrics and failure records is the pipeline's `name` for it.

use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde::{Deserialize, de};
use serde_json::Map;

use crate::field_ref::{FieldPath, Unusable};
use crate::json_text;
use crate::logstash::{event_rules, option_types};
use crate::plumbing::config_words::in_plain_words;
use crate::template::{FieldName, ResolvedField, Template};
use crate::{Event, Value};

/// Logstash's `ecs_compatibility`. grok picks its pattern set by it; in
/// the other filters here it changes no output (in Logstash's json and kv
/// it only decides whether a missing `target` is warned about). Taken by
/// every filter so that a config moved over loads, and checked, so that a
/// misspelt mode is still an error.
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
    ecs_compatibility: Option<EcsCompatibility>,
}

impl<'de, C: DeserializeOwned> Deserialize<'de> for WithCommon<C> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut config = Map::<String, Value>::deserialize(deserializer)?;
        let common = CommonOptions::take_from(&mut config).map_err(D::Error::custom)?;
        // Each option's value turned into its type as Logstash turns it.
        let options = option_types::read_options(config).map_err(|e| {
            let message = in_plain_words(without_position(e.inner()));
            D::Error::custom(with_common_named(naming_option(e.path(), message)))
        })?;
        Ok(WithCommon { options, common })
    }
}

/// An unknown option's message lists the filter's own options, as serde
/// knows them; the common ones are taken too, so it names them as well.
fn with_common_named(message: String) -> String {
    if message.starts_with("unknown field") {
        format!("{message}, or one of Logstash's common options: {COMMON_OPTIONS}")
    } else {
        message
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
        .map_err(|e| naming_option(e.path(), in_plain_words(without_position(e.inner()))))?;
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
    if path.iter().next().is_none() {
        return message;
    }
    // An unknown option's path ends in that option, which the message
    // names: only the table it is in is said (`rate: unknown field ...`).
    if message.starts_with("unknown field") {
        // The path as the library writes it (`a[1].b`), less that option.
        let (whole, option) = (
            path.to_string(),
            path.iter().next_back().map(ToString::to_string),
        );
        let table = (option.as_deref())
            .and_then(|option| whole.strip_suffix(option))
            .map(|table| table.strip_suffix('.').unwrap_or(table));
        return match table {
            Some(table) if !table.is_empty() => format!("{table}: {message}"),
            _ => message,
        };
    }
    format!("{path}: {message}")
}

impl CommonOptions {
    /// Takes the four options out of `config`, leaving the filter's own.
    fn take_from(config: &mut Map<String, Value>) -> Result<CommonOptions, String> {
        let mut take = |key: &str| config.remove(key).unwrap_or(Value::Null);
        // Taken and unused, but checked as Logstash checks them, so that
        // what it would refuse is not carried along.
        plugin_option::<String>("id", take("id"))?;
        for flag in ["enable_metric", "periodic_flush"] {
            plugin_option::<bool>(flag, take(flag))?;
        }
        let ecs_compatibility = plugin_option("ecs_compatibility", take("ecs_compatibility"))?;
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
            ecs_compatibility,
        })
    }

    /// The `ecs_compatibility` the config gives, if it gives one.
    pub fn ecs_compatibility(&self) -> Option<EcsCompatibility> {
        self.ecs_compatibility
    }

    /// Logstash's `filter_matched`, in its order: `add_field`,
    /// `remove_field`, `add_tag`, `remove_tag`.
    ///
    /// An error where Logstash's event refuses an `add_field` set (see
    /// [`event_rules::refusal`]): through a string (`[host][name]` when
    /// `host` is text), at `@timestamp`, under `tags`, or a `tags` that is
    /// no longer strings; or where an `add_field` or `remove_field` name,
    /// filled in, is no field reference (or an `add_field` name one deeper
    /// than this SDK sets). There its Ruby raises, so what was added before
    /// stays and nothing after runs; so here. What the filter does then is
    /// its Logstash plugin's rescue, or the lack of one: mutate, kv, json
    /// and dissect tag the event `tag_on_failure`; grok and date would stop
    /// Logstash's worker, and return `Verdict::Error` here instead.
    pub fn apply(&self, event: &mut Event) -> Result<(), String> {
        // A fixed name is used as the `FieldRef` it is (most are fixed, and
        // this runs per event), not through `ResolvedField`'s segments.
        for (field, values) in &self.add_field {
            let field = field.resolve(event).map_err(|e| e.in_option("add_field"))?;
            for value in values {
                let value = Value::String(value.render(event).into_owned());
                let added = match &field {
                    ResolvedField::Fixed(field) => add_value(event, *field, value),
                    ResolvedField::Rendered(name) => add_value(event, name.as_ref(), value),
                };
                added.map_err(|why| {
                    format!(
                        "add_field: {}",
                        event_rules::refused_set(field.as_str(), why)
                    )
                })?;
            }
        }
        for field in &self.remove_field {
            match field.resolve(event) {
                Ok(ResolvedField::Fixed(field)) => event.remove(field),
                Ok(ResolvedField::Rendered(name)) => event.remove(name.as_ref()),
                // No event here holds a field that deep: there is nothing
                // to remove, as Logstash finds nothing there.
                Err(Unusable::TooDeep(_)) => None,
                Err(name) => return Err(name.in_option("remove_field")),
            };
        }
        if !self.add_tag.is_empty() {
            // Logstash's `add_tags` fills in every tag before it sets `tags`
            // once, so a `%{tags}` sees the tags the event came with.
            // (Each appended even when the event has it, as `add_tags`
            // does; `tag_on_failure` goes through `add_tag`, which skips it.)
            let tags: Vec<String> = (self.add_tag.iter())
                .map(|tag| tag.render(event).into_owned())
                .collect();
            event.append_tags(tags);
        }
        for tag in &self.remove_tag {
            let tag = tag.render(event);
            event.remove_tag(&tag);
        }
        Ok(())
    }
}

/// One of the options every Logstash plugin takes, read as Logstash reads
/// an option of type `T`; `None` when the config does not give it.
fn plugin_option<T: DeserializeOwned>(key: &str, value: Value) -> Result<Option<T>, String> {
    if value.is_null() {
        return Ok(None);
    }
    option_types::read_option(&value)
        .map(Some)
        .map_err(|e| format!("{key}: {}", in_plain_words(e.to_string())))
}

/// Templates for `option`, their date patterns checked: one that Joda or
/// java.time refuses would stop Logstash's pipeline at the first event, so
/// it is a config error here.
fn templates(option: &str, texts: Vec<String>) -> Result<Vec<Template>, String> {
    texts
        .into_iter()
        .map(|text| Template::checked(option, text))
        .collect()
}

/// Adds `value` at `field` as Logstash's `add_field` does: a field that is
/// not there (by its `include?`, for which a null list member is not) is
/// set; one that is there (even as null) becomes a list with the value at
/// its end. Logstash makes that list with Ruby's `Array()`,
/// so null becomes an empty list and an object its `[key, value]` pairs.
/// An error, with nothing set, where Logstash's event refuses the set.
fn add_value(
    event: &mut Event,
    field: &(impl FieldPath + ?Sized),
    value: Value,
) -> Result<(), &'static str> {
    // Logstash sets `Array(field) << text`, a legal `tags` exactly when the
    // field already is one (a string, null or a list of strings), so the
    // field is checked as it is rather than a copy of the list; elsewhere
    // only the path decides.
    let present = event.contains(field);
    let set = (event.get(field)).filter(|_| present).unwrap_or(&value);
    if let Some(why) = event_rules::refusal(event, field, set) {
        return Err(why);
    }
    // Where the field is there, a list is what is set: `@metadata` takes
    // none (an object before it, Logstash's cast of the list fails).
    if present && let Some(why) = event_rules::refusal(event, field, &Value::Array(Vec::new())) {
        return Err(why);
    }
    let Some(existing) = event.get_mut(field).filter(|_| present) else {
        event.set(field, value);
        return Ok(());
    };
    // The list is deeper than what it replaces: a scalar in a list, an
    // object's members as `[key, value]` lists in one. A list the text is
    // appended to stays as deep as the event already holds it.
    let nesting = match &*existing {
        Value::Array(_) => None,
        Value::Object(members) if !members.is_empty() => {
            Some(2 + members.values().map(json_text::nesting).max().unwrap_or(0))
        }
        _ => Some(1),
    };
    if let Some(why) = nesting.and_then(|nesting| event_rules::nesting_refusal(field, nesting)) {
        return Err(why);
    }
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
    Ok(())
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

/// For `#[serde(deserialize_with = "wasmstash_sdk::logstash::common::tags")]`: one
/// tag or a list of tags, as Logstash's config accepts either.
pub fn tags<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    one_or_many(deserializer, "expected a tag or a list of tags")
}

/// For `#[serde(deserialize_with = "wasmstash_sdk::logstash::common::fields")]`: one
/// field or a list of fields, as Logstash's config accepts either for a
/// list option (`lowercase => "level"`).
pub fn fields<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    one_or_many(deserializer, "expected a field or a list of fields")
}

/// How an unknown option's message names the options every filter takes.
const COMMON_OPTIONS: &str = "`add_field`, `add_tag`, `remove_field`, `remove_tag`, `id`, \
     `enable_metric`, `periodic_flush`, `ecs_compatibility`";

/// For `#[serde(deserialize_with = "wasmstash_sdk::logstash::common::hash")]`: an
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

/// For `#[serde(deserialize_with = "wasmstash_sdk::logstash::common::strings")]`: one
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
mod tests;
