//! `templates`: online log template mining. Every event gets the template of
//! its message under `[wasmstash][template]`: `id`, `text`, `params`, `new`
//! (see `docs/FIELDS.md` and this crate's README).
//!
//! The mining itself lives in [`miner`], plain Rust usable natively; this
//! file is the filter around it: options, the event fields, and the state
//! the host snapshots and restores so templates and ids survive restarts.

pub mod miner;

use miner::{Config as MinerConfig, Masks, Miner};
use serde::Deserialize;
use serde_json::Map;
use wasmstash_sdk::prelude::*;
use wasmstash_sdk::{field_ref, logstash::event_rules};

/// Where the results go (the contract in `docs/FIELDS.md`).
const TARGET: &str = "[wasmstash][template]";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The field holding the message content (after any header parsing),
    /// or a list of them, tried in order: the first that holds a string is
    /// mined.
    #[serde(
        default = "default_source",
        deserialize_with = "wasmstash_sdk::logstash::common::fields"
    )]
    source: Vec<String>,
    #[serde(default)]
    similarity_threshold: Option<f64>,
    #[serde(default)]
    depth: Option<usize>,
    #[serde(default)]
    max_children: Option<usize>,
    #[serde(default)]
    max_templates: Option<usize>,
    #[serde(default)]
    max_tokens: Option<usize>,
    #[serde(default)]
    max_token_bytes: Option<usize>,
    #[serde(default)]
    max_state_mib: Option<usize>,
    /// Mask names (`ip`, `path`, `url`, `email`, `hex`, `uuid`, `number`,
    /// `time`, `digits`); all of them when absent.
    #[serde(default)]
    masks: Option<Vec<String>>,
    #[serde(default)]
    collapse_wildcards: Option<bool>,
}

fn default_source() -> Vec<String> {
    vec!["message".into()]
}

/// Most fields `source` may list: a fallback chain, not a search.
const MAX_SOURCES: usize = 16;

impl Config {
    fn miner_config(&self) -> Result<MinerConfig, String> {
        let defaults = MinerConfig::default();
        Ok(MinerConfig {
            similarity_threshold: self
                .similarity_threshold
                .unwrap_or(defaults.similarity_threshold),
            depth: self.depth.unwrap_or(defaults.depth),
            max_children: self.max_children.unwrap_or(defaults.max_children),
            max_templates: self.max_templates.unwrap_or(defaults.max_templates),
            max_tokens: self.max_tokens.unwrap_or(defaults.max_tokens),
            max_token_bytes: self.max_token_bytes.unwrap_or(defaults.max_token_bytes),
            max_state_mib: self.max_state_mib.unwrap_or(defaults.max_state_mib),
            masks: match &self.masks {
                Some(names) => Masks::from_names(names)?,
                None => defaults.masks,
            },
            collapse_wildcards: self
                .collapse_wildcards
                .unwrap_or(defaults.collapse_wildcards),
        })
    }
}

pub struct Templates {
    source: Vec<String>,
    miner: Miner,
    line: String,
}

impl Filter for Templates {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        if config.source.is_empty() || config.source.len() > MAX_SOURCES {
            return Err(format!(
                "source lists {} fields: give 1 to {MAX_SOURCES}",
                config.source.len()
            ));
        }
        for field in &config.source {
            field_ref::validate_option("source", field)?;
        }
        Ok(Templates {
            miner: Miner::new(config.miner_config()?)?,
            source: config.source,
            line: String::new(),
        })
    }

    /// An event without a string at any `source` passes unchanged: there is
    /// nothing to mine, and that is not a failure of the event. One whose
    /// `wasmstash` is a string, number, boolean or list cannot take the
    /// fields (Logstash's event refuses a set through a scalar, and a set
    /// through a list changes nothing): it fails, unmined, so the host
    /// tags it and keeps that value in `wasmstash.displaced`
    /// (docs/FIELDS.md), rather than the fields being lost or the value
    /// overwritten.
    fn process(&mut self, event: &mut Event) -> Verdict {
        let Some(text) = (self.source.iter()).find_map(|field| event.get_str(field)) else {
            return Verdict::Keep;
        };
        if let Some(why) = event_rules::why_cannot_set(event, TARGET) {
            return Verdict::Error(format!("cannot set `{TARGET}`: {why}"));
        }
        self.line.clear();
        self.line.push_str(text);
        let found = self.miner.add(&self.line);
        let mut params = Vec::with_capacity(8);
        found.params(&mut params);
        let mut fields = Map::with_capacity(4);
        fields.insert("id".into(), found.id_hex().into());
        fields.insert("text".into(), found.text().into());
        fields.insert(
            "params".into(),
            Value::Array(params.into_iter().map(Value::from).collect()),
        );
        fields.insert("new".into(), found.new.into());
        if found.new {
            host::count("templates_new", 1);
        }
        event.set(TARGET, Value::Object(fields));
        Verdict::Keep
    }
}

impl Stateful for Templates {
    fn snapshot(&self) -> Vec<u8> {
        self.miner.snapshot()
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        self.miner.restore(state)
    }
}

export_filter!(Templates, stateful);

#[cfg(test)]
mod tests {
    use super::*;
    use wasmstash_sdk::{NativeFilter, Outcome};

    fn run(filter: &mut NativeFilter<Templates>, events: &[&str]) -> Vec<Value> {
        let refs: Vec<&[u8]> = events.iter().map(|e| e.as_bytes()).collect();
        filter
            .process_events(&refs)
            .into_iter()
            .map(Outcome::into_value)
            .collect()
    }

