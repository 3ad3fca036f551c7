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
//! A document that would make the event deeper than a filter's result may
//! be (`json_text::MAX_NESTING`) fails as unreadable text does.
//!
//! A set Logstash's event refuses (`event_rules::refusal`: through a
//! string, at `@timestamp`, under or as a `tags` of no strings, an
//! `@metadata` that is no object) raises in json.rb, whose rescue tags the
//! event `tag_on_failure`: the members set before it stay, nothing after
//! it is set and the common options do not run. So here, on both paths.

mod timestamp;
mod transcode;

use serde::Deserialize;
use wasmstash_sdk::logstash::common::{self, CommonOptions, WithCommon};
use wasmstash_sdk::logstash::event_rules;
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
    /// Whether Logstash's event takes only some values at `target`, which
    /// only the general path, holding the document as a `Value`, can ask.
    target_constrained: bool,
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
        // Asked of an event with no fields, this is about the target's name
        // alone (`tags`, `@metadata`), the same for every event. A scalar in
        // its way would be in a field the event has, which sends the set to
        // the general path anyway.
        let target_constrained = (config.target.as_deref())
            .is_some_and(|target| event_rules::constrains(&Event::new(), target));
        Ok(Json {
            config,
            common,
            target,
            target_constrained,
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
                // json.rb's "Error parsing json", as its reader's refusal.
                host::log(
                    Level::Warn,
                    &format!(
                        "Error parsing json: `{}` holds {}, which is no JSON text",
                        self.config.source,
                        kind_of(event.get(&self.config.source))
                    ),
                );
                self.fail(event);
            }
            return Verdict::Keep;
        }
        let set = match self.transcoded(event) {
            Some(set) => set,
            None => self.through_value(event),
        };
        if set && let Err(reason) = self.common.apply(event) {
            // json.rb (3.1 and later) rescues what `filter_matched` raises
            // (a set its event refuses), logs it at warn and tags the event
            // `tag_on_failure`, whatever `skip_on_invalid_json` says.
            host::log(Level::Warn, &reason);
            self.fail(event);
        }
        Verdict::Keep
    }
}

impl Json {
    /// Adds the document's JSON text to the event as it is rewritten, with
    /// no `Value` built, and says whether it was set (as
    /// [`Json::through_value`] does); `None`, with the event untouched, when
    /// the document or the event needs [`Json::through_value`].
    fn transcoded(&mut self, event: &mut Event) -> Option<bool> {
        let written = &mut self.written;
        match &self.target {
            Some(segments) => {
                // The transcoder's documents are shallow enough for a
                // shallow target only; a deeper one is measured on the
                // general path, and a constrained one asked about there.
                let (top, inner) = segments.split_first().filter(|_| {
                    !self.target_constrained
                        && segments.len() + transcode::MAX_DEPTH <= json_text::MAX_NESTING
                })?;
                // Setting below an existing field merges into it, or is
                // refused through a scalar there.
                if (!inner.is_empty() && event.keys().any(|k| k == top))
                    || self.transcoder.value(&self.text, written).is_err()
                {
                    return None;
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
                    return None;
                }
                let written = &self.written;
                // A key with a bracket is set by path or refused, and
                // `@timestamp` is read as a time, both on the general path.
                if (self.members.iter()).any(|m| {
                    let key = &written[m.key.clone()];
                    key.iter().any(|b| matches!(b, b'[' | b']')) || key == b"@timestamp"
                }) {
                    return None;
                }
                for member in &self.members {
                    // Keys are checked UTF-8 text within the written bytes.
                    let key = std::str::from_utf8(&written[member.key.clone()])
                        .expect("written keys are UTF-8");
                    // The value is read back only for the few fields the
                    // event constrains (`tags`, `@metadata`). As in json.rb,
                    // the members before a refused one stay set.
                    if event_rules::constrains(event, key) {
                        let value = serde_json::from_slice(&written[member.value.clone()])
                            .expect("the transcoder writes JSON that serde_json reads");
                        if let Some(why) = event_rules::refusal(event, key, &value) {
                            self.fail_refused_set(event, key, why);
                            return Some(false);
                        }
                    }
                    event.insert_json_with(key, |json| {
                        json.extend_from_slice(&written[member.value.clone()])
                    });
                }
            }
        }
        Some(true)
    }

