//! `syslog`: splits a syslog line (RFC 3164, its /var/log variants, or RFC
//! 5424) into ECS fields.
//!
//! Writes `log.syslog.priority` with the decoded facility and severity (code
//! and name), `log.syslog.version`, `log.syslog.msgid`,
//! `log.syslog.structured_data`, the header's HOSTNAME, APP-NAME and PROCID
//! as written (`log.syslog.hostname`, `.appname`, `.procid`) and as
//! `host.hostname`, `process.name` and `process.pid` (a PROCID of digits
//! only), `message` (the MSG part) and `timestamp` (the header's timestamp
//! text, for the `date` filter to turn into `@timestamp`). Fields the line
//! does not carry are not written. The line is kept in `event.original`
//! unless that already exists or `keep_original` is false. A line that is
//! not syslog, or whose fields cannot be set because a field on their way
//! holds a string, number or list (as Logstash's event refuses, or sets
//! nothing), is left as it was and tagged with `tag_on_failure` (default `_syslogparsefailure`).

mod priority;
mod rfc3164;
mod rfc5424;
mod timestamp;

use serde::Deserialize;
use serde_json::Map;
use wasmstash_sdk::prelude::*;
use wasmstash_sdk::{field_ref, logstash::event_rules};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_source")]
    source: String,
    #[serde(
        default = "default_failure_tags",
        deserialize_with = "wasmstash_sdk::logstash::common::tags"
    )]
    tag_on_failure: Vec<String>,
    #[serde(default = "default_true")]
    keep_original: bool,
    #[serde(default)]
    facility_labels: Option<Vec<String>>,
    #[serde(default)]
    severity_labels: Option<Vec<String>>,
}

fn default_source() -> String {
    "message".into()
}

fn default_failure_tags() -> Vec<String> {
    vec!["_syslogparsefailure".into()]
}

fn default_true() -> bool {
    true
}

/// What a syslog line holds, borrowed from it. Both RFC parsers fill one.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Header<'a> {
    pub priority: Option<u8>,
    pub version: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub hostname: Option<&'a str>,
    pub app_name: Option<&'a str>,
    pub proc_id: Option<&'a str>,
    pub msg_id: Option<&'a str>,
    pub structured_data: Option<Map<String, Value>>,
    pub message: &'a str,
}

/// Parses one line: RFC 5424 when a version follows the PRI, else RFC 3164.
pub(crate) fn parse(line: &str) -> Result<Header<'_>, String> {
    let (priority, rest) = match priority::parse(line) {
        None => (None, line),
        Some(parsed) => {
            let (value, rest) = parsed?;
            (Some(value), rest)
        }
    };
    // VERSION is NONZERO-DIGIT 0*2DIGIT.
    let version_digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let is_5424 = priority.is_some()
        && (1..=3).contains(&version_digits)
        && !rest.starts_with('0')
        && rest.as_bytes().get(version_digits) == Some(&b' ');
    let mut header = if is_5424 {
        rfc5424::parse(rest)?
    } else {
        rfc3164::parse(rest)?
    };
    header.priority = priority;
    Ok(header)
}

pub struct Syslog {
    source: String,
    tag_on_failure: Vec<String>,
    keep_original: bool,
    facility_labels: Vec<String>,
    severity_labels: Vec<String>,
}

impl Filter for Syslog {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        field_ref::validate_option("source", &config.source)?;
        Ok(Syslog {
            source: config.source,
            tag_on_failure: config.tag_on_failure,
            keep_original: config.keep_original,
            facility_labels: priority::labels(
                "facility_labels",
                config.facility_labels,
                &priority::FACILITY_LABELS,
            )?,
            severity_labels: priority::labels(
                "severity_labels",
                config.severity_labels,
                &priority::SEVERITY_LABELS,
            )?,
        })
    }

    fn process(&mut self, event: &mut Event) -> Verdict {
        let Some(line) = event.get_str(&self.source) else {
            if event.contains(&self.source) {
                self.fail(event, "the source field is not a string", Level::Debug);
            }
            return Verdict::Keep;
        };
        // The line is borrowed from the event, which the writes below change.
        let line = line.to_owned();
        match parse(&line) {
            Ok(header) => self.write(event, &line, header),
            Err(reason) => self.fail(event, &reason, Level::Debug),
        }
        Verdict::Keep
    }
}

