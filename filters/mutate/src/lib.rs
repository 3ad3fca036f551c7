//! `mutate`: renames, replaces, converts, re-cases, splits, joins and
//! merges fields, with Logstash's mutate options and order.
//!
//! Operations run in Logstash's fixed order, whatever the order in the
//! config: `coerce`, `rename`, `update`, `replace`, `convert`, `gsub`,
//! `uppercase`, `capitalize`, `lowercase`, `strip`, `split`, `join`,
//! `merge`, `copy`; then the common options (`add_field`, `remove_field`,
//! `add_tag`, `remove_tag`). `convert` reads numbers as Logstash 8.14 and
//! later do (see `convert.rs`). Where Logstash's Ruby raises, the event
//! fails as it does there: the operations after it and the common options
//! are skipped and the event is tagged with `tag_on_failure` (default
//! `_mutate_error`). That is a `convert` of a text Ruby cannot read as a
//! number, a `rename` whose `%{field}` names expand to something that is no
//! field reference, a set through a scalar, text set at `@timestamp` or
//! inside `tags` by `replace` or `update`, a `strip` of a list holding a
//! non-string, and (ours) a `gsub` whose regex runs out of steps.
//!
//! Options take the shapes Logstash's config gives them (`options.rs`): a
//! hash option may be a flat list, a list option one field. A field that
//! exists is written in place, so `[list][0]` is a list's member, as in
//! Logstash.

mod convert;
mod gsub;
mod options;

use std::borrow::Cow;

use serde_json::Map;
use wasmstash_sdk::common::{CommonOptions, WithCommon};
use wasmstash_sdk::field_ref::{self, FieldPath, FieldRef};
use wasmstash_sdk::logstash_event::{refuses_text_at, through_a_scalar};
use wasmstash_sdk::prelude::*;
use wasmstash_sdk::template::{FieldName, Template};
use wasmstash_sdk::text_case;

use convert::Conversion;
use gsub::{Gsub, GsubError};
pub use options::Options;
use wasmstash_regex::Matcher;

pub type Config = WithCommon<Options>;

pub struct Mutate {
    coerce: Vec<(FieldRef, Template)>,
    rename: Vec<(FieldName, FieldName)>,
    update: Vec<(FieldRef, Template)>,
    replace: Vec<(FieldRef, Template)>,
    convert: Vec<(FieldRef, Conversion)>,
    lenient_conversion: bool,
    gsub: Vec<Gsub>,
    /// The regex engine's state, reused from event to event.
    matcher: Matcher,
    uppercase: Vec<FieldRef>,
    capitalize: Vec<FieldRef>,
    lowercase: Vec<FieldRef>,
    strip: Vec<FieldRef>,
    split: Vec<(FieldRef, String)>,
    join: Vec<(FieldRef, String)>,
    merge: Vec<(FieldRef, Vec<FieldRef>)>,
    copy: Vec<(FieldRef, FieldRef)>,
    common: CommonOptions,
    tag_on_failure: Vec<String>,
}

/// Checks that every key is a field reference and every value a string.
fn pairs(option: &str, map: Map<String, Value>) -> Result<Vec<(FieldRef, String)>, String> {
    map.into_iter()
        .map(|(field, value)| match value {
            Value::String(text) => Ok((field_named(option, &field)?, text)),
            other => Err(format!(
                "{option}: the value for `{field}` must be a string, not {other}"
            )),
        })
        .collect()
}

fn field_named(option: &str, field: &str) -> Result<FieldRef, String> {
    field_ref::validate_option(option, field)?;
    Ok(FieldRef::new(field))
}

fn fields(option: &str, list: Vec<String>) -> Result<Vec<FieldRef>, String> {
    list.iter()
        .map(|field| field_named(option, field))
        .collect()
}

/// `pairs` of a field and a template (`coerce`, `update` and `replace`).
/// A number or a boolean is taken as its text, as Logstash's `sprintf`
/// takes a config's `5` or `false`.
fn templates(option: &str, map: Map<String, Value>) -> Result<Vec<(FieldRef, Template)>, String> {
    let map = map
        .into_iter()
        .map(|(field, value)| match value {
            Value::Number(_) | Value::Bool(_) => (field, Value::String(value.to_string())),
            value => (field, value),
        })
        .collect();
    pairs(option, map)?
        .into_iter()
        .map(|(field, template)| {
            // A date pattern Joda or java.time refuses is a config error,
            // as in the common options.
            let template = Template::new(template);
            template.check().map_err(|e| format!("{option}: {e}"))?;
            Ok((field, template))
        })
        .collect()
}

