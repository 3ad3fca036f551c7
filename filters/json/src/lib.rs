//! `json`: parses a JSON string held in one field into event fields, like
//! Logstash's json filter.
//!
//! Options: `source` (required), `target` (default: the event root),
//! `tag_on_failure` (default `["_jsonparsefailure"]`),
//! `skip_on_invalid_json` (default false: text that is not JSON is tagged)
//! and the common options, applied when the document was set. Parsing into
//! the root needs a JSON object, and a document that is valid JSON but no
//! object is tagged even with `skip_on_invalid_json`, as in Logstash. Its
//! keys overwrite the event's; a key written as a field reference
//! (`[http][method]`) sets that nested field, as Logstash's `event.set`
//! does. The document's `@timestamp` is read as a time (`timestamp.rs`).
//! `ecs_compatibility` is accepted and changes nothing, as in Logstash.

mod timestamp;
mod transcode;

use serde::Deserialize;
use wasmstash_sdk::common::{self, CommonOptions, EcsCompatibility, WithCommon};
use wasmstash_sdk::prelude::*;
use wasmstash_sdk::{field_ref, json_text};

use transcode::{Member, Transcoder};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    source: String,
    #[serde(default)]
    target: Option<String>,
    #[serde(default = "default_failure_tags", deserialize_with = "common::tags")]
    tag_on_failure: Vec<String>,
    #[serde(default)]
    skip_on_invalid_json: bool,
    /// Accepted, as Logstash's json accepts it, and without effect: there it
    /// only decides whether a missing `target` is warned about.
    #[serde(default)]
    #[allow(dead_code)]
    ecs_compatibility: Option<EcsCompatibility>,
}

fn default_failure_tags() -> Vec<String> {
    vec!["_jsonparsefailure".into()]
}

/// json's own options and the common ones (`add_field`, `add_tag`, ...).
pub type Config = WithCommon<Options>;

