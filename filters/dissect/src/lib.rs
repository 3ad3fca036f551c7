//! `dissect`: splits a field into fields by literal delimiters, with
//! Logstash's dissect semantics (`%{a}`, `%{+a}`, `%{+a/2}`, `%{?a}`, `%{}`,
//! `%{&a}`, `->` padding, `convert_datatype`, `_dissectfailure`).
//!
//! No regular expressions: each field ends at the next occurrence of the
//! literal that follows it in the pattern, which is why dissect is the fast
//! choice for lines whose layout never varies. Options and examples are in
//! README.md next to this crate.

mod convert;
mod dissector;
mod java_event;
mod pattern;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Map;
use wasmstash_sdk::field_ref;
use wasmstash_sdk::logstash::common::{self, CommonOptions, WithCommon};
use wasmstash_sdk::prelude::*;

use convert::{Conversion, Datatype, convert_field};
use dissector::{Dissector, Outcome, Scratch};

/// The Apache combined log layout as a dissect pattern, writing the ECS
/// fields grok's `%{COMBINEDAPACHELOG}` writes in ECS mode (values stay
/// strings, and `-` stays `-`). The example pipeline, the tests and the
/// benchmark use it.
pub const APACHE_COMBINED_ECS: &str = concat!(
    "%{[source][address]} %{[apache][access][user][identity]} %{[user][name]} [%{timestamp}] ",
    "\"%{[http][request][method]} %{[url][original]} HTTP/%{[http][version]}\" ",
    "%{[http][response][status_code]} %{[http][response][body][bytes]} ",
    "\"%{[http][request][referrer]}\" \"%{[user_agent][original]}\"",
);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Source field -> pattern, applied in the order written.
    #[serde(default, deserialize_with = "common::hash")]
    mapping: Map<String, Value>,
    /// Field -> `int` or `float`, converted after all mappings ran.
    #[serde(default, deserialize_with = "common::hash")]
    convert_datatype: Map<String, Value>,
    #[serde(default = "default_failure_tags", deserialize_with = "common::tags")]
    tag_on_failure: Vec<String>,
    /// Joins appended parts; by default each part is joined with the
    /// delimiter that precedes it in the pattern, as Logstash does.
    #[serde(default)]
    append_separator: Option<String>,
}

fn default_failure_tags() -> Vec<String> {
    vec!["_dissectfailure".into()]
}

/// dissect's own options and the common ones (`add_field`, `add_tag`, ...),
/// and whether any of the four that touch the event was given: the
/// conversions may be done as fields are written only where none was, as
/// Logstash runs them between the writing and its conversion pass.
pub struct Config {
    options: WithCommon<Options>,
    common_given: bool,
}

const EVENT_OPTIONS: [&str; 4] = ["add_field", "remove_field", "add_tag", "remove_tag"];

impl<'de> Deserialize<'de> for Config {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let config = Map::<String, Value>::deserialize(deserializer)?;
        let common_given = EVENT_OPTIONS
            .iter()
            .any(|option| config.get(*option).is_some_and(|v| !v.is_null()));
        let options = WithCommon::deserialize(Value::Object(config)).map_err(D::Error::custom)?;
        Ok(Config {
            options,
            common_given,
        })
    }
}

pub struct Dissect {
    mappings: Vec<(String, Dissector)>,
    conversions: Vec<Conversion>,
    tag_on_failure: Vec<String>,
    common: CommonOptions,
    scratch: Scratch,
}