impl Filter for Mutate {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        let WithCommon { options, common } = config;
        let convert = pairs("convert", options.convert)?
            .into_iter()
            .map(|(field, kind)| match Conversion::named(&kind) {
                Some(conversion) => Ok((field, conversion)),
                None => Err(format!(
                    "convert: unknown type `{kind}` for `{field}`; use integer, float, \
                     integer_eu, float_eu, string or boolean"
                )),
            })
            .collect::<Result<_, String>>()?;
        let rename = pairs_of_names("rename", options.rename)?;
        let copy = pairs("copy", options.copy)?
            .into_iter()
            .map(|(from, to)| Ok((from, field_named("copy", &to)?)))
            .collect::<Result<_, String>>()?;
        let merge = options
            .merge
            .into_iter()
            .map(|(dest, added)| {
                let added = match added {
                    Value::String(one) => vec![one],
                    Value::Array(many) => many
                        .into_iter()
                        .map(|f| f.as_str().map(str::to_owned))
                        .collect::<Option<_>>()
                        .ok_or_else(|| format!("merge: the fields for `{dest}` must be strings"))?,
                    _ => {
                        return Err(format!(
                            "merge: the value for `{dest}` must be a field or a list of fields"
                        ));
                    }
                };
                Ok((field_named("merge", &dest)?, fields("merge", added)?))
            })
            .collect::<Result<_, String>>()?;
        Ok(Mutate {
            coerce: templates("coerce", options.coerce)?,
            rename,
            update: templates("update", options.update)?,
            replace: templates("replace", options.replace)?,
            convert,
            lenient_conversion: options.lenient_conversion,
            gsub: Gsub::parse(options.gsub)?,
            matcher: Matcher::default(),
            uppercase: fields("uppercase", options.uppercase)?,
            capitalize: fields("capitalize", options.capitalize)?,
            lowercase: fields("lowercase", options.lowercase)?,
            strip: fields("strip", options.strip)?,
            split: pairs("split", options.split)?,
            join: pairs("join", options.join)?,
            merge,
            copy,
            common,
            tag_on_failure: options.tag_on_failure,
        })
    }

    fn process(&mut self, event: &mut Event) -> Verdict {
        for (field, template) in &self.coerce {
            if matches!(event.get(field), Some(Value::Null)) {
                let value = template.render(event).into_owned();
                event.set(field, value);
            }
        }
        if self.rename_fields(event).is_err() {
            return self.fail(event);
        }
        // Their values are text, which Logstash's event refuses at
        // `@timestamp` (a timestamp object) and inside `tags`, as through a
        // scalar; a rename or copy may carry a timestamp there, and is let be.
        for (field, template) in &self.update {
            if event.contains(field) {
                if refuses_text_at(event, field) {
                    return self.fail(event);
                }
                let value = template.render(event).into_owned();
                event.set(field, value);
            }
        }
        for (field, template) in &self.replace {
            if refuses_text_at(event, field) {
                return self.fail(event);
            }
            let value = template.render(event).into_owned();
            event.set(field, value);
        }
        for (field, conversion) in &self.convert {
            let Some(current) = event.get(field) else {
                continue;
            };
            match conversion.apply(current, self.lenient_conversion) {
                Some(converted) if &converted != current => event.set(field, converted),
                Some(_) => {}
                None => return self.fail(event),
            }
        }
        match self.gsub_fields(event) {
            Ok(()) => {}
            Err(GsubError::Stopped) => return self.fail(event),
            Err(GsubError::Regex(reason)) => {
                // Logstash logs the exception and tags the event.
                host::log(Level::Warn, &format!("gsub: {reason}"));
                return self.fail(event);
            }
        }
        for field in &self.uppercase {
            map_strings(event, field, text_case::uppercase);
        }
        for field in &self.capitalize {
            map_strings(event, field, capitalize);
        }
        for field in &self.lowercase {
            map_strings(event, field, text_case::lowercase);
        }
        for field in &self.strip {
            // Ruby's `strip` of every member raises on one that is no string.
            if let Some(Value::Array(items)) = event.get(field)
                && !items.iter().all(Value::is_string)
            {
                return self.fail(event);
            }
            map_strings(event, field, strip);
        }
        for (field, separator) in &self.split {
            if let Some(Value::String(text)) = event.get(field) {
                let parts = ruby_split(text, separator);
                event.set(field, parts);
            }
        }
        for (field, separator) in &self.join {
            if let Some(Value::Array(items)) = event.get(field) {
                let joined = join(items, separator);
                event.set(field, joined);
            }
        }
        for (dest, added) in &self.merge {
            for field in added {
                if merge(event, dest, field).is_err() {
                    return self.fail(event);
                }
            }
        }
        for (from, to) in &self.copy {
            match event.get(from) {
                None | Some(Value::Null) => {}
                Some(_) if through_a_scalar(event, to) => return self.fail(event),
                Some(value) => {
                    let value = value.clone();
                    event.set(to, value);
                }
            }
        }
        self.common.apply(event);
        Verdict::Keep
    }
}