    /// The general path: parse into a `Value`, then set it. Whether the
    /// document was set; if not, the event is tagged as Logstash tags it.
    fn through_value(&mut self, event: &mut Event) -> bool {
        let parsed = match serde_json::from_str::<Value>(&self.text) {
            Ok(parsed) if json_text::numbers_in_range(&parsed) => parsed,
            Ok(_) => return self.fail_unholdable(event, "holds a number past a double's range"),
            // Logstash's JSON reader (JrJackson) reads empty or blank text as
            // nil instead of refusing it: a `target` is set to null, and the
            // root, which takes objects only, is tagged even when
            // `skip_on_invalid_json` is set.
            Err(_) if self.text.bytes().all(json_text::is_whitespace) => Value::Null,
            // Text nested past the parser's limit, or with a lone surrogate
            // escape, may be JSON or not: the parser stops before it could
            // tell. It counts as unreadable, skipped as such; when tagged, the
            // reason is logged, as a reader would not guess it.
            Err(e) => {
                if !self.config.skip_on_invalid_json {
                    // json.rb's "Error parsing json", with its reader's reason.
                    let why = unreadable_here(&e).unwrap_or_else(|| format!("is no JSON: {e}"));
                    host::log(
                        Level::Warn,
                        &format!(
                            "Error parsing json: the text of `{}` {why}: {}",
                            self.config.source,
                            host::shortened(&self.text, 255)
                        ),
                    );
                    self.fail(event);
                }
                return false;
            }
        };
        if let Some(deepest) = self.too_deep(&parsed) {
            let why = format!(
                "would make the event {deepest} objects and arrays deep at `{}`; an event may \
                 be at most {} deep",
                self.config.target.as_deref().unwrap_or("the event's root"),
                json_text::MAX_NESTING
            );
            return self.fail_unholdable(event, &why);
        }
        match (parsed, &self.config.target) {
            (parsed, Some(target)) => {
                if let Some(why) = event_rules::refusal(event, target.as_str(), &parsed) {
                    self.fail_refused_set(event, target, why);
                    return false;
                }
                event.set(target, parsed);
            }
            (Value::Object(mut fields), None) => {
                let time = fields.shift_remove("@timestamp");
                for (key, value) in fields {
                    // json.rb sets the members one by one, and its rescue
                    // skips the rest, the document's `@timestamp` (set last)
                    // too; a path may pass through a member set before. A
                    // key that is no field reference (`a[b]`) makes
                    // Logstash's `event.set` raise as a refused set does.
                    if let Err(why) = field_ref::check(&key) {
                        // Logstash raises too, unless the key is only past
                        // this SDK's depth limit: the reason says which.
                        self.fail_unset(event, &format!("cannot set `{key}`: {why}"));
                        return false;
                    }
                    if let Some(why) = event_rules::refusal(event, key.as_str(), &value) {
                        self.fail_refused_set(event, &key, why);
                        return false;
                    }
                    if is_path(&key) {
                        event.set(&key, value);
                    } else {
                        event.insert(&key, value);
                    }
                }
                // Ruby's `if parsed_timestamp`: a null or false one is
                // dropped, and the event's own `@timestamp` stays.
                match time {
                    None | Some(Value::Null | Value::Bool(false)) => {}
                    Some(time) => set_timestamp(event, time),
                }
            }
            // Valid JSON, but nothing to spread over the event's root.
            (parsed, None) => {
                // json.rb: "Parsed JSON object/hash requires a target
                // configuration option", whatever `skip_on_invalid_json` says.
                host::log(
                    Level::Warn,
                    &format!(
                        "Parsed JSON object/hash requires a target configuration option: the \
                         document in `{}` is {}, not an object, which alone can be set at the \
                         event's root",
                        self.config.source,
                        kind_of(Some(&parsed))
                    ),
                );
                self.fail(event);
                return false;
            }
        }
        true
    }