    #[test]
    fn writes_the_template_fields() {
        let mut filter = NativeFilter::<Templates>::new(b"{}").unwrap();
        let out = run(
            &mut filter,
            &[
                r#"{"message":"Failed password for root from 10.0.0.1 port 22 ssh2","wasmstash":{"failures":[]}}"#,
                r#"{"message":"Failed password for root from 10.0.0.9 port 2222 ssh2"}"#,
                r#"{"other":"no message"}"#,
            ],
        );
        let first = &out[0]["wasmstash"]["template"];
        assert_eq!(
            first["text"],
            "Failed password for root from <*> port <*> ssh2"
        );
        assert_eq!(first["params"], json!(["10.0.0.1", "22"]));
        assert_eq!(first["new"], true);
        assert_eq!(first["id"].as_str().unwrap().len(), 16);
        assert!(
            out[0]["wasmstash"]["failures"].is_array(),
            "siblings are kept"
        );
        let second = &out[1]["wasmstash"]["template"];
        assert_eq!(second["id"], first["id"]);
        assert_eq!(second["new"], false);
        assert_eq!(out[2], json!({"other": "no message"}));
    }

    #[test]
    fn options_are_checked() {
        let err = |config: &str| match NativeFilter::<Templates>::new(config.as_bytes()) {
            Ok(_) => panic!("{config} was accepted"),
            Err(e) => e,
        };
        assert!(err(r#"{"sorce":"x"}"#).contains("unknown field"));
        assert!(err(r#"{"masks":["ipv4"]}"#).contains("unknown mask `ipv4`"));
        assert!(err(r#"{"similarity_threshold":2}"#).contains("between 0 and 1"));
        assert!(err(r#"{"source":"[a"}"#).contains("source"));
        let custom = r#"{"source":"[log][content]","masks":["ip","number"],"depth":5}"#;
        let mut filter = NativeFilter::<Templates>::new(custom.as_bytes()).unwrap();
        let out = run(
            &mut filter,
            &[r#"{"log":{"content":"user=bob took 5 ms"}}"#],
        );
        assert_eq!(
            out[0]["wasmstash"]["template"]["text"],
            "user=bob took <*> ms"
        );
    }

    /// A JSON line's own message is mined, not the JSON text around it;
    /// a line that is not JSON falls back to `message`.
    #[test]
    fn the_first_source_holding_a_string_is_mined() {
        let config = r#"{"source":["[app][message]","[app][msg]","message"]}"#;
        let mut filter = NativeFilter::<Templates>::new(config.as_bytes()).unwrap();
        let out = run(
            &mut filter,
            &[
                r#"{"message":"{}","app":{"message":{"not":"text"},"msg":"cart 7 emptied"}}"#,
                r#"{"message":"disk sda full","app":"not an object"}"#,
            ],
        );
        let texts: Vec<_> = (out.iter())
            .map(|event| event["wasmstash"]["template"]["text"].clone())
            .collect();
        assert_eq!(texts, [json!("cart <*> emptied"), json!("disk sda full")]);
        let err = |config: &str| NativeFilter::<Templates>::new(config.as_bytes()).err();
        assert!(err(r#"{"source":[]}"#).unwrap().contains("give 1 to 16"));
        assert!(
            err(r#"{"source":["a",3]}"#)
                .unwrap()
                .contains("source: expected a field or a list of fields")
        );
        assert!(
            err(r#"{"source":5}"#)
                .unwrap()
                .contains("source: expected a field or a list of fields")
        );
        assert!(
            err(r#"{"source":["message","[a"]}"#)
                .unwrap()
                .contains("source")
        );
    }

    /// Logstash's event refuses a set through a string, number or boolean,
    /// and a set through a list changes nothing: the string used to be
    /// replaced, and under a list the fields vanished. The event fails now,
    /// unmined (the host keeps its `wasmstash` in `wasmstash.displaced`).
    #[test]
    fn a_wasmstash_that_is_not_an_object_fails_the_event_unmined() {
        let mut filter = NativeFilter::<Templates>::new(b"{}").unwrap();
        for (wasmstash, what) in [
            (r#""str""#, "a string"),
            (r#"["x"]"#, "a list"),
            ("5", "a number"),
            ("true", "a boolean"),
        ] {
            let event = format!(r#"{{"message":"disk sda is 91% full","wasmstash":{wasmstash}}}"#);
            let out = filter.process_events(&[event.as_bytes()]).remove(0);
            let Outcome::Failed(reason) = out else {
                panic!("{event}: {out:?}");
            };
            assert_eq!(
                reason,
                format!(
                    "cannot set `[wasmstash][template]`: the event's `wasmstash` is {what}, not an object"
                )
            );
        }
        // Unmined: the first event that can take the fields created it.
        let out = run(
            &mut filter,
            &[
                r#"{"message":"disk sda is 91% full","wasmstash":null}"#,
                r#"{"message":"disk sda is 91% full","wasmstash":{"template":"old","x":1}}"#,
            ],
        );
        assert_eq!(out[0]["wasmstash"]["template"]["new"], true);
        assert_eq!(out[1]["wasmstash"]["template"]["new"], false);
        assert_eq!(out[1]["wasmstash"]["x"], 1);
    }

    #[test]
    fn state_round_trips_through_the_filter() {
        let mut first = NativeFilter::<Templates>::new(b"{}").unwrap();
        let a = run(&mut first, &[r#"{"message":"disk sda is 91% full"}"#]);
        let state = first.snapshot();
        let mut second = NativeFilter::<Templates>::new(b"{}").unwrap();
        second.restore(&state).unwrap();
        let b = run(&mut second, &[r#"{"message":"disk sda is 12% full"}"#]);
        assert_eq!(
            a[0]["wasmstash"]["template"]["id"],
            b[0]["wasmstash"]["template"]["id"]
        );
        assert_eq!(b[0]["wasmstash"]["template"]["new"], false);
    }
}
