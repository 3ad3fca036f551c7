//! `kv`: parses `key=value` pairs out of a field, like Logstash's kv filter.
//!
//! The scan (`scan.rs`) reproduces Logstash's scan regex without a regex
//! engine; this file turns the pairs into fields with Logstash's options in
//! Logstash's order: trim, remove and transform the key, include/exclude,
//! prefix, then the same for the value, de-duplication, recursion. README.md
//! next to this crate lists what is supported and what is not.

mod charset;
#[cfg(test)]
mod logstash_spec;
mod scan;

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Map;
use wasmstash_sdk::common::{self, CommonOptions, EcsCompatibility, WithCommon};
use wasmstash_sdk::prelude::*;
use wasmstash_sdk::template::{self, Template};
use wasmstash_sdk::{field_ref, logstash_event};

use charset::{CharClass, SplitPattern};
use scan::{Scanner, Splitter};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    #[serde(default = "default_source")]
    source: String,
    #[serde(default)]
    target: Option<String>,
    #[serde(default = "default_field_split")]
    field_split: String,
    #[serde(default)]
    field_split_pattern: Option<String>,
    #[serde(default = "default_value_split")]
    value_split: String,
    #[serde(default)]
    value_split_pattern: Option<String>,
    #[serde(default, deserialize_with = "common::strings")]
    include_keys: Vec<String>,
    #[serde(default, deserialize_with = "common::strings")]
    exclude_keys: Vec<String>,
    #[serde(default)]
    trim_key: Option<String>,
    #[serde(default)]
    trim_value: Option<String>,
    #[serde(default)]
    remove_char_key: Option<String>,
    #[serde(default)]
    remove_char_value: Option<String>,
    #[serde(default)]
    transform_key: Option<Transform>,
    #[serde(default)]
    transform_value: Option<Transform>,
    #[serde(default)]
    prefix: String,
    #[serde(default = "yes")]
    allow_duplicate_values: bool,
    /// Store `key=` with an empty value instead of skipping it.
    #[serde(default)]
    allow_empty_values: bool,
    #[serde(default, deserialize_with = "common::hash")]
    default_keys: Map<String, Value>,
    #[serde(default = "yes")]
    include_brackets: bool,
    #[serde(default)]
    recursive: bool,
    #[serde(default)]
    whitespace: Whitespace,
    #[serde(default = "default_failure_tags", deserialize_with = "common::tags")]
    tag_on_failure: Vec<String>,
    /// Taken so that a config moved over from Logstash loads, without
    /// effect: there they bound a regex scan that can backtrack, and the
    /// scan here is linear in the text, so no line gets near a timeout.
    #[serde(default)]
    #[allow(dead_code)]
    timeout_millis: Option<u64>,
    #[serde(default)]
    #[allow(dead_code)]
    tag_on_timeout: Option<String>,
    /// Accepted as Logstash's kv accepts it; it changes no output there.
    #[serde(default)]
    #[allow(dead_code)]
    ecs_compatibility: Option<EcsCompatibility>,
    /// Pairs stored per event; the rest of the text is ignored and the
    /// event tagged.
    #[serde(default = "default_max_keys")]
    max_keys: usize,
    /// A longer value is not stored and the event is tagged.
    #[serde(default = "default_max_value_bytes")]
    max_value_bytes: usize,
    /// How deep `recursive` descends into values.
    #[serde(default = "default_max_depth")]
    max_depth: usize,
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
fn default_max_keys() -> usize {
    1000
}
/// As large as an event may be (the host's `max_event_mib`), so that no
/// real value is dropped: Logstash has no such limit, and a value can be no
/// longer than the text it comes from anyway.
fn default_max_value_bytes() -> usize {
    16 << 20
}

