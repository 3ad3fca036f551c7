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
//! are skipped, the reason is logged at warn (Logstash's rescue logs the
//! exception) and the event is tagged with `tag_on_failure` (default
//! `_mutate_error`). That is a `convert` of a text Ruby cannot read as a
//! number (or of a list holding an object or a list), a `rename` whose
//! `%{field}` names expand to something that is no field reference, a
//! `strip` of a list holding a non-string, (ours) a `gsub` whose regex
//! runs out of steps, and any set Logstash's event refuses, by an
//! operation or by `add_field` (see `wasmstash_sdk::logstash::event_rules`):
//! through a string, number or boolean, at or under `@timestamp`, under
//! `tags`, or a `tags` that would hold anything but strings. Logstash's
//! `@timestamp` is a timestamp object, not text: the string operations
//! pass it by, as they pass by any value that is no string.
//!
//! Options take the shapes Logstash's config gives them (`options.rs`): a
//! hash option may be a flat list, a list option one field. A field that
//! exists is written in place, so `[list][0]` is a list's member, as in
//! Logstash.

mod convert;
mod gsub;
mod merge;
mod options;
mod ruby_text;

use std::borrow::Cow;

use serde_json::Map;
use wasmstash_sdk::field_ref::{self, FieldPath, FieldRef, Unusable};
use wasmstash_sdk::logstash::common::{CommonOptions, WithCommon};
use wasmstash_sdk::logstash::event_rules::{refusal, refused_set};
use wasmstash_sdk::logstash::text_case;
use wasmstash_sdk::prelude::*;
use wasmstash_sdk::template::{FieldName, Template};
use wasmstash_sdk::timestamp::Timestamp;

use convert::Conversion;
use gsub::Gsub;
use merge::merge;
pub use options::Options;
use ruby_text::{join, ruby_split, strip};
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
    // A date pattern Joda or java.time refuses, or a malformed field
    // reference, is a config error, as in the common options.
    pairs(option, map)?
        .into_iter()
        .map(|(field, template)| Ok((field, Template::checked(option, template)?)))
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
        if let Err(reason) = self.operations(event) {
            // Logstash's rescue logs the exception, then tags the event.
            host::log(Level::Warn, &reason);
            event.add_tags(&self.tag_on_failure);
        }
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
    /// The operations in Logstash's order, then the common options. The
    /// first failure stops them, with what ran before it kept, as Ruby's
    /// exception stops mutate's `filter`; its reason is what Logstash's
    /// rescue would log.
    fn operations(&mut self, event: &mut Event) -> Result<(), String> {
        // The values of `coerce`, `update` and `replace` are text, which
        // Logstash's event refuses at `@timestamp` and inside `tags`, as
        // through a scalar.
        for (field, template) in &self.coerce {
            // Logstash's `include?` is false for a null list member, so
            // `coerce` of `[list][0]` leaves it null.
            if event.contains(field) && matches!(event.get(field), Some(Value::Null)) {
                set_text(event, "coerce", field, template)?;
            }
        }
        self.rename_fields(event)?;
        for (field, template) in &self.update {
            if event.contains(field) {
                set_text(event, "update", field, template)?;
            }
        }
        for (field, template) in &self.replace {
            set_text(event, "replace", field, template)?;
        }
        for (field, conversion) in &self.convert {
            convert(event, field, *conversion, self.lenient_conversion)?;
        }
        for gsub in &mut self.gsub {
            gsub.apply(event, &mut self.matcher)?;
        }
        let recased = [
            (
                "uppercase",
                &self.uppercase,
                text_case::uppercase as fn(&str) -> Cow<'_, str>,
            ),
            ("capitalize", &self.capitalize, text_case::capitalize),
            ("lowercase", &self.lowercase, text_case::lowercase),
        ];
        for (option, fields, change) in recased {
            for field in fields {
                map_strings(event, option, field, change)?;
            }
        }
        for field in &self.strip {
            // Ruby's `strip` of every member raises on one that is no string.
            if let Some(Value::Array(items)) = event.get(field)
                && !items.iter().all(Value::is_string)
            {
                return Err(format!(
                    "strip: `{field}` is a list with a member that is no string, \
                     which Ruby's strip raises on"
                ));
            }
            map_strings(event, "strip", field, strip)?;
        }
        for (field, separator) in &self.split {
            if let Some(Value::String(text)) = text_at(event, field) {
                let parts = Value::Array(ruby_split(text, separator));
                set_checked(event, "split", field, parts)?;
            }
        }
        for (field, separator) in &self.join {
            if let Some(Value::Array(items)) = text_at(event, field) {
                let joined = Value::String(join(items, separator));
                set_checked(event, "join", field, joined)?;
            }
        }
        for (dest, added) in &self.merge {
            merge(event, dest, added)?;
        }
        for (from, to) in &self.copy {
            match event.get(from) {
                None | Some(Value::Null) => {}
                Some(value) => {
                    if let Some(why) = carried_refusal(event, from, to, value) {
                        return Err(refused("copy", to.as_str(), why));
                    }
                    let value = as_carried(to, value.clone());
                    event.set(to, value);
                }
            }
        }
        self.common.apply(event)
    }

    /// `rename`, each name filled in for this event first; an error when a
    /// filled-in name is not a field reference, or the new name one that
    /// Logstash's event refuses to set.
    fn rename_fields(&self, event: &mut Event) -> Result<(), String> {
        for (from, to) in &self.rename {
            let from = match from.resolve(event) {
                Ok(from) => from,
                // mutate.rb's `next unless event.include?(old)`: no event
                // here holds a field that deep.
                Err(Unusable::TooDeep(_)) => continue,
                Err(name @ Unusable::Malformed(_)) => return Err(name.in_option("rename")),
            };
            // Logstash's `event.set(new, event.remove(old))` takes the field
            // out before it sets the new name. So a new name under the old
            // one (`host` to `[host][name]`) finds nothing in its way. Where
            // its event refuses the set, the field is already out and lost;
            // here it goes back (`put_back`), so the tagged event still
            // holds its value.
            // `next unless event.include?(old)`: a null list member is
            // not there, and stays where it is.
            if !event.contains(&from) {
                continue;
            }
            // mutate.rb fills the new name in before that check, but only
            // its set, after it, can raise.
            let to = to.resolve(event).map_err(|name| name.in_option("rename"))?;
            let Some(value) = event.remove(&from) else {
                continue;
            };
            if let Some(why) = carried_refusal(event, &from, &to, &value) {
                put_back(event, &from, value);
                return Err(refused("rename", to.as_str(), why));
            }
            event.set(&to, as_carried(&to, value));
        }
        Ok(())
    }
}