/// `rename` pairs: both sides may hold `%{field}` references.
fn pairs_of_names(
    option: &str,
    map: Map<String, Value>,
) -> Result<Vec<(FieldName, FieldName)>, String> {
    map.into_iter()
        .map(|(from, to)| match to {
            Value::String(to) => Ok((FieldName::new(option, from)?, FieldName::new(option, to)?)),
            other => Err(format!(
                "{option}: the value for `{from}` must be a string, not {other}"
            )),
        })
        .collect()
}

impl Mutate {
    /// Logstash's rescue: the event is tagged and nothing more is done.
    fn fail(&self, event: &mut Event) -> Verdict {
        for tag in &self.tag_on_failure {
            event.add_tag(tag);
        }
        Verdict::Keep
    }

    fn gsub_fields(&mut self, event: &mut Event) -> Result<(), GsubError> {
        for gsub in &mut self.gsub {
            gsub.apply(event, &mut self.matcher)?;
        }
        Ok(())
    }

    /// `rename`, each name filled in for this event first; an error when a
    /// filled-in name is not a field reference, or the new name one that
    /// Logstash's event refuses to set. Then the field stays where it was:
    /// Logstash has taken it out by the time its set raises, and loses it.
    fn rename_fields(&self, event: &mut Event) -> Result<(), ()> {
        for (from, to) in &self.rename {
            let from = from.resolve(event).map_err(drop)?;
            let to = to.resolve(event).map_err(drop)?;
            if !event.contains(&from) {
                continue;
            }
            // Logstash takes the field out before it sets the new name, so
            // a new name under the old one (`host` to `[host][name]`) finds
            // nothing in its way.
            let under_from = {
                let mut to_segments = to.segments();
                from.segments()
                    .all(|segment| to_segments.next() == Some(segment))
            };
            if !under_from && through_a_scalar(event, &to) {
                return Err(());
            }
            if let Some(value) = event.remove(&from) {
                event.set(&to, value);
            }
        }
        Ok(())
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

/// Ruby's `strip`: ASCII whitespace and NUL from both ends, no other
/// Unicode space.
fn strip(text: &str) -> Cow<'_, str> {
    let strippable = |c: char| matches!(c, ' ' | '\t' | '\n' | '\u{0b}' | '\u{0c}' | '\r' | '\0');
    match text.trim_matches(strippable) {
        trimmed if trimmed.len() == text.len() => Cow::Borrowed(text),
        trimmed => Cow::Owned(trimmed.to_owned()),
    }
}

/// Ruby's `capitalize`: the first character upper case, the rest lower.
fn capitalize(text: &str) -> Cow<'_, str> {
    let mut chars = text.chars();
    let Some(first) = chars.next() else {
        return Cow::Borrowed(text);
    };
    let mut capitalized = String::with_capacity(text.len());
    titlecase(first, &mut capitalized);
    capitalized.push_str(&text_case::lowercase(chars.as_str()));
    if capitalized == text {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(capitalized)
    }
}

