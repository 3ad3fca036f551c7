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
mod pattern;

use serde::Deserialize;
use serde_json::Map;
use wasmstash_sdk::common::{self, CommonOptions, WithCommon};
use wasmstash_sdk::field_ref;
use wasmstash_sdk::prelude::*;

use convert::{Datatype, convert_field};
use dissector::{Dissector, Scratch};

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

/// dissect's own options and the common ones (`add_field`, `add_tag`, ...).
pub type Config = WithCommon<Options>;

pub struct Dissect {
    mappings: Vec<(String, Dissector)>,
    conversions: Vec<(String, Datatype)>,
    tag_on_failure: Vec<String>,
    common: CommonOptions,
    scratch: Scratch,
}

impl Filter for Dissect {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        let WithCommon {
            options: config,
            common,
        } = config;
        if config.mapping.is_empty() && config.convert_datatype.is_empty() {
            return Err(
                "nothing to do: give `mapping` (field -> pattern) and/or `convert_datatype`".into(),
            );
        }
        let mut conversions = Vec::new();
        for (field, datatype) in &config.convert_datatype {
            field_ref::validate_option("convert_datatype", field)?;
            let datatype = Datatype::parse(datatype).ok_or_else(|| {
                format!(
                    "convert_datatype `{field}`: unknown datatype {datatype}, expected \"int\" or \"float\""
                )
            })?;
            conversions.push((field.clone(), datatype));
        }
        // With several mappings a later one may write a converted field
        // again, as text; so fields are converted as they are written only
        // when there is one mapping.
        let inline_conversions = if config.mapping.len() == 1 {
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
                    // the mapping does not apply to this event.
                    None => continue,
                    Some(Value::Number(n)) => n.to_string(),
                    Some(Value::Bool(b)) => b.to_string(),
                    // Null reads as empty text; an object or array has no
                    // text to split.
                    Some(_) => String::new(),
                },
            };
            if text.is_empty() || !dissector.apply(&text, event, &mut self.scratch) {
                self.fail(event);
            } else if let Err(reason) = self.common.apply(event) {
                // A set Logstash's event refuses raises in `filter_matched`,
                // inside the plugin's catch (JavaDissectorLibrary's
                // `dissect`), which tags the event and logs the error; the
                // mappings after it and the conversions do not run. (With
                // one mapping, ours were made as its fields were written.)
                host::log(Level::Error, &reason);
                self.fail(event);
                return Verdict::Keep;
            }
        }
        for (index, (field, datatype)) in self.conversions.iter().enumerate() {
            if !self.scratch.converted(index) {
                convert_field(event, field, *datatype);
            }
        }
        Verdict::Keep
    }
}

impl Dissect {
    fn fail(&self, event: &mut Event) {
        for tag in &self.tag_on_failure {
            event.add_tag(tag);
        }
        host::count("dissect_failures", 1);
    }
}

export_filter!(Dissect);

#[cfg(test)]
mod tests;
