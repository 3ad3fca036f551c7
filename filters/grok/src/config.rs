//! grok's options, with Logstash's names and defaults, checked at init.

use serde::Deserialize;
use serde_json::{Map, Value};
use wasmstash_sdk::field_ref;
use wasmstash_sdk::logstash::common::{self, WithCommon};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Field -> pattern or list of patterns (tried in order). Logstash's
    /// array form `["field", "pattern", ...]` is accepted too.
    #[serde(rename = "match")]
    pub match_: Value,
    #[serde(default = "yes")]
    pub break_on_match: bool,
    #[serde(default = "yes")]
    pub named_captures_only: bool,
    #[serde(default)]
    pub keep_empty_captures: bool,
    #[serde(default, deserialize_with = "common::fields")]
    pub overwrite: Vec<String>,
    #[serde(default, deserialize_with = "common::hash")]
    pub pattern_definitions: Map<String, Value>,
    /// The operator's pattern files, as the host read them from Logstash's
    /// `patterns_dir`: later files win over earlier ones, and
    /// `pattern_definitions` over all of them, as in Logstash.
    #[serde(default)]
    pub pattern_files: Vec<PatternFile>,
    /// Only the host reads it (a filter reads no files): here it means a
    /// config that reached the filter without the host's reading.
    #[serde(default)]
    pub patterns_dir: Option<Value>,
    /// Means nothing without `patterns_dir`, in Logstash too.
    #[serde(default)]
    pub patterns_files_glob: Option<Value>,
    #[serde(default = "default_failure_tags", deserialize_with = "common::tags")]
    pub tag_on_failure: Vec<String>,
    #[serde(default = "default_timeout_tag")]
    pub tag_on_timeout: String,
    /// Wall-clock limit per pattern (or per event, see `timeout_scope`), in
    /// milliseconds, a fraction too; 0 or less turns it off. Logstash's
    /// default.
    #[serde(default = "default_timeout_millis")]
    pub timeout_millis: f64,
    #[serde(default = "default_timeout_scope")]
    pub timeout_scope: String,
    /// Deterministic limit: backtracking steps per pattern (or per event),
    /// so a pathological pattern is stopped the same way on every machine.
    #[serde(default = "default_timeout_steps")]
    pub timeout_steps: u64,
    /// Put captures under this field instead of the event root.
    #[serde(default)]
    pub target: Option<String>,
}

/// One pattern file: where the host read it, for messages, and its text.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternFile {
    pub path: String,
    pub text: String,
}

/// grok's own options and the common ones (`add_field`, `add_tag`, ...).
pub type Config = WithCommon<Settings>;

fn yes() -> bool {
    true
}
fn default_failure_tags() -> Vec<String> {
    vec!["_grokparsefailure".into()]
}
fn default_timeout_tag() -> String {
    "_groktimeout".into()
}
fn default_timeout_millis() -> f64 {
    30_000.0
}
fn default_timeout_scope() -> String {
    "pattern".into()
}
fn default_timeout_steps() -> u64 {
    1_000_000
}

/// `match` as (field, patterns) in config order.
pub fn match_list(value: &Value) -> Result<Vec<(String, Vec<String>)>, String> {
    let mut list: Vec<(String, Vec<String>)> = Vec::new();
    let mut add = |field: &str, pattern: &Value| -> Result<(), String> {
        field_ref::validate_option("match", field)?;
        let patterns: Vec<String> = match pattern {
            Value::String(p) => vec![p.clone()],
            Value::Array(items) => items
                .iter()
                .map(|p| p.as_str().map(str::to_string))
                .collect::<Option<_>>()
                .ok_or_else(|| format!("match: the patterns for `{field}` must be strings"))?,
            _ => {
                return Err(format!(
                    "match: the pattern for `{field}` must be a string or a list of strings"
                ));
            }
        };
        match list.iter_mut().find(|(f, _)| f == field) {
            Some((_, existing)) => existing.extend(patterns),
            None => list.push((field.to_string(), patterns)),
        }
        Ok(())
    };
    match value {
        Value::Object(map) => {
            for (field, pattern) in map {
                add(field, pattern)?;
            }
        }
        // Logstash's flat list for a hash: field, pattern (or patterns), ...
        Value::Array(items)
            if items.len() % 2 == 0 && items.iter().step_by(2).all(Value::is_string) =>
        {
            for pair in items.chunks(2) {
                if let Value::String(field) = &pair[0] {
                    add(field, &pair[1])?;
                }
            }
        }
        _ => {
            return Err(
                "match must be a table of field = pattern (or = [patterns]), e.g. { message = \"%{COMBINEDAPACHELOG}\" }"
                    .into(),
            );
        }
    }
    if list.is_empty() {
        return Err("match is empty: give at least one field and pattern".into());
    }
    Ok(list)
}