/// Puts a field that `rename` took out back at `field`: a map member last
/// among its siblings, a list member into its place. Set at its index, a
/// list member would overwrite the member that moved up into that place
/// when it was taken out.
fn put_back(event: &mut Event, field: &(impl FieldPath + ?Sized), value: Value) {
    let segments: Vec<&str> = field.segments().collect();
    if let Some((last, parents)) = segments.split_last()
        && !parents.is_empty()
        && let Ok(index) = last.parse::<i64>()
    {
        let parent: String = parents.iter().map(|s| format!("[{s}]")).collect();
        if let Some(Value::Array(items)) = event.get(parent.as_str()) {
            let mut items = items.clone();
            // A place counted from the end was counted in the list the
            // member was still in.
            let length = items.len() as i64 + 1;
            let place = if index < 0 { length + index } else { index };
            items.insert(place.clamp(0, items.len() as i64) as usize, value);
            event.set(parent.as_str(), Value::Array(items));
            return;
        }
    }
    event.set(field, value);
}

/// Why Logstash's event would refuse `value` at `field`, where `rename`
/// or `copy` carries it from another field, if it would. `@timestamp` takes only a
/// timestamp object, which Logstash's events carry from field to field and
/// their JSON writes as text: text that reads as one
/// ([`Timestamp::parse`]) is taken for one (`@timestamp`'s own, moved
/// away and back). What comes from `@timestamp` is that object, which
/// `tags` does not take (it is no string).
fn carried_refusal(
    event: &Event,
    from: &(impl FieldPath + ?Sized),
    field: &(impl FieldPath + ?Sized),
    value: &Value,
) -> Option<&'static str> {
    if is_timestamp(from) && field.segments().next() == Some("tags") {
        return Some("`tags` takes only strings, and `@timestamp` holds a timestamp");
    }
    // Read as a timestamp only where one is taken: a copied message is long.
    let timestamp_there = is_timestamp(field)
        && value
            .as_str()
            .is_some_and(|text| Timestamp::parse(text).is_some());
    match timestamp_there {
        true => None,
        false => refusal(event, field, value),
    }
}

/// `value` as it lands at `field`: text taken for a timestamp at
/// `@timestamp` ([`carried_refusal`]) is written as Logstash writes one
/// (`...:00.5Z` as `...:00.500Z`), as its object would print.
fn as_carried(field: &(impl FieldPath + ?Sized), value: Value) -> Value {
    let timestamp = (value.as_str())
        .filter(|_| is_timestamp(field))
        .and_then(Timestamp::parse);
    match timestamp {
        Some(timestamp) => Value::String(timestamp.text()),
        None => value,
    }
}

/// A failure's reason for a set by `option` that Logstash's event refuses.
pub(crate) fn refused(option: &str, field: &str, why: &str) -> String {
    format!("{option}: {}", refused_set(field, why))
}

/// `coerce`, `update` and `replace`: `template` filled in for the event
/// and set at `field`, unless Logstash's event refuses text there.
fn set_text(
    event: &mut Event,
    option: &str,
    field: &FieldRef,
    template: &Template,
) -> Result<(), String> {
    let text = Value::String(template.render(event).into_owned());
    set_checked(event, option, field, text)
}

