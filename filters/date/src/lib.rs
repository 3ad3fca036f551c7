//! `date`: reads a timestamp out of a field and writes it to `@timestamp`,
//! with the options and format syntax of Logstash's date filter.
//!
//! `match = [field, format, ...]` tries each format in order; the first that
//! reads the whole value wins. Formats are Joda-Time patterns
//! (`dd/MMM/yyyy:HH:mm:ss Z`) or `ISO8601`, `UNIX`, `UNIX_MS`, `TAI64N`.
//! Text without its own offset is read in `timezone` (default UTC; a
//! `%{field}` reference picks a zone per event). The result is written to
//! `target` (default `@timestamp`) as ISO 8601 UTC with milliseconds, as
//! Logstash writes it. A value no format reads leaves the event as it was and
//! adds `tag_on_failure` (default `_dateparsefailure`); an event without the
//! field is left alone, as in Logstash. As there, a number is read only by
//! `UNIX` and `UNIX_MS` and a list by none; the common options (`add_field`,
//! `add_tag`, ...) apply when the date was read.

mod bucket;
mod format;
mod iso8601;
mod names;
mod pattern;
mod special;
mod zone;

use chrono::Datelike;
use serde::Deserialize;
use wasmstash_sdk::field_ref::{self, FieldRef};
use wasmstash_sdk::logstash::common::{self, CommonOptions, WithCommon};
use wasmstash_sdk::logstash::event_rules;
use wasmstash_sdk::prelude::*;
use wasmstash_sdk::template::{self, Template};
use wasmstash_sdk::timestamp::Timestamp;

use format::{Context, Format};
use names::Names;
use zone::Zone;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The field, then one or more formats.
    #[serde(rename = "match")]
    matches: Vec<String>,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    locale: Option<String>,
    #[serde(default = "default_target")]
    target: String,
    #[serde(default = "default_failure_tags", deserialize_with = "common::tags")]
    tag_on_failure: Vec<String>,
}

/// date's own options and the common ones (`add_field`, `add_tag`, ...).
pub type Config = WithCommon<Options>;

fn default_target() -> String {
    "@timestamp".into()
}

fn default_failure_tags() -> Vec<String> {
    vec!["_dateparsefailure".into()]
}

/// The zone for text without an offset: fixed at init, or read from the
/// event through a `%{field}` reference.
enum ZoneSetting {
    Fixed(Zone),
    PerEvent(Template),
}

pub struct Date {
    source: FieldRef,
    formats: Vec<(String, Format)>,
    needs_clock: bool,
    zone: ZoneSetting,
    names: Names,
    init_year: i32,
    target: FieldRef,
    tag_on_failure: Vec<String>,
    common: CommonOptions,
}

impl Filter for Date {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        let WithCommon {
            options: config,
            common,
        } = config;
        let Some((source, formats)) = config.matches.split_first().filter(|(_, f)| !f.is_empty())
        else {
            return Err(
                r#"`match` needs a field and at least one format, like ["timestamp", "dd/MMM/yyyy:HH:mm:ss Z"]"#
                    .into(),
            );
        };
        field_ref::validate_option("match", source)?;
        field_ref::validate_option("target", &config.target)?;
        let formats = formats
            .iter()
            .map(|text| {
                Format::compile(text)
                    .map(|format| (text.clone(), format))
                    .map_err(|e| format!("match format `{text}`: {e}"))
            })
            .collect::<Result<Vec<_>, String>>()?;
        let zone = match config.timezone {
            None => ZoneSetting::Fixed(Zone::UTC),
            Some(name) if template::has_references(&name) => {
                ZoneSetting::PerEvent(Template::checked("timezone", name)?)
            }
            Some(name) => match Zone::parse(&name) {
                Ok(zone) => ZoneSetting::Fixed(zone),
                // Logstash looks the zone up for the text formats only.
                Err(_) if formats.iter().all(|(_, f)| f.is_epoch()) => {
                    ZoneSetting::Fixed(Zone::UTC)
                }
                Err(e) => return Err(format!("timezone: {e}")),
            },
        };
        // Logstash takes any locale tag; only names need a table of ours.
        let names = match names::for_locale(config.locale.as_deref()) {
            Err(_) if !formats.iter().any(|(_, f)| f.reads_names()) => names::for_locale(None)?,
            found => found?,
        };
        let init_year = start_year(host::now_unix_nanos() / 1_000_000);
        Ok(Date {
            source: FieldRef::new(source),
            needs_clock: formats.iter().any(|(_, f)| f.needs_clock()),
            formats,
            zone,
            names,
            init_year,
            target: FieldRef::new(&config.target),
            tag_on_failure: config.tag_on_failure,
            common,
        })
    }

    fn process(&mut self, event: &mut Event) -> Verdict {
        let now_millis = if self.needs_clock {
            host::now_unix_nanos() / 1_000_000
        } else {
            0
        };
        self.process_at(event, now_millis)
    }
}

