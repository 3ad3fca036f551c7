//! kv's options as Logstash's kv filter names them, with its defaults,
//! and this filter's own limits (`max_keys`, `max_value_bytes`,
//! `max_depth`, `timeout_steps`), which Logstash does not have.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{Map, Value};
use wasmstash_sdk::logstash::{common, text_case};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    #[serde(default = "default_source")]
    pub(crate) source: String,
    #[serde(default)]
    pub(crate) target: Option<String>,
    #[serde(default = "default_field_split")]
    pub(crate) field_split: String,
    #[serde(default)]
    pub(crate) field_split_pattern: Option<String>,
    #[serde(default = "default_value_split")]
    pub(crate) value_split: String,
    #[serde(default)]
    pub(crate) value_split_pattern: Option<String>,
    #[serde(default, deserialize_with = "common::strings")]
    pub(crate) include_keys: Vec<String>,
    #[serde(default, deserialize_with = "common::strings")]
    pub(crate) exclude_keys: Vec<String>,
    #[serde(default)]
    pub(crate) trim_key: Option<String>,
    #[serde(default)]
    pub(crate) trim_value: Option<String>,
    #[serde(default)]
    pub(crate) remove_char_key: Option<String>,
    #[serde(default)]
    pub(crate) remove_char_value: Option<String>,
    #[serde(default)]
    pub(crate) transform_key: Option<Transform>,
    #[serde(default)]
    pub(crate) transform_value: Option<Transform>,
    #[serde(default)]
    pub(crate) prefix: String,
    #[serde(default = "yes")]
    pub(crate) allow_duplicate_values: bool,
    /// Store `key=` with an empty value instead of skipping it.
    #[serde(default)]
    pub(crate) allow_empty_values: bool,
    #[serde(default, deserialize_with = "common::hash")]
    pub(crate) default_keys: Map<String, Value>,
    #[serde(default = "yes")]
    pub(crate) include_brackets: bool,
    #[serde(default)]
    pub(crate) recursive: bool,
    #[serde(default)]
    pub(crate) whitespace: Whitespace,
    #[serde(default = "default_failure_tags", deserialize_with = "common::tags")]
    pub(crate) tag_on_failure: Vec<String>,
    /// Logstash's wall-clock limit per event; here only `0` or less, no
    /// limit, has an effect (it lifts `timeout_steps`), as the scan is
    /// bounded by the work it does, which a clock in a sandbox would only
    /// blur.
    #[serde(default)]
    pub(crate) timeout_millis: Option<f64>,
    /// The tag of an event whose scan ran out of steps (see `scan::Steps`).
    #[serde(default = "default_timeout_tag")]
    pub(crate) tag_on_timeout: String,
    /// The base allowance of steps a scan with separator patterns may take.
    #[serde(default = "default_timeout_steps")]
    pub(crate) timeout_steps: u64,
    /// Pairs stored per event; the rest of the text is ignored and the
    /// event tagged.
    #[serde(default = "default_max_keys")]
    pub(crate) max_keys: usize,
    /// A longer value is not stored and the event is tagged.
    #[serde(default = "default_max_value_bytes")]
    pub(crate) max_value_bytes: usize,
    /// How deep `recursive` descends into values; a value with pairs
    /// below that stays text and the event is tagged.
    #[serde(default)]
    pub(crate) max_depth: Option<usize>,
}

fn default_source() -> String {
    "message".into()
}
fn default_field_split() -> String {
    " ".into()
}
fn default_value_split() -> String {
    "=".into()
}
fn yes() -> bool {
    true
}
fn default_failure_tags() -> Vec<String> {
    vec!["_kv_filter_error".into()]
}
fn default_timeout_tag() -> String {
    "_kv_filter_timeout".into()
}
fn default_timeout_steps() -> u64 {
    1_000_000
}
fn default_max_keys() -> usize {
    1000
}
/// As large as an event may be (the host's `max_event_mib`), so that no
/// real value is dropped: Logstash has no such limit, and a value can be no
/// longer than the text it comes from anyway.
fn default_max_value_bytes() -> usize {
    16 << 20
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Transform {
    Lowercase,
    Uppercase,
    Capitalize,
}

impl Transform {
    /// `text` as kv.rb's `downcase`, `upcase` or `capitalize` makes it;
    /// borrowed when that leaves it as it is, as it does the values
    /// `recursive` reads out of a value it transformed already, so that a
    /// chain is not copied once per level.
    pub(crate) fn apply(self, text: &str) -> Cow<'_, str> {
        match self {
            Transform::Lowercase => text_case::lowercase(text),
            Transform::Uppercase => text_case::uppercase(text),
            Transform::Capitalize => text_case::capitalize(text),
        }
    }
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Whitespace {
    #[default]
    Lenient,
    Strict,
}