/// kv's own options and the common ones (`add_field`, `add_tag`, ...).
pub type Config = WithCommon<Options>;
fn default_max_depth() -> usize {
    8
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Transform {
    Lowercase,
    Uppercase,
    Capitalize,
}

impl Transform {
    fn apply(self, text: &str) -> String {
        match self {
            Transform::Lowercase => text.to_lowercase(),
            Transform::Uppercase => text.to_uppercase(),
            // Ruby's String#capitalize: first character up, the rest down.
            Transform::Capitalize => {
                let mut chars = text.chars();
                match chars.next() {
                    Some(first) => first
                        .to_uppercase()
                        .chain(chars.as_str().to_lowercase().chars())
                        .collect(),
                    None => String::new(),
                }
            }
        }
    }
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Whitespace {
    #[default]
    Lenient,
    Strict,
}

pub struct Kv {
    config: Options,
    common: CommonOptions,
    scanner: Scanner,
    trim_key: Option<CharClass>,
    trim_value: Option<CharClass>,
    remove_char_key: Option<CharClass>,
    remove_char_value: Option<CharClass>,
}

fn class_option(name: &str, spec: &Option<String>) -> Result<Option<CharClass>, String> {
    spec.as_deref()
        .map(|s| CharClass::parse(s).map_err(|e| format!("{name}: {e}")))
        .transpose()
}

fn splitter(name: &str, chars: &str, pattern: &Option<String>) -> Result<Splitter, String> {
    match pattern {
        Some(p) if p.is_empty() => Err(format!("{name}_pattern must not be empty")),
        Some(p) => SplitPattern::parse(p)
            .map(Splitter::Pattern)
            .map_err(|e| format!("{name}_pattern: {e}")),
        None if chars.is_empty() => Err(format!("{name} must name at least one character")),
        None => CharClass::parse(chars)
            .map(Splitter::Chars)
            .map_err(|e| format!("{name}: {e}")),
    }
}

impl Filter for Kv {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        let WithCommon {
            options: config,
            common,
        } = config;
        field_ref::validate_option("source", &config.source)?;
        if let Some(target) = &config.target {
            field_ref::validate_option("target", target)?;
        }
        if config.max_keys == 0 || config.max_value_bytes == 0 {
            return Err("max_keys and max_value_bytes must be at least 1".into());
        }
        // Filled in per event with `sprintf`: a reference Logstash would
        // raise on there is a config error here, as in the common options.
        let templates = [
            ("prefix", std::slice::from_ref(&config.prefix)),
            ("include_keys", &config.include_keys[..]),
            ("exclude_keys", &config.exclude_keys[..]),
        ];
        for (option, texts) in templates {
            for text in texts {
                Template::checked(option, text.as_str())?;
            }
        }
        let scanner = Scanner::new(
            splitter(
                "field_split",
                &config.field_split,
                &config.field_split_pattern,
            )?,
            splitter(
                "value_split",
                &config.value_split,
                &config.value_split_pattern,
            )?,
            config.whitespace == Whitespace::Lenient,
            config.include_brackets,
        );
        Ok(Kv {
            trim_key: class_option("trim_key", &config.trim_key)?,
            trim_value: class_option("trim_value", &config.trim_value)?,
            remove_char_key: class_option("remove_char_key", &config.remove_char_key)?,
            remove_char_value: class_option("remove_char_value", &config.remove_char_value)?,
            scanner,
            config,
            common,
        })
    }

    fn process(&mut self, event: &mut Event) -> Verdict {
        // Parse while the event is only read, without copying the source;
        // nothing below allocates for a line without pairs.
        let mut parse = Parse::default();
        {
            let context = Context {
                include_keys: expand(event, &self.config.include_keys),
                exclude_keys: expand(event, &self.config.exclude_keys),
                prefix: event.sprintf(&self.config.prefix),
            };
            match event.get_str(&self.config.source) {
                Some(text) => self.parse(text, &context, &mut parse, 0),
                None => {
                    // Logstash parses each string of an array into one set of
                    // pairs; anything else (or nothing) has nothing to parse.
                    if let Some(Value::Array(items)) = event.get(&self.config.source) {
                        for text in items.iter().filter_map(Value::as_str) {
                            self.parse(text, &context, &mut parse, 0);
                        }
                    }
                }
            }
        }
        if parse.pairs.is_empty() && self.config.default_keys.is_empty() && !parse.failed {
            return Verdict::Keep;
        }
        let mut fields = self.config.default_keys.clone();
        for (key, value) in parse.pairs {
            fields.insert(key, value);
        }
        let any_set = !fields.is_empty();
        // Logstash sets the pairs in order, and its event raises at the
        // first key that is no field reference, or that it refuses text at
        // (`@timestamp`, a path through a string): the pairs after it are
        // not set, and kv's rescue tags the event without `filter_matched`.
        let mut raised = false;
        if any_set {
            match &self.config.target {
                Some(target) => event.set(target, Value::Object(fields)),
                None => {
                    for (key, value) in fields {
                        if field_ref::validate(&key).is_err()
                            || logstash_event::refuses_text_at(event, &key)
                        {
                            raised = true;
                            break;
                        }
                        event.set(&key, value);
                    }
                }
            }
        }
        if any_set && !raised {
            // Logstash's filter_matched, run whenever pairs were set. A set
            // its event refuses there raises into kv.rb's `rescue => ex`,
            // which logs it at warn and tags the event `tag_on_failure`.
            if let Err(reason) = self.common.apply(event) {
                host::log(Level::Warn, &reason);
                raised = true;
            }
        }
        if parse.failed || raised {
            for tag in &self.config.tag_on_failure {
                event.add_tag(tag);
            }
            host::count("kv_errors", 1);
        }
        Verdict::Keep
    }
}

/// Per-event values of the options that may hold `%{field}` references;
/// borrowed from the config when they hold none.
struct Context<'c> {
    include_keys: Cow<'c, [String]>,
    exclude_keys: Cow<'c, [String]>,
    prefix: Cow<'c, str>,
}