impl Date {
    /// The filter as if it had started at `now_millis` (the year a date
    /// without a year is read in), so tests can fix the start as
    /// [`Date::process_at`] fixes "now".
    pub fn started_at(mut self, now_millis: i64) -> Date {
        self.init_year = start_year(now_millis);
        self
    }

    /// [`Filter::process`] with the clock read by the caller, so tests can
    /// fix "now".
    pub fn process_at(&self, event: &mut Event, now_millis: i64) -> Verdict {
        let parsed = match event.get_str(&self.source) {
            Some(text) => self.parse(Input::Text(text), event, now_millis),
            None => match event.get(&self.source) {
                None | Some(Value::Null) => return Verdict::Keep,
                Some(Value::Number(number)) => self.parse(Input::Number(number), event, now_millis),
                Some(_) => Err(format!("{} is not a string or number", self.source)),
            },
        };
        match parsed {
            Ok(timestamp) => {
                // Logstash sets the timestamp, and then runs
                // `filter_matched`, outside any rescue (DateFilter.java's
                // `executeParsers` catches only parse errors, date.rb's
                // `success_block` nothing): a set its event refuses in
                // either stops Logstash's worker. The event fails instead,
                // and the host passes it on as it came, with the reason.
                if let Some(why) = event_rules::timestamp_refusal(event, &self.target) {
                    let refused = event_rules::refused_set(self.target.as_str(), why);
                    return Verdict::Error(format!("target: {refused} (to a timestamp)"));
                }
                event.set(&self.target, timestamp);
                match self.common.apply(event) {
                    Ok(()) => Verdict::Keep,
                    Err(reason) => Verdict::Error(reason),
                }
            }
            Err(reason) => {
                // Logstash's words, with the field: a pipeline may date
                // several fields, and the reason alone names no field.
                host::log(
                    Level::Debug,
                    &format!("Failed parsing date from field `{}`: {reason}", self.source),
                );
                host::count("date_parse_failures", 1);
                event.add_tags(&self.tag_on_failure);
                Verdict::Keep
            }
        }
    }

    /// Tries each format in turn and gives the first result as `@timestamp`
    /// text; the error names the last format's problem.
    fn parse(&self, input: Input<'_>, event: &Event, now_millis: i64) -> Result<String, String> {
        let zone = match &self.zone {
            ZoneSetting::Fixed(zone) => Ok(*zone),
            ZoneSetting::PerEvent(template) => Zone::parse(&template.render(event)),
        };
        let context = Context {
            names: &self.names,
            zone,
            now_millis,
            init_year: self.init_year,
        };
        let mut last_error = String::new();
        for (name, format) in &self.formats {
            let millis = match input {
                Input::Text(text) => format.parse(text, &context),
                // Logstash takes a float's whole milliseconds, as a long.
                Input::Number(number) if matches!(format, Format::UnixMs) && number.is_f64() => {
                    Ok(special::unix_ms_float(number.as_f64().unwrap_or(f64::NAN)))
                }
                // Logstash: a float's seconds times 1000, cut toward zero.
                Input::Number(number) if matches!(format, Format::Unix) && number.is_f64() => {
                    special::unix_float(number.as_f64().unwrap_or(f64::NAN))
                }
                Input::Number(number) if format.reads_numbers() => {
                    format.parse(&number.to_string(), &context)
                }
                Input::Number(_) => Err("a number is read only by UNIX and UNIX_MS".to_owned()),
            };
            match millis {
                Ok(millis) => return Ok(format_timestamp(millis)),
                Err(e) => last_error = format!("{name}: {e}"),
            }
        }
        Err(last_error)
    }
}

/// The clock's year at `now_millis` (see [`format::clock_reading`]): a
/// pipeline's start year, which Logstash reads dates without a year in.
fn start_year(now_millis: i64) -> i32 {
    format::clock_reading(now_millis).map_or(2000, |now| now.year())
}

/// The value a date is read from.
#[derive(Clone, Copy)]
enum Input<'a> {
    Text(&'a str),
    Number(&'a serde_json::Number),
}

/// `2015-05-17T10:05:03.000Z`: UTC with milliseconds, as Logstash 8 writes
/// `@timestamp` (java.time's `ISO_INSTANT`), years outside 0000-9999
/// included: `+12345-01-01T00:00:00.000Z`, `-0001-06-01T00:00:00.000Z`.
/// Logstash's date filter sets any instant it reads (its `TimestampSetter`
/// checks no range), and Logstash reads such text back (see the README).
pub fn format_timestamp(millis: i64) -> String {
    let nanos = (millis.rem_euclid(1000) * 1_000_000) as u32;
    Timestamp::new(millis.div_euclid(1000), nanos).text()
}

export_filter!(Date);

#[cfg(test)]
mod tests;
