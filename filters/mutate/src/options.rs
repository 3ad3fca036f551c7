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
use serde_json::Map;
use wasmstash_sdk::Value;
use wasmstash_sdk::logstash::common;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Options {
    #[serde(default, deserialize_with = "common::hash")]
    pub coerce: Map<String, Value>,
    #[serde(default, deserialize_with = "common::hash")]
    pub rename: Map<String, Value>,
    #[serde(default, deserialize_with = "common::hash")]
    pub update: Map<String, Value>,
    #[serde(default, deserialize_with = "common::hash")]
    pub replace: Map<String, Value>,
    #[serde(default, deserialize_with = "common::hash")]
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
    #[serde(default, deserialize_with = "common::hash")]
    pub split: Map<String, Value>,
    #[serde(default, deserialize_with = "common::hash")]
    pub join: Map<String, Value>,
    #[serde(default, deserialize_with = "common::hash")]
    pub merge: Map<String, Value>,
    #[serde(default, deserialize_with = "common::hash")]
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