pub struct Json {
    config: Options,
    common: CommonOptions,
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
        let WithCommon {
            options: config,
            common,
        } = config;
        field_ref::validate_option("source", &config.source)?;
        if let Some(target) = &config.target {
            field_ref::validate_option("target", target)?;
        }
        let target = config
            .target
            .as_deref()
            .map(|t| field_ref::segments(t).map(str::to_owned).collect());
        Ok(Json {
            config,
            common,
            target,
            text: String::new(),
            transcoder: Transcoder::default(),
            written: Vec::new(),
            members: Vec::new(),
        })
    }

    fn process(&mut self, event: &mut Event) -> Verdict {
        if !event.read_str_into(&self.config.source, &mut self.text) {
            // Logstash skips a source that Ruby counts as false (missing,
            // null, false); its JSON reader refuses anything else that is
            // not text (an object, a number), which fails as bad JSON does.
            let skipped = matches!(
                event.get(&self.config.source),
                None | Some(Value::Null | Value::Bool(false))
            );
            if !skipped && !self.config.skip_on_invalid_json {
                self.fail(event);
            }
            return Verdict::Keep;
        }
        let set = self.transcoded(event) || self.through_value(event);
        if set {
            self.common.apply(event);
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
                // A key that may be a field reference is set by path, and
                // `@timestamp` is read as a time, both on the general path.
                if (self.members.iter()).any(|m| {
                    written.get(m.key.start) == Some(&b'[')
                        || &written[m.key.clone()] == b"@timestamp"
                }) {
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

    /// The general path: parse into a `Value`, then set it. Whether the
    /// document was set; if not, the event is tagged as Logstash tags it.
    fn through_value(&mut self, event: &mut Event) -> bool {
        let parsed = match serde_json::from_str::<Value>(&self.text) {
            // A number past a double's range fails the document.
            Ok(parsed) if json_text::numbers_in_range(&parsed) => parsed,
            // Logstash's JSON reader (JrJackson) reads empty or blank text as
            // nil instead of refusing it: a `target` is set to null, and the
            // root, which takes objects only, is tagged even when
            // `skip_on_invalid_json` is set.
            Err(_) if self.text.bytes().all(json_text::is_whitespace) => Value::Null,
            _ => {
                if !self.config.skip_on_invalid_json {
                    self.fail(event);
                }
                return false;
            }
        };
        match (parsed, &self.config.target) {
            (parsed, Some(target)) => event.set(target, parsed),
            (Value::Object(mut fields), None) => {
                let time = fields.shift_remove("@timestamp");
                for (key, value) in fields {
                    if key.starts_with('[') && field_ref::validate(&key).is_ok() {
                        event.set(&key, value);
                    } else {
                        event.insert(&key, value);
                    }
                }
                match time {
                    None | Some(Value::Null) => {}
                    Some(time) => set_timestamp(event, time),
                }
            }
            // Valid JSON, but nothing to spread over the event's root.
            (_, None) => {
                self.fail(event);
                return false;
            }
        }
        true
    }

    fn fail(&self, event: &mut Event) {
        for tag in &self.config.tag_on_failure {
            event.add_tag(tag);
        }
    }
}

/// The document's `@timestamp` (see `timestamp.rs`).
fn set_timestamp(event: &mut Event, time: Value) {
    if let Some(text) = time.as_str().and_then(timestamp::parse) {
        event.insert("@timestamp", text);
        return;
    }
    event.insert("@timestamp", timestamp::now());
    event.add_tag(timestamp::FAILURE_TAG);
    let original = match time {
        Value::String(text) => text,
        other => other.to_string(),
    };
    event.insert(timestamp::FAILURE_FIELD, original);
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
    fn empty_or_blank_text_is_a_null_document_as_jrjackson_reads_it() {
        for text in ["", " \\t\\r\\n "] {
            let input = format!(r#"{{"message":"{text}"}}"#);
            assert_eq!(
                run(
                    json!({"source": "message", "target": "doc", "add_tag": ["parsed"]}),
                    &input
                ),
                format!(r#"{{"message":"{text}","doc":null,"tags":["parsed"]}}"#)
            );
            // The root takes objects only, and this is no parse error that
            // `skip_on_invalid_json` would hide.
            assert_eq!(
                run(
                    json!({"source": "message", "skip_on_invalid_json": true}),
                    &input
                ),
                format!(r#"{{"message":"{text}","tags":["_jsonparsefailure"]}}"#)
            );
        }
        // A form feed is no JSON whitespace: invalid, so skipped quietly.
        assert_eq!(
            run(
                json!({"source": "message", "target": "doc", "skip_on_invalid_json": true}),
                r#"{"message":"\\f"}"#
            ),
            r#"{"message":"\\f"}"#
        );
    }

    #[test]
    fn numbers_keep_their_text_unless_past_a_doubles_range() {
        assert_eq!(
            run(
                json!({"source": "message", "target": "d"}),
                r#"{"message":"{\"p\":1.50,\"big\":123456789012345678901234567890}"}"#
            ),
            r#"{"message":"{\"p\":1.50,\"big\":123456789012345678901234567890}","d":{"p":1.50,"big":123456789012345678901234567890}}"#
        );
        for document in [r#"{\"a\":1e400}"#, r#"{\"a\":[-1e309]}"#] {
            let input = format!(r#"{{"message":"{document}"}}"#);
            assert_eq!(
                run(json!({"source": "message"}), &input),
                format!(r#"{{"message":"{document}","tags":["_jsonparsefailure"]}}"#)
            );
        }
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
        // Valid JSON that is no object is tagged even when invalid JSON is
        // skipped: Logstash's flag guards only the parse.
        assert_eq!(
            run(
                json!({"source": "message", "skip_on_invalid_json": true, "tag_on_failure": "y"}),
                r#"{"message":"[1,2]"}"#
            ),
            r#"{"message":"[1,2]","tags":["y"]}"#
        );
    }

    #[test]
    fn keys_written_as_field_references_set_nested_fields() {
        assert_eq!(
            run(
                json!({"source": "message"}),
                r#"{"message":"{\"[x][y]\":1,\"[bad\":2,\"z\":3}"}"#
            ),
            r#"{"message":"{\"[x][y]\":1,\"[bad\":2,\"z\":3}","x":{"y":1},"[bad":2,"z":3}"#
        );
    }

    #[test]
    fn the_common_options_apply_only_when_the_document_was_set() {
        let config = json!({"source": "message", "add_field": {"from": "%{[doc][a]}"},
                            "add_tag": ["parsed"], "target": "doc"});
        assert_eq!(
            run(config.clone(), r#"{"message":"{\"a\":1}"}"#),
            r#"{"message":"{\"a\":1}","doc":{"a":1},"from":"1","tags":["parsed"]}"#
        );
        assert_eq!(
            run(config, r#"{"message":"nope"}"#),
            r#"{"message":"nope","tags":["_jsonparsefailure"]}"#
        );
    }

    #[test]
    fn a_documents_timestamp_is_read_as_a_time_at_the_root() {
        let config = json!({"source": "m", "add_tag": ["parsed"]});
        // A time in another zone is written in UTC, in place of the old one.
        assert_eq!(
            run(
                config.clone(),
                r#"{"@timestamp":"2000-01-01T00:00:00.000Z","m":"{\"@timestamp\":\"2022-03-04T05:06:07.8+01:00\",\"k\":1}"}"#
            ),
            r#"{"@timestamp":"2022-03-04T04:06:07.800Z","m":"{\"@timestamp\":\"2022-03-04T05:06:07.8+01:00\",\"k\":1}","k":1,"tags":["parsed"]}"#
        );
        // No time: the current time, a tag, the value kept; still a success.
        for (time, kept) in [(r#"\"soon\""#, "soon"), ("42", "42")] {
            let input = format!(r#"{{"m":"{{\"@timestamp\":{time},\"k\":2}}"}}"#);
            let out: Value = serde_json::from_str(&run(config.clone(), &input)).unwrap();
            let now = out["@timestamp"].as_str().unwrap();
            assert!(timestamp::parse(now).as_deref() == Some(now), "{out}");
            assert_eq!(out["k"], 2, "{out}");
            assert_eq!(out["_@timestamp"], kept, "{out}");
            assert_eq!(
                out["tags"],
                json!(["_timestampparsefailure", "parsed"]),
                "{out}"
            );
        }
        // A null changes nothing; under a target it is only a field.
        assert_eq!(
            run(config, r#"{"m":"{\"@timestamp\":null}"}"#),
            r#"{"m":"{\"@timestamp\":null}","tags":["parsed"]}"#
        );
        assert_eq!(
            run(
                json!({"source": "m", "target": "t"}),
                r#"{"m":"{\"@timestamp\":\"soon\"}"}"#
            ),
            r#"{"m":"{\"@timestamp\":\"soon\"}","t":{"@timestamp":"soon"}}"#
        );
    }

    #[test]
    fn ecs_compatibility_is_accepted_as_logstash_accepts_it() {
        for mode in ["disabled", "v1", "v8"] {
            let config = json!({"source": "m", "ecs_compatibility": mode});
            assert_eq!(
                run(config, r#"{"m":"{\"a\":1}"}"#),
                r#"{"m":"{\"a\":1}","a":1}"#
            );
        }
        let err = NativeFilter::<Json>::new(br#"{"source":"m","ecs_compatibility":"v2"}"#)
            .err()
            .unwrap();
        assert!(err.contains("unknown variant `v2`"), "{err}");
    }

    #[test]
    fn a_missing_source_leaves_the_event_alone() {
        assert_eq!(run(json!({"source": "nope"}), r#"{"a":1}"#), r#"{"a":1}"#);
        // So do a null and false, which Ruby's `unless source` skips too.
        for skipped in [r#"{"m":null}"#, r#"{"m":false}"#] {
            assert_eq!(run(json!({"source": "m"}), skipped), skipped);
        }
    }

    /// Logstash's JSON reader takes text only: an object, a list, a number
    /// or `true` fails as bad JSON does, and is skipped with it.
    #[test]
    fn a_source_that_is_not_text_is_tagged() {
        for value in [r#"{"a":1}"#, "[1]", "5", "true"] {
            let input = format!(r#"{{"m":{value}}}"#);
            let tagged = format!(r#"{{"m":{value},"tags":["_jsonparsefailure"]}}"#);
            assert_eq!(run(json!({"source": "m", "target": "t"}), &input), tagged);
            let skipping = json!({"source": "m", "skip_on_invalid_json": true});
            assert_eq!(run(skipping, &input), input);
        }
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