#[derive(Default)]
struct Parse {
    pairs: Map<String, Value>,
    stored: usize,
    /// A limit cut the parse short or a key could not be stored.
    failed: bool,
}

fn expand<'c>(event: &Event, keys: &'c [String]) -> Cow<'c, [String]> {
    if keys.iter().any(|k| template::has_references(k)) {
        Cow::Owned(keys.iter().map(|k| event.sprintf(k).into_owned()).collect())
    } else {
        Cow::Borrowed(keys)
    }
}

impl Kv {
    fn parse(&self, text: &str, context: &Context, parse: &mut Parse, depth: usize) {
        let config = &self.config;
        self.scanner.scan(text, |raw_key, raw_value| {
            if raw_value.is_empty() && !config.allow_empty_values {
                return true;
            }
            let key = self.clean(
                raw_key,
                &self.trim_key,
                &self.remove_char_key,
                config.transform_key,
            );
            if !context.include_keys.is_empty() && !context.include_keys.contains(&key) {
                return true;
            }
            if context.exclude_keys.contains(&key) {
                return true;
            }
            if raw_value.len() > config.max_value_bytes {
                parse.failed = true;
                return true;
            }
            if parse.stored >= config.max_keys {
                parse.failed = true;
                return false;
            }
            let key = format!("{}{key}", context.prefix);
            let value = self.clean(
                raw_value,
                &self.trim_value,
                &self.remove_char_value,
                config.transform_value,
            );
            if !config.allow_duplicate_values && is_duplicate(parse.pairs.get(&key), &value) {
                return true;
            }
            let mut value = Value::String(value);
            if config.recursive && depth < config.max_depth {
                let mut inner = Parse::default();
                self.parse(
                    value.as_str().unwrap_or_default(),
                    context,
                    &mut inner,
                    depth + 1,
                );
                parse.failed |= inner.failed;
                if !inner.pairs.is_empty() {
                    value = Value::Object(inner.pairs);
                }
            }
            parse.stored += 1;
            match parse.pairs.get_mut(&key) {
                Some(Value::Array(items)) => items.push(value),
                Some(existing) => {
                    let first = existing.take();
                    *existing = Value::Array(vec![first, value]);
                }
                None => {
                    parse.pairs.insert(key, value);
                }
            }
            true
        });
    }

    fn clean(
        &self,
        text: &str,
        trim: &Option<CharClass>,
        remove: &Option<CharClass>,
        transform: Option<Transform>,
    ) -> String {
        let trimmed = trim.as_ref().map_or(text, |class| class.trim(text));
        let removed = match remove {
            Some(class) => class.remove_all(trimmed),
            None => trimmed.to_owned(),
        };
        match transform {
            Some(transform) => transform.apply(&removed),
            None => removed,
        }
    }
}

/// Whether `value` is already stored under the key. (Logstash compares a
/// single stored string by substring, an accident of Ruby's `include?`; this
/// compares whole values.)
fn is_duplicate(existing: Option<&Value>, value: &str) -> bool {
    match existing {
        Some(Value::String(s)) => s == value,
        Some(Value::Array(items)) => items.iter().any(|v| v.as_str() == Some(value)),
        _ => false,
    }
}

export_filter!(Kv);

#[cfg(test)]
mod tests;
