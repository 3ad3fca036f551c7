//! `syslog`: splits a syslog line (RFC 3164, its /var/log variants, or RFC
//! 5424) into ECS fields.
//!
//! Writes `log.syslog.priority` with the decoded facility and severity (code
//! and name), `log.syslog.version`, `log.syslog.msgid`,
//! `log.syslog.structured_data`, `host.hostname`, `process.name`,
//! `process.pid` (a numeric PROCID; any other PROCID goes to
//! `log.syslog.procid`), `message` (the MSG part) and `timestamp` (the
//! header's timestamp text, for the `date` filter to turn into
//! `@timestamp`). Fields the line does not carry are not written. The line
//! is kept in `event.original` unless that already exists or
//! `keep_original` is false. A line that is not syslog is left as it was
//! and tagged with `tag_on_failure` (default `_syslogparsefailure`).

mod priority;
mod rfc3164;
mod rfc5424;

use serde::Deserialize;
use serde_json::Map;
use wasmstash_sdk::field_ref;
use wasmstash_sdk::prelude::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_source")]
    source: String,
    #[serde(
        default = "default_failure_tags",
        deserialize_with = "wasmstash_sdk::common::tags"
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
pub struct Header<'a> {
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
pub fn parse(line: &str) -> Result<Header<'_>, String> {
    let (priority, rest) = match priority::parse(line) {
        None => (None, line),
        Some(parsed) => {
            let (value, rest) = parsed?;
            (Some(value), rest)
        }
    };
    let version_digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let is_5424 = priority.is_some()
        && (1..=2).contains(&version_digits)
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
        field_ref::validate(&config.source).map_err(|e| format!("source: {e}"))?;
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
                self.fail(event, "the source field is not a string");
            }
            return Verdict::Keep;
        };
        // The line is borrowed from the event, which the writes below change.
        let line = line.to_owned();
        match parse(&line) {
            Ok(header) => self.write(event, &line, header),
            Err(reason) => self.fail(event, &reason),
        }
        Verdict::Keep
    }
}

impl Syslog {
    fn write(&self, event: &mut Event, line: &str, header: Header) {
        if self.keep_original && !event.contains("[event][original]") {
            event.set("[event][original]", line);
        }
        if let Some(pri) = header.priority {
            let (facility, severity) = (usize::from(pri / 8), usize::from(pri % 8));
            event.set("[log][syslog][priority]", pri);
            event.set(
                "[log][syslog][facility]",
                json!({"code": facility, "name": self.facility_labels[facility]}),
            );
            event.set(
                "[log][syslog][severity]",
                json!({"code": severity, "name": self.severity_labels[severity]}),
            );
        }
        if let Some(version) = header.version {
            event.set("[log][syslog][version]", version);
        }
        if let Some(msg_id) = header.msg_id {
            event.set("[log][syslog][msgid]", msg_id);
        }
        if let Some(structured_data) = header.structured_data {
            event.set("[log][syslog][structured_data]", structured_data);
        }
        if let Some(hostname) = header.hostname {
            event.set("[host][hostname]", hostname);
        }
        if let Some(name) = header.app_name {
            event.set("[process][name]", name);
        }
        if let Some(proc_id) = header.proc_id {
            match proc_id.parse::<i64>() {
                Ok(pid) => event.set("[process][pid]", pid),
                Err(_) => event.set("[log][syslog][procid]", proc_id),
            }
        }
        if let Some(timestamp) = header.timestamp {
            event.set("timestamp", timestamp);
        }
        event.set("message", header.message);
    }

    fn fail(&self, event: &mut Event, reason: &str) {
        host::log(Level::Debug, reason);
        host::count("syslog_parse_failures", 1);
        for tag in &self.tag_on_failure {
            event.add_tag(tag);
        }
    }
}

export_filter!(Syslog);

#[cfg(test)]
mod tests;