    /// How deep the event would nest with `parsed` set, if deeper than a
    /// filter's result may be (`json_text::MAX_NESTING`): a value at a
    /// field of `n` segments makes `n` plus its own nesting. At the root,
    /// a member whose key is a field reference is set at its path.
    fn too_deep(&self, parsed: &Value) -> Option<usize> {
        let deepest = match (&self.target, parsed) {
            (Some(segments), parsed) => segments.len() + json_text::nesting(parsed),
            (None, Value::Object(members)) => members
                .iter()
                .map(|(key, value)| root_segments(key) + json_text::nesting(value))
                .max()
                .unwrap_or(0),
            (None, _) => 0,
        };
        (deepest > json_text::MAX_NESTING).then_some(deepest)
    }

    fn fail(&self, event: &mut Event) {
        event.add_tags(&self.config.tag_on_failure);
    }

    /// A JSON document Logstash would read and set, but that an event here
    /// cannot hold (ABI.md: the host refuses it, and would record a bug of
    /// this filter): failed with the reason at warn, whatever
    /// `skip_on_invalid_json` says, as that skips only text that is no JSON.
    fn fail_unholdable(&self, event: &mut Event, why: &str) -> bool {
        host::log(Level::Warn, &format!("json: the document {why}"));
        self.fail(event);
        false
    }

    /// json.rb's rescue of the exception Logstash's event raises at a set
    /// it refuses: logged at warn, and the event tagged `tag_on_failure`
    /// whatever `skip_on_invalid_json` says, as that guards only the parse.
    fn fail_refused_set(&self, event: &mut Event, field: &str, why: &str) {
        self.fail_unset(event, &event_rules::refused_set(field, why));
    }

    /// [`Json::fail_refused_set`] with the reason in words already.
    fn fail_unset(&self, event: &mut Event, reason: &str) {
        host::log(Level::Warn, &format!("json: {reason}"));
        self.fail(event);
    }
}

/// Whether a document's key at the root is set at the path it writes
/// (`[http][method]`), as Logstash's `event.set` sets it; any other key
/// that is a field reference is set as itself.
/// Why text failed to parse where the cause is a limit of the event's
/// rather than plain bad syntax: serde_json reports both as syntax errors,
/// and tells them apart only in its message.
fn unreadable_here(error: &serde_json::Error) -> Option<String> {
    if json_text::is_nesting_error(error) {
        return Some(format!(
            "is nested deeper than an event may be ({} objects and arrays)",
            json_text::MAX_NESTING
        ));
    }
    let message = error.to_string();
    (message.starts_with("lone leading surrogate")
        || message.starts_with("unexpected end of hex escape"))
    .then(|| "holds a lone UTF-16 surrogate escape, which no string of an event can hold".into())
}

/// What a value is, for a log line: `nothing` (a blank text reads as
/// null), `a number`, `a list`...
fn kind_of(value: Option<&Value>) -> &'static str {
    match value {
        None | Some(Value::Null) => "nothing",
        Some(Value::Bool(_)) => "a boolean",
        Some(Value::Number(_)) => "a number",
        Some(Value::String(_)) => "a string",
        Some(Value::Array(_)) => "a list",
        Some(Value::Object(_)) => "an object",
    }
}

fn is_path(key: &str) -> bool {
    key.starts_with('[') && field_ref::check(key).is_ok()
}

/// How many segments a document's key at the root is set at.
fn root_segments(key: &str) -> usize {
    if is_path(key) {
        field_ref::segments(key).count()
    } else {
        1
    }
}

/// The document's `@timestamp` (see `timestamp.rs`).
fn set_timestamp(event: &mut Event, time: Value) {
    if let Some(text) = time.as_str().and_then(timestamp::parse) {
        event.insert("@timestamp", text);
        return;
    }
    // json.rb warns of it, and sets the time now.
    host::log(
        Level::Warn,
        &format!(
            "Unrecognized @timestamp value, setting current time to @timestamp, original in {} \
             field: {}",
            timestamp::FAILURE_FIELD,
            host::shortened(&time.to_string(), 255)
        ),
    );
    event.insert("@timestamp", timestamp::now());
    event.add_tag(timestamp::FAILURE_TAG);
    event.insert(timestamp::FAILURE_FIELD, timestamp::failure_text(&time));
}

export_filter!(Json);

#[cfg(test)]
mod differential;

#[cfg(test)]
mod tests;