impl Syslog {
    /// Sets the fields `header` gives, or none of them when Logstash's
    /// event would refuse one (a string or number on its way) or set
    /// nothing (a list on its way): the event is then tagged instead, so a
    /// sender address a Logstash input put in `host` is never overwritten.
    fn write(&self, event: &mut Event, line: &str, header: Header) {
        let fields = self.fields(event, line, header);
        let blocked = fields
            .iter()
            .find(|(field, _)| event_rules::cannot_set(event, field));
        if let Some((field, _)) = blocked {
            let why = event_rules::why_cannot_set(event, field).unwrap_or_default();
            let reason = format!("cannot set `{field}`: {why}; the line's fields are not set");
            // Unlike a line that is no syslog, this is the event's shape
            // against the config (a Logstash input's `host` text, say), which
            // fails every such event: shown at the default log level.
            return self.fail(event, &reason, Level::Warn);
        }
        for (field, value) in fields {
            event.set(field, value);
        }
    }

    /// The fields to set, in the order they are set.
    fn fields(&self, event: &Event, line: &str, header: Header) -> Vec<(&'static str, Value)> {
        let mut fields: Vec<(&'static str, Value)> = Vec::with_capacity(16);
        if self.keep_original && !event.contains("[event][original]") {
            fields.push(("[event][original]", line.into()));
        }
        if let Some(pri) = header.priority {
            let (facility, severity) = (usize::from(pri / 8), usize::from(pri % 8));
            fields.extend([
                ("[log][syslog][priority]", pri.into()),
                (
                    "[log][syslog][facility]",
                    json!({"code": facility, "name": self.facility_labels[facility]}),
                ),
                (
                    "[log][syslog][severity]",
                    json!({"code": severity, "name": self.severity_labels[severity]}),
                ),
            ]);
        }
        let pid = header.proc_id.and_then(numeric_pid);
        let texts = [
            ("[log][syslog][version]", header.version),
            ("[log][syslog][msgid]", header.msg_id),
            ("[log][syslog][hostname]", header.hostname),
            ("[log][syslog][appname]", header.app_name),
            ("[log][syslog][procid]", header.proc_id),
            ("[host][hostname]", header.hostname),
            ("[process][name]", header.app_name),
        ];
        for (field, text) in texts {
            fields.extend(text.map(|text| (field, text.into())));
        }
        fields.extend(pid.map(|pid| ("[process][pid]", pid.into())));
        if let Some(structured_data) = header.structured_data {
            fields.push(("[log][syslog][structured_data]", structured_data.into()));
        }
        fields.extend(header.timestamp.map(|text| ("timestamp", text.into())));
        fields.push(("message", header.message.into()));
        fields
    }

    fn fail(&self, event: &mut Event, reason: &str, level: Level) {
        host::log(level, reason);
        host::count("syslog_parse_failures", 1);
        event.add_tags(&self.tag_on_failure);
    }
}

/// A PROCID of digits only, as a number (`process.pid`); `-5` or
/// `worker-7` stay text in `log.syslog.procid` alone.
fn numeric_pid(proc_id: &str) -> Option<i64> {
    proc_id
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| proc_id.parse().ok())
        .flatten()
}

export_filter!(Syslog);

/// How many ASCII digits open `bytes`.
fn count_digits(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_digit()).count()
}

/// The number `digits` (all ASCII digits, as both syslog formats write
/// their date and time fields) spell, or `None` if one is not a digit.
fn decimal(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0, |value, &digit| {
        digit
            .is_ascii_digit()
            .then(|| value * 10 + u32::from(digit - b'0'))
    })
}

#[cfg(test)]
mod tests;
