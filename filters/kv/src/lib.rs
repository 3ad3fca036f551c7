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
mod options;
mod pattern;
mod scan;

use std::borrow::Cow;

use serde_json::Map;
use wasmstash_sdk::field_ref;
use wasmstash_sdk::json_text::MAX_NESTING;
use wasmstash_sdk::logstash::common::{CommonOptions, WithCommon};
use wasmstash_sdk::logstash::event_rules;
use wasmstash_sdk::prelude::*;
use wasmstash_sdk::template::{self, Template};

use charset::CharClass;
pub use options::Options;
use options::{Transform, Whitespace};
use pattern::SplitPattern;
use scan::{Scanner, Splitter};

/// kv's own options and the common ones (`add_field`, `add_tag`, ...).
pub type Config = WithCommon<Options>;

/// `max_depth` unless set: three times the deepest nesting of the access
/// log in shared/data (21: Google referrers whose query strings
/// `recursive` reads as `a=b=c=...`, one level per `=`, as Logstash does).
/// Each level scans what is left of its value again, so a line is scanned
/// at most 66 times. Under a target deeper than 62 segments, as
/// deep as an event can hold instead.
const DEFAULT_MAX_DEPTH: usize = 64;

pub struct Kv {
    config: Options,
    common: CommonOptions,
    max_depth: usize,
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
        let target_depth = config
            .target
            .as_deref()
            .map_or(0, |target| field_ref::segments(target).count());
        // A chain of `max_depth` objects, one per level, in the object of
        // pairs at the target (or at a top-level key, one segment deep),
        // must fit what an event may hold; deeper ones could never be set.
        let deepest = MAX_NESTING.saturating_sub(1 + target_depth);
        let max_depth = config.max_depth.unwrap_or(DEFAULT_MAX_DEPTH.min(deepest));
        if config.recursive && max_depth > deepest {
            return Err(format!(
                "max_depth: at most {deepest}{}: an event may be nested at most {MAX_NESTING} \
                 objects and arrays deep",
                match &config.target {
                    Some(target) => format!(" with target `{target}`"),
                    None => String::new(),
                }
            ));
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
        let field_split = splitter(
            "field_split",
            &config.field_split,
            &config.field_split_pattern,
        )?;
        let value_split = splitter(
            "value_split",
            &config.value_split,
            &config.value_split_pattern,
        )?;
        // In kv.rb's key, `\\.` reads a backslash as an escape first, and
        // as the value separator only where Ruby's backtracking finds no
        // other match (the pattern form's key too); that search is not
        // followed here. The pattern form here takes the separator wherever
        // it matches, a documented difference; the character form would
        // fail silently, so it is refused, naming the pattern form.
        if let Splitter::Chars(values) = &value_split
            && values.contains('\\')
            && matches!(field_split, Splitter::Chars(_))
        {
            return Err(
                "value_split: a backslash among the value separators is refused: Logstash reads \
                 it in a key as an escape unless backtracking finds no other match, which kv \
                 does not follow; value_split_pattern (`\\\\` for a backslash) takes it as \
                 the separator wherever it stands, which differs from Logstash where a key holds \
                 a backslash itself (see the kv README)"
                    .into(),
            );
        }
        // kv.rb also pastes the split characters into `[^...]`: both, for
        // keys when neither is a pattern, and `field_split` for values.
        if let Splitter::Chars(fields) = &field_split {
            if let Splitter::Chars(values) = &value_split {
                let both = format!("{}{}", config.value_split, config.field_split);
                charset::check_negated(&both, &[values, fields])
                    .map_err(|e| format!("value_split and field_split: {e}"))?;
            }
            charset::check_negated(&config.field_split, &[fields])
                .map_err(|e| format!("field_split: {e}"))?;
        }
        let scanner = Scanner::new(
            field_split,
            value_split,
            config.whitespace == Whitespace::Lenient,
            config.include_brackets,
            (!config.timeout_millis.is_some_and(|m| m <= 0.0)).then_some(config.timeout_steps),
        );
        Ok(Kv {
            trim_key: class_option("trim_key", &config.trim_key)?,
            trim_value: class_option("trim_value", &config.trim_value)?,
            remove_char_key: class_option("remove_char_key", &config.remove_char_key)?,
            remove_char_value: class_option("remove_char_value", &config.remove_char_value)?,
            scanner,
            config,
            common,
            max_depth,
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
                Some(text) => {
                    self.scanner.allow_steps_for(text.len());
                    self.parse(text, &context, &mut parse, Depth::At(0));
                }
                None => {
                    // Logstash parses each string of an array into one set of
                    // pairs; anything else (or nothing) has nothing to parse.
                    match event.get(&self.config.source) {
                        Some(Value::Array(items)) => {
                            let texts = || items.iter().filter_map(Value::as_str);
                            self.scanner.allow_steps_for(texts().map(str::len).sum());
                            for text in texts() {
                                self.parse(text, &context, &mut parse, Depth::At(0));
                                if parse.out_of_steps {
                                    break;
                                }
                            }
                        }
                        None | Some(Value::Null) => {}
                        // kv.rb warns of it, and goes on.
                        Some(other) => host::log(
                            Level::Warn,
                            &format!(
                                "kv: `{}` holds {}, which kv does not parse (only text, or a \
                                 list of texts)",
                                self.config.source,
                                host::shortened(&other.to_string(), 255)
                            ),
                        ),
                    }
                }
            }
        }
        if parse.out_of_steps {
            // As kv.rb's timeout: nothing set, the event tagged.
            host::log(
                Level::Warn,
                &format!(
                    "Timeout reached in KV filter with value `{}`: its separator patterns read \
                     past their allowance (timeout_steps = {}, or 64 a byte of the text if \
                     more); the event is left as it was",
                    source_excerpt(event, &self.config.source),
                    self.config.timeout_steps
                ),
            );
            event.add_tag(&self.config.tag_on_timeout);
            host::count("kv_timeouts", 1);
            return Verdict::Keep;
        }
        if parse.pairs.is_empty() && self.config.default_keys.is_empty() && parse.failed.is_none() {
            return Verdict::Keep;
        }
        let mut fields = self.config.default_keys.clone();
        for (key, value) in parse.pairs {
            fields.insert(key, value);
        }
        let any_set = !fields.is_empty();
        // kv.rb's `event.set` raises where Logstash's event refuses the set:
        // the target (`@timestamp`, under `tags`, through a string), or the
        // first key that is no field reference or where it refuses the
        // value. Then the pairs after it are not set, and kv.rb's `rescue => ex`
        // logs the exception at warn and tags the event, without
        // `filter_matched`. A set deeper than an event may hold, which
        // Logstash would make, fails the same way here.
        let mut raised = false;
        if any_set {
            let refused = match &self.config.target {
                Some(target) => {
                    let value = Value::Object(fields);
                    let refused = refusal_of(event, target, &value, true);
                    if refused.is_none() {
                        event.set(target, value);
                    }
                    refused
                }
                None => fields.into_iter().find_map(|(key, value)| {
                    let refused = refusal_of(event, &key, &value, false);
                    if refused.is_none() {
                        event.set(&key, value);
                    }
                    refused
                }),
            };
            if let Some(reason) = refused {
                host::log(
                    Level::Warn,
                    &format!("Exception while parsing KV: {reason}"),
                );
                raised = true;
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
        if let Some(reason) = &parse.failed {
            // This filter's own limits, which Logstash does not have.
            host::log(Level::Warn, &format!("kv: {reason}"));
        }
        if parse.failed.is_some() || raised {
            event.add_tags(&self.config.tag_on_failure);
            host::count("kv_errors", 1);
        }
        Verdict::Keep
    }
}

/// The source's text (a list's as JSON) for a log line, as kv.rb shows a
/// value: its first 255 characters.
fn source_excerpt(event: &Event, source: &str) -> String {
    match event.get(source) {
        Some(Value::String(text)) => host::shortened(text, 255).into_owned(),
        Some(other) => host::shortened(&other.to_string(), 255).into_owned(),
        None => String::new(),
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
    /// Why a limit cut the parse short or left a pair out: the first.
    failed: Option<String>,
    /// A scan ran out of steps: the pairs are not to be set.
    out_of_steps: bool,
}

impl Parse {
    /// Keeps the first reason a limit gave.
    fn fail(&mut self, reason: impl FnOnce() -> String) {
        if self.failed.is_none() {
            self.failed = Some(reason());
        }
    }
}

/// Where [`Kv::parse`] reads, which decides what it does with the pairs it
/// finds.
#[derive(Clone, Copy)]
enum Depth {
    /// Within `max_depth`: store them, `recursive` reading their values
    /// one level deeper.
    At(usize),
    /// Below `max_depth`: only tell whether there is one to store (then
    /// `failed` is set), which would have made the value an object.
    Beyond,
}

/// Why `value` cannot be set at `field`, if it cannot: `field` is no field
/// reference, Logstash's event refuses the set, or the event would be
/// nested deeper than it may be (`event_rules::refusal`). `checked` says
/// `field` is known to be a reference (the target, checked at load).
fn refusal_of(event: &Event, field: &str, value: &Value, checked: bool) -> Option<String> {
    if !checked && let Err(e) = field_ref::check(field) {
        return Some(format!("cannot set `{field}`: {e}"));
    }
    let why = event_rules::refusal(event, field, value)?;
    Some(event_rules::refused_set(field, why))
}

fn expand<'c>(event: &Event, keys: &'c [String]) -> Cow<'c, [String]> {
    if keys.iter().any(|k| template::has_references(k)) {
        Cow::Owned(keys.iter().map(|k| event.sprintf(k).into_owned()).collect())
    } else {
        Cow::Borrowed(keys)
    }
}

impl Kv {
    fn parse(&self, text: &str, context: &Context, parse: &mut Parse, depth: Depth) {
        let config = &self.config;
        let scanned = self.scanner.scan(text, |raw_key, raw_value| {
            if raw_value.is_empty() && !config.allow_empty_values {
                return true;
            }
            let key = self.clean(
                raw_key,
                &self.trim_key,
                &self.remove_char_key,
                config.transform_key,
            );
            let listed = |keys: &[String]| keys.iter().any(|k| *k == key);
            if !context.include_keys.is_empty() && !listed(&context.include_keys) {
                return true;
            }
            if listed(&context.exclude_keys) {
                return true;
            }
            if raw_value.len() > config.max_value_bytes {
                parse.fail(|| {
                    format!(
                        "the value of `{}` is {} bytes, over max_value_bytes ({}): left out",
                        host::shortened(&format!("{}{key}", context.prefix), 255),
                        raw_value.len(),
                        config.max_value_bytes
                    )
                });
                return true;
            }
            let Depth::At(depth) = depth else {
                // A pair Ruby's recursion would have stored, so the text
                // above it would have become an object.
                parse.fail(|| {
                    format!(
                        "pairs nest deeper than max_depth ({}): the deepest value is kept as text",
                        self.max_depth
                    )
                });
                return false;
            };
            if parse.stored >= config.max_keys {
                parse.fail(|| {
                    format!(
                        "more than max_keys ({}) pairs: the rest are left out",
                        config.max_keys
                    )
                });
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
            // Each level reads its value where it lies in the text above it
            // (unless cleaning changed it), so that a chain `a=b=c=...` is
            // not copied once per level.
            let mut object = None;
            // Counted before its value's pairs: `max_keys` counts the pairs
            // of every level, this one's first.
            parse.stored += 1;
            if config.recursive {
                let mut inner = Parse {
                    stored: parse.stored,
                    ..Parse::default()
                };
                let next = if depth < self.max_depth {
                    Depth::At(depth + 1)
                } else {
                    Depth::Beyond
                };
                self.parse(&value, context, &mut inner, next);
                if inner.out_of_steps {
                    // Nothing of this event will be set; stop reading it.
                    parse.out_of_steps = true;
                    return false;
                }
                if let Some(reason) = inner.failed {
                    parse.fail(|| reason);
                }
                parse.stored = inner.stored;
                if !inner.pairs.is_empty() {
                    object = Some(Value::Object(inner.pairs));
                }
            }
            let value = object.unwrap_or_else(|| Value::String(value.into_owned()));
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
        parse.out_of_steps |= scanned.is_err();
    }

    fn clean<'t>(
        &self,
        text: &'t str,
        trim: &Option<CharClass>,
        remove: &Option<CharClass>,
        transform: Option<Transform>,
    ) -> Cow<'t, str> {
        let trimmed = trim.as_ref().map_or(text, |class| class.trim(text));
        let removed = match remove {
            Some(class) if class.any_in(trimmed) => Cow::Owned(class.remove_all(trimmed)),
            _ => Cow::Borrowed(trimmed),
        };
        match (transform, removed) {
            (Some(transform), Cow::Borrowed(text)) => transform.apply(text),
            (Some(transform), Cow::Owned(text)) => {
                if let Cow::Owned(changed) = transform.apply(&text) {
                    Cow::Owned(changed)
                } else {
                    Cow::Owned(text)
                }
            }
            (None, removed) => removed,
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
