//! `json`: parses a JSON string held in one field into event fields, like
//! Logstash's json filter.
//!
//! Options: `source` (required), `target` (default: the event root),
//! `tag_on_failure` (default `["_jsonparsefailure"]`) and
//! `skip_on_invalid_json` (default false: invalid input is tagged). Parsing
//! into the root needs a JSON object; its keys overwrite the event's.

mod transcode;

use serde::Deserialize;
use wasmstash_sdk::prelude::*;
use wasmstash_sdk::{field_ref, json_text};

use transcode::{Member, Transcoder};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    source: String,
    #[serde(default)]
    target: Option<String>,
    #[serde(default = "default_failure_tags")]
    tag_on_failure: Vec<String>,
    #[serde(default)]
    skip_on_invalid_json: bool,
}

fn default_failure_tags() -> Vec<String> {
    vec!["_jsonparsefailure".into()]
}

pub struct Json {
    config: Config,
    /// `target`'s segments.
    target: Option<Vec<String>>,
    /// The source text of the current event, decoded straight from the
    /// event's bytes into a buffer kept across events.
    text: String,
    transcoder: Transcoder,
    /// The document, rewritten compactly, and its top-level members.
    written: Vec<u8>,
    members: Vec<Member>,
}

impl Filter for Json {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        field_ref::validate(&config.source).map_err(|e| format!("source: {e}"))?;
        if let Some(target) = &config.target {
            field_ref::validate(target).map_err(|e| format!("target: {e}"))?;
        }
        let target = config
            .target
            .as_deref()
            .map(|t| field_ref::segments(t).map(str::to_owned).collect());
        Ok(Json {
            config,
            target,
            text: String::new(),
            transcoder: Transcoder::default(),
            written: Vec::new(),
            members: Vec::new(),
        })
    }

    fn process(&mut self, event: &mut Event) -> Verdict {
        if !event.read_str_into(&self.config.source, &mut self.text) {
            return Verdict::Keep;
        }
        if !self.transcoded(event) {
            self.through_value(event);
        }
        Verdict::Keep
    }
}

impl Json {
    /// Adds the document's JSON text to the event as it is rewritten, with
    /// no `Value` built; false, with the event untouched, when the document
    /// or the event needs [`Json::through_value`].
    fn transcoded(&mut self, event: &mut Event) -> bool {
        let written = &mut self.written;
        match &self.target {
            Some(segments) => {
                let Some((top, inner)) = segments.split_first() else {
                    return false;
                };
                // Setting below an existing field merges into it.
                if (!inner.is_empty() && event.keys().any(|k| k == top))
                    || self.transcoder.value(&self.text, written).is_err()
                {
                    return false;
                }
                event.insert_json_with(top, |json| {
                    for segment in inner {
                        json.push(b'{');
                        json_text::write_str(json, segment);
                        json.push(b':');
                    }
                    json.extend_from_slice(written);
                    json.extend(inner.iter().map(|_| b'}'));
                });
            }
            None => {
                if self
                    .transcoder
                    .members(&self.text, written, &mut self.members)
                    .is_err()
                {
                    return false;
                }
                for member in &self.members {
                    // Keys are checked UTF-8 text within the written bytes.
                    let key = std::str::from_utf8(&written[member.key.clone()])
                        .expect("written keys are UTF-8");
                    event.insert_json_with(key, |json| {
                        json.extend_from_slice(&written[member.value.clone()])
                    });
                }
            }
        }
        true
    }

    /// The general path: parse into a `Value`, then set it.
    fn through_value(&mut self, event: &mut Event) {
        match (
            serde_json::from_str::<Value>(&self.text),
            &self.config.target,
        ) {
            (Ok(parsed), Some(target)) => event.set(target, parsed),
            (Ok(Value::Object(fields)), None) => {
                for (key, value) in fields {
                    event.insert(&key, value);
                }
            }
            (Ok(_), None) | (Err(_), _) => self.fail(event),
        }
    }

    fn fail(&self, event: &mut Event) {
        if !self.config.skip_on_invalid_json {
            for tag in &self.config.tag_on_failure {
                event.add_tag(tag);
            }
        }
    }
}

export_filter!(Json);

#[cfg(test)]
mod differential;

#[cfg(test)]
mod tests {
    use super::*;
    use wasmstash_sdk::NativeFilter;

    fn run(config: Value, input: &str) -> String {
        let mut filter = Json::new(serde_json::from_value(config).unwrap()).unwrap();
        let mut event = Event::parse(input.as_bytes()).unwrap();
        assert_eq!(filter.process(&mut event), Verdict::Keep);
        event.to_json()
    }

    #[test]
    fn parses_into_the_root_and_into_a_target() {
        let input = r#"{"message":"{\"level\":\"warn\",\"n\":{\"a\":1}}"}"#;
        assert_eq!(
            run(json!({"source": "message"}), input),
            r#"{"message":"{\"level\":\"warn\",\"n\":{\"a\":1}}","level":"warn","n":{"a":1}}"#
        );
        assert_eq!(
            run(json!({"source": "message", "target": "[app][doc]"}), input),
            r#"{"message":"{\"level\":\"warn\",\"n\":{\"a\":1}}","app":{"doc":{"level":"warn","n":{"a":1}}}}"#
        );
    }

    #[test]
    fn invalid_json_is_tagged_unless_skipped() {
        let input = r#"{"message":"{not json"}"#;
        assert_eq!(
            run(json!({"source": "message"}), input),
            r#"{"message":"{not json","tags":["_jsonparsefailure"]}"#
        );
        assert_eq!(
            run(
                json!({"source": "message", "skip_on_invalid_json": true}),
                input
            ),
            input
        );
        assert_eq!(
            run(
                json!({"source": "message", "tag_on_failure": ["x"]}),
                r#"{"message":"[1]"}"#
            ),
            r#"{"message":"[1]","tags":["x"]}"#
        );
    }

    #[test]
    fn a_missing_source_leaves_the_event_alone() {
        assert_eq!(run(json!({"source": "nope"}), r#"{"a":1}"#), r#"{"a":1}"#);
    }

    #[test]
    fn bad_config_is_explained() {
        let err = NativeFilter::<Json>::new(br#"{"sorce":"message"}"#)
            .err()
            .unwrap();
        assert!(err.contains("unknown field `sorce`"), "{err}");
        let err = NativeFilter::<Json>::new(br#"{"source":"[a][b"}"#)
            .err()
            .unwrap();
        assert!(err.contains("malformed field reference"), "{err}");
    }
}