/// `value` set at `field` by `option`, unless Logstash's event refuses it.
fn set_checked(
    event: &mut Event,
    option: &str,
    field: &FieldRef,
    value: Value,
) -> Result<(), String> {
    if let Some(why) = refusal(event, field, &value) {
        return Err(refused(option, field.as_str(), why));
    }
    event.set(field, value);
    Ok(())
}

/// Whether `field` is `@timestamp`, which Logstash's event holds as a
/// timestamp object, not as the text its JSON has.
fn is_timestamp(field: &(impl FieldPath + ?Sized)) -> bool {
    let mut segments = field.segments();
    segments.next() == Some("@timestamp") && segments.next().is_none()
}

/// The value at `field` as mutate's string operations see it in Logstash
/// (`gsub`, the case changes, `strip`, `split`, `join`): `@timestamp` is
/// a timestamp object there, which they pass by as they pass by any value
/// that is no string or list.
pub(crate) fn text_at<'e>(event: &'e Event, field: &FieldRef) -> Option<&'e Value> {
    if is_timestamp(field) {
        None
    } else {
        event.get(field)
    }
}

/// `convert` of one field; an error where Logstash's conversion raises, or
/// its event refuses the converted value (numbers in `tags`, say). As
/// there, an object or null is left as it is, with nothing set.
fn convert(
    event: &mut Event,
    field: &FieldRef,
    conversion: Conversion,
    lenient: bool,
) -> Result<(), String> {
    let current = match event.get(field) {
        None | Some(Value::Object(_) | Value::Null) => return Ok(()),
        Some(current) => current,
    };
    let name = conversion.name();
    if is_timestamp(field) {
        // Logstash's is a timestamp object: `boolean` sets it back as it
        // was (it is no `true` or `false`, which `convert_boolean` logs),
        // and every other conversion makes a number or text, which the
        // event refuses there.
        return match conversion {
            Conversion::Boolean => {
                unknown_boolean(field, &excerpt(current));
                Ok(())
            }
            _ => Err(format!(
                "convert: `@timestamp` is a timestamp in Logstash's event, and {name} \
                 makes a value it does not take"
            )),
        };
    }
    let Some(converted) = conversion.apply(current, lenient) else {
        // As Ruby's exception, the value it could not read: in a list, the
        // first such member.
        return Err(match current {
            Value::Array(items) => {
                let unread = items.iter().find(|item| conversion.fails_on(item, lenient));
                format!(
                    "convert: Ruby cannot read a member of `{field}` as {name}: {}",
                    excerpt(unread.unwrap_or(current))
                )
            }
            _ => format!(
                "convert: Ruby cannot read `{field}` as {name}: {}",
                excerpt(current)
            ),
        });
    };
    if conversion == Conversion::Boolean {
        // `convert_boolean` logs each value it does not know, and leaves it.
        let left = match &converted {
            Value::Array(items) => items.as_slice(),
            single => std::slice::from_ref(single),
        };
        for value in left.iter().filter(|v| !v.is_boolean() && !v.is_null()) {
            unknown_boolean(field, &excerpt(value));
        }
    }
    // Logstash sets the value even when it is unchanged, which matters
    // under `tags`, where any set is refused.
    if let Some(why) = refusal(event, field, &converted) {
        return Err(refused("convert", field.as_str(), why));
    }
    if &converted != current {
        event.set(field, converted);
    }
    Ok(())
}

/// Logstash's warning for a value `convert => boolean` does not know.
fn unknown_boolean(field: &FieldRef, value: &str) {
    host::log(
        Level::Warn,
        &format!(
            "convert: `{field}` holds {value}, which is no boolean Logstash knows; left as it was"
        ),
    );
}

/// `value` as JSON for a log line, cut after 60 characters.
pub(crate) fn excerpt(value: &Value) -> String {
    host::shortened(&value.to_string(), 60).into_owned()
}

/// Applies `change` to a string field, or to every string in a list field.
/// `change` borrows its input back when it leaves it as it was; a field
/// where nothing changed is left untouched. Logstash sets the result back
/// whatever it is (but null): an error where its event refuses that, as
/// under `tags`.
fn map_strings(
    event: &mut Event,
    option: &str,
    field: &FieldRef,
    change: impl Fn(&str) -> Cow<'_, str>,
) -> Result<(), String> {
    // Check with a read first so an absent or non-string field stays untouched.
    let Some(current) = text_at(event, field) else {
        return Ok(());
    };
    let changed = match current {
        Value::Null => return Ok(()),
        Value::String(s) => match change(s) {
            Cow::Owned(new) => Some(Value::String(new)),
            Cow::Borrowed(_) => None,
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
            any.then_some(Value::Array(new))
        }
        _ => None,
    };
    if let Some(why) = refusal(event, field, changed.as_ref().unwrap_or(current)) {
        return Err(refused(option, field.as_str(), why));
    }
    if let Some(changed) = changed {
        event.set(field, changed);
    }
    Ok(())
}

export_filter!(Mutate);

#[cfg(test)]
mod ruby_oracle;
#[cfg(test)]
mod tests;
