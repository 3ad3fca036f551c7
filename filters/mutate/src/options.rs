//! mutate's options, in the shapes Logstash's config accepts for them.
//!
//! Logstash checks each option against its type and converts what it can,
//! so a config copied from Logstash may give a hash option as a flat list
//! (`rename => [ "a", "b" ]`) and a list option as one string
//! (`lowercase => "level"`). Both shapes are taken here as they are there:
//! a flat list of an even length becomes a map (a key given twice collects
//! its values in a list, as Logstash's validation does), and one string is
//! a list of one.

use serde::Deserialize;
use serde::de::{self, Deserializer};
use serde_json::Map;
use wasmstash_sdk::Value;
use wasmstash_sdk::common;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Options {
    #[serde(default, deserialize_with = "hash")]
    pub coerce: Map<String, Value>,
    #[serde(default, deserialize_with = "hash")]
    pub rename: Map<String, Value>,
    #[serde(default, deserialize_with = "hash")]
    pub update: Map<String, Value>,
    #[serde(default, deserialize_with = "hash")]
    pub replace: Map<String, Value>,
    #[serde(default, deserialize_with = "hash")]
    pub convert: Map<String, Value>,
    /// Field, regex, replacement, repeated (Logstash's flat list).
    #[serde(default)]
    pub gsub: Vec<Value>,
    #[serde(default, deserialize_with = "common::fields")]
    pub uppercase: Vec<String>,
    #[serde(default, deserialize_with = "common::fields")]
    pub capitalize: Vec<String>,
    #[serde(default, deserialize_with = "common::fields")]
    pub lowercase: Vec<String>,
    #[serde(default, deserialize_with = "common::fields")]
    pub strip: Vec<String>,
    #[serde(default, deserialize_with = "hash")]
    pub split: Map<String, Value>,
    #[serde(default, deserialize_with = "hash")]
    pub join: Map<String, Value>,
    #[serde(default, deserialize_with = "hash")]
    pub merge: Map<String, Value>,
    #[serde(default, deserialize_with = "hash")]
    pub copy: Map<String, Value>,
    #[serde(default = "default_failure_tags", deserialize_with = "common::tags")]
    pub tag_on_failure: Vec<String>,
    /// Logstash before 8.14's reading of numbers: `to_i`/`to_f`, which never
    /// fail (see `convert.rs`).
    #[serde(default)]
    pub lenient_conversion: bool,
}

fn default_failure_tags() -> Vec<String> {
    vec!["_mutate_error".into()]
}

/// A hash option: an object, or Logstash's flat list of keys and values.
fn hash<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Map<String, Value>, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Object(map) => Ok(map),
        Value::Array(items) if items.len() % 2 == 0 => {
            let mut map = Map::new();
            for pair in items.chunks(2) {
                let Value::String(key) = &pair[0] else {
                    return Err(de::Error::custom(format!(
                        "expected a field name, not {}, at an even place of the list",
                        pair[0]
                    )));
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
        Value::Array(items) => Err(de::Error::custom(format!(
            "a list in place of a map needs an even number of items (field, value, ...), \
             got {}",
            items.len()
        ))),
        other => Err(de::Error::custom(format!(
            "expected a map (or a flat list of fields and values), not {other}"
        ))),
    }
}