/// Appends `c` in titlecase, which Ruby's `capitalize` gives the first
/// character: the uppercase, except for the letters Unicode titlecases
/// otherwise (UnicodeData.txt and SpecialCasing.txt). Those are digraphs
/// (`ǆ` to `ǅ`), ligatures (`ß` to `Ss`, `ﬁ` to `Fi`), Greek letters with
/// a iota subscript (`ᾳ` to `ᾼ`) and Georgian letters, which are their
/// own titlecase.
fn titlecase(c: char, out: &mut String) {
    let special: &str = match c {
        '\u{1c4}'..='\u{1c6}' => "\u{1c5}",
        '\u{1c7}'..='\u{1c9}' => "\u{1c8}",
        '\u{1ca}'..='\u{1cc}' => "\u{1cb}",
        '\u{1f1}'..='\u{1f3}' => "\u{1f2}",
        'ß' => "Ss",
        '\u{fb00}' => "Ff",
        '\u{fb01}' => "Fi",
        '\u{fb02}' => "Fl",
        '\u{fb03}' => "Ffi",
        '\u{fb04}' => "Ffl",
        '\u{fb05}' | '\u{fb06}' => "St",
        '\u{587}' => "\u{535}\u{582}",
        '\u{fb13}' => "\u{544}\u{576}",
        '\u{fb14}' => "\u{544}\u{565}",
        '\u{fb15}' => "\u{544}\u{56b}",
        '\u{fb16}' => "\u{54e}\u{576}",
        '\u{fb17}' => "\u{544}\u{56d}",
        '\u{1fb2}' => "\u{1fba}\u{345}",
        '\u{1fb4}' => "\u{386}\u{345}",
        '\u{1fb7}' => "\u{391}\u{342}\u{345}",
        '\u{1fc2}' => "\u{1fca}\u{345}",
        '\u{1fc4}' => "\u{389}\u{345}",
        '\u{1fc7}' => "\u{397}\u{342}\u{345}",
        '\u{1ff2}' => "\u{1ffa}\u{345}",
        '\u{1ff4}' => "\u{38f}\u{345}",
        '\u{1ff7}' => "\u{3a9}\u{342}\u{345}",
        '\u{1fb3}' | '\u{1fbc}' => "\u{1fbc}",
        '\u{1fc3}' | '\u{1fcc}' => "\u{1fcc}",
        '\u{1ff3}' | '\u{1ffc}' => "\u{1ffc}",
        // ᾀ..ᾇ, ᾐ..ᾗ, ᾠ..ᾧ and their titlecase forms eight places on.
        '\u{1f80}'..='\u{1faf}' => {
            let offset = (c as u32 - 0x1f80) % 16;
            let titled = 0x1f80 + (c as u32 - 0x1f80) / 16 * 16 + 8 + offset % 8;
            out.push(char::from_u32(titled).expect("a Greek letter"));
            return;
        }
        '\u{10d0}'..='\u{10fa}' | '\u{10fd}'..='\u{10ff}' => {
            out.push(c);
            return;
        }
        _ => {
            out.extend(c.to_uppercase());
            return;
        }
    };
    out.push_str(special);
}

/// Ruby's `String#split` with a string separator: a single space splits at
/// runs of whitespace and ignores leading whitespace, an empty separator
/// splits into characters, and empty strings at the end are dropped.
fn ruby_split(text: &str, separator: &str) -> Vec<Value> {
    let mut parts: Vec<&str> = match separator {
        " " => text
            .split(['\t', '\n', '\u{0b}', '\u{0c}', '\r', ' '])
            .filter(|part| !part.is_empty())
            .collect(),
        "" => text
            .char_indices()
            .map(|(i, c)| &text[i..i + c.len_utf8()])
            .collect(),
        separator => text.split(separator).collect(),
    };
    while parts.last() == Some(&"") {
        parts.pop();
    }
    parts.into_iter().map(Value::from).collect()
}

/// Ruby's `Array#join`: members as text (nested lists joined too, null as
/// nothing).
fn join(items: &[Value], separator: &str) -> String {
    let mut out = String::new();
    let mut first = true;
    let mut push = |text: &str| {
        if !first {
            out.push_str(separator);
        }
        first = false;
        out.push_str(text);
    };
    fn each(items: &[Value], push: &mut impl FnMut(&str)) {
        for item in items {
            match item {
                Value::Array(inner) => each(inner, push),
                Value::String(text) => push(text),
                Value::Null => push(""),
                other => push(&other.to_string()),
            }
        }
    }
    each(items, &mut push);
    out
}

/// Logstash's `merge` of `added` into `dest`: two objects merge (`added`'s
/// keys win); an object and a non-object do not (left as they are, as
/// Logstash does after logging an error); anything else makes `dest` the
/// list of both, a missing or null side counting as no values.
/// An error where Logstash's event refuses the set (`dest` through a
/// string): its mutate then tags the event.
fn merge(event: &mut Event, dest: &FieldRef, added: &FieldRef) -> Result<(), ()> {
    let added_value = event.get(added).cloned();
    let dest_value = event.get(dest).cloned();
    let merged = match (dest_value, added_value) {
        (Some(Value::Object(mut into)), Some(Value::Object(from))) => {
            into.extend(from);
            Value::Object(into)
        }
        (Some(Value::Object(_)), _) | (_, Some(Value::Object(_))) => return Ok(()),
        (dest_value, added_value) => {
            let mut list = as_list(dest_value);
            list.extend(as_list(added_value));
            Value::Array(list)
        }
    };
    if through_a_scalar(event, dest) {
        return Err(());
    }
    event.set(dest, merged);
    Ok(())
}

/// Ruby's `Array()`: a list as it is, nothing as empty, a value as a list
/// of one.
fn as_list(value: Option<Value>) -> Vec<Value> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(other) => vec![other],
    }
}

export_filter!(Mutate);

#[cfg(test)]
mod ruby_oracle;
#[cfg(test)]
mod tests;