impl Filter for Dissect {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        let Config {
            options:
                WithCommon {
                    options: config,
                    common,
                },
            common_given,
        } = config;
        if config.mapping.is_empty() && config.convert_datatype.is_empty() {
            return Err(
                "nothing to do: give `mapping` (field -> pattern) and/or `convert_datatype`".into(),
            );
        }
        let mut conversions = Vec::new();
        for (field, datatype) in &config.convert_datatype {
            field_ref::validate_option("convert_datatype", field)?;
            let parsed = Datatype::parse(datatype).ok_or_else(|| {
                format!(
                    "convert_datatype `{field}`: unknown datatype {datatype}, expected \"int\" or \"float\" (in any case)"
                )
            })?;
            conversions.push(Conversion {
                field: field.clone(),
                datatype: parsed,
                name: datatype.as_str().unwrap_or_default().to_owned(),
            });
        }
        // Logstash converts after all mappings and their common options
        // ran. Converting a field as it is written saves reading it back
        // (a whole `http` object, say) and gives the same event only where
        // nothing runs in between: one mapping, none of the common options
        // that read or change fields (a later mapping could write the field
        // again as text, `add_field` could copy it, `remove_field` remove
        // it). The dissector leaves out the cases its pattern alone decides.
        let inline_conversions = if config.mapping.len() == 1 && !common_given {
            conversions.as_slice()
        } else {
            &[]
        };
        let mut mappings = Vec::new();
        for (source, pattern) in &config.mapping {
            field_ref::validate_option("mapping", source)?;
            let Value::String(pattern) = pattern else {
                return Err(format!(
                    "mapping `{source}`: the pattern must be a string, got {pattern}"
                ));
            };
            // Logstash builds no dissector for an empty pattern: the mapping
            // does nothing, neither tagging nor running the common options.
            if pattern.is_empty() {
                continue;
            }
            let parsed = pattern::parse(pattern)
                .map_err(|e| format!("mapping `{source}` => {pattern:?}: {e}"))?;
            mappings.push((
                source.clone(),
                Dissector::new(
                    &parsed,
                    config.append_separator.as_deref(),
                    inline_conversions,
                ),
            ));
        }
        Ok(Dissect {
            scratch: Scratch::new(conversions.len()),
            mappings,
            conversions,
            tag_on_failure: config.tag_on_failure,
            common,
        })
    }

    fn process(&mut self, event: &mut Event) -> Verdict {
        self.scratch.reset();
        // As in Logstash, each mapping stands alone: one that fails is
        // tagged and the next still runs, each that fits runs the common
        // options, and the conversions run after them all.
        for (source, dissector) in &self.mappings {
            let text = match event.get_str(source) {
                Some(text) => text.to_owned(),
                None => match event.get(source) {
                    // A missing source is not a failure in Logstash either:
                    // the mapping does not apply to this event. It warns.
                    None => {
                        host::log(
                            Level::Warn,
                            &format!(
                                "Dissector mapping, key not found in event: the event has no \
                                 `{source}`"
                            ),
                        );
                        continue;
                    }
                    Some(Value::Number(n)) => n.to_string(),
                    Some(Value::Bool(b)) => b.to_string(),
                    // Null reads as empty text; an object or array has no
                    // text to split.
                    Some(_) => String::new(),
                },
            };
            let outcome = if text.is_empty() {
                Outcome::Mismatch
            } else {
                dissector.apply(&text, event, &mut self.scratch)
            };
            let refused = match outcome {
                Outcome::Mismatch => {
                    // Logstash warns of each, as "key found in event but it
                    // was empty", whichever it was.
                    let why = match text.is_empty() {
                        true => "holds no text (empty, null, a list or an object)".into(),
                        false => {
                            format!("does not fit the pattern: {}", host::shortened(&text, 255))
                        }
                    };
                    host::log(
                        Level::Warn,
                        &format!("mapping `{source}`: `{source}` {why}"),
                    );
                    self.fail(event);
                    continue;
                }
                Outcome::Refused(reason) => format!("mapping `{source}`: {reason}"),
                // A set Logstash's event refuses in `filter_matched` raises
                // as well. (Conversions made as fields were written imply
                // there are no common options to refuse anything.)
                Outcome::Written => match self.common.apply(event) {
                    Ok(()) => continue,
                    Err(reason) => reason,
                },
            };
            return self.refused(event, &refused);
        }
        for (index, conversion) in self.conversions.iter().enumerate() {
            if !self.scratch.converted(index)
                && let Err(reason) = convert_field(event, conversion)
            {
                return self.refused(event, &reason);
            }
        }
        Verdict::Keep
    }
}

impl Dissect {
    /// A set Logstash's event refuses raises, wherever it is made (a
    /// field, a common option, a conversion), into the plugin's catch
    /// (JavaDissectorLibrary's `dissect`), which logs the error and tags
    /// the event: what was set before stays, and nothing after runs.
    fn refused(&self, event: &mut Event, reason: &str) -> Verdict {
        host::log(Level::Error, reason);
        self.fail(event);
        Verdict::Keep
    }

    fn fail(&self, event: &mut Event) {
        event.add_tags(&self.tag_on_failure);
        host::count("dissect_failures", 1);
    }
}

export_filter!(Dissect);

#[cfg(test)]
mod tests;
