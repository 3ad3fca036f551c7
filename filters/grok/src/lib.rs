//! `grok`: Logstash's grok filter, with the same options, pattern library and
//! captured fields, on a regex engine built for its patterns (see
//! the `wasmstash-regex` crate and README.md for why).
//!
//! Per event it reads only the `match` fields and appends the captures; every
//! other member of the event is copied through untouched by the SDK.

mod config;
mod expression;
mod fields;
mod library;
// The engine is a crate of its own so that mutate's `gsub` shares it.
use wasmstash_regex as regex;

use std::collections::HashMap;

use serde_json::Value;
use wasmstash_sdk::logstash::common::{CommonOptions, EcsCompatibility, WithCommon};
use wasmstash_sdk::logstash::ruby_number;
use wasmstash_sdk::prelude::*;

pub use config::Config;
use expression::{Captured, Expression, Options};
use library::{PatternSet, Patterns};
use regex::{Budget, Matcher, Stop, is_reference_name_byte};

pub struct Grok {
    matches: Vec<(String, Vec<Compiled>)>,
    break_on_match: bool,
    keep_empty_captures: bool,
    tag_on_failure: Vec<String>,
    tag_on_timeout: String,
    time_limit_nanos: Option<i64>,
    steps: u64,
    budget_per_event: bool,
    common: CommonOptions,
    matcher: Matcher,
    scratch: fields::Scratch,
    /// The field being matched, copied so captures can be written while it
    /// is read.
    input: String,
}

/// An expression and where its captures go.
struct Compiled {
    /// The pattern as the config gives it, for the log line of a timeout.
    source: String,
    expression: Expression,
    shape: fields::Shape,
}

/// Whether the patterns of one field matched, or time ran out.
type Outcome = Result<bool, TimedOut>;

/// The limit that stopped a search, and which of the field's patterns
/// was running.
struct TimedOut {
    stop: Stop,
    pattern: usize,
}

/// How trying one input against a field's patterns ended.
enum Tried {
    Matched,
    Unmatched,
    /// A capture could not be set, where Logstash's event raises: grok
    /// rescues that and counts the whole field as unmatched, keeping the
    /// captures set before it.
    Raised,
}

/// Adds a custom pattern from `origin` (a file or `pattern_definitions`),
/// over any of that name before it. Logstash takes a name that no
/// `%{NAME}` can spell too, and never uses it; the operator is told.
fn define(patterns: &mut Patterns, name: &str, regex: &str, origin: &str) {
    if name.is_empty() || !name.bytes().all(is_reference_name_byte) {
        host::log(
            Level::Warn,
            &format!(
                "{origin}: `{name}` can never be referenced (a name in %{{NAME}} is ASCII \
                 letters, digits and _); it is ignored"
            ),
        );
    }
    patterns.insert(name.to_owned(), regex.to_owned());
}

impl Filter for Grok {
    type Config = Config;

    fn new(config: Config) -> Result<Self, String> {
        let WithCommon {
            options: config,
            common,
        } = config;
        // `disabled` is the legacy pattern set and field names, `v1` and
        // `v8` the ECS ones; Logstash 8 defaults to `v8`, and so does grok.
        let mode = common.ecs_compatibility().unwrap_or(EcsCompatibility::V8);
        let set = PatternSet::for_mode(mode);
        if config.patterns_dir.is_some() {
            return Err(
                "patterns_dir and patterns_files_glob name files, which a filter \
                 cannot read: the wasmstash host reads them when it loads the pipeline and \
                 hands their text to grok as `pattern_files`, but this config reached grok \
                 unread; give the patterns as pattern_definitions instead"
                    .into(),
            );
        }
        let mut patterns = library::load(set);
        // Which file a pattern came from, for an error met in it; those
        // in the config itself are where the user is looking already.
        let mut defined_in = HashMap::new();
        for file in &config.pattern_files {
            for (name, regex) in library::definitions(&file.text) {
                define(&mut patterns, name, regex, &file.path);
                defined_in.insert(name.to_owned(), file.path.clone());
            }
        }
        for (name, regex) in &config.pattern_definitions {
            let regex = regex
                .as_str()
                .ok_or_else(|| format!("pattern_definitions: `{name}` must be a string"))?;
            // grok.rb adds each with `pattern.chomp`: one line ending off.
            let regex = (regex.strip_suffix("\r\n"))
                .or_else(|| regex.strip_suffix(['\n', '\r']))
                .unwrap_or(regex);
            define(&mut patterns, name, regex, "pattern_definitions");
            defined_in.remove(name);
        }
        let options = Options {
            named_captures_only: config.named_captures_only,
            defined_in,
        };
        let target = match &config.target {
            Some(t) => {
                wasmstash_sdk::field_ref::validate_option("target", t)?;
                Some(t.as_str())
            }
            None => None,
        };
        let mut matches = Vec::new();
        for (field, sources) in config::match_list(&config.match_)? {
            let mut compiled = Vec::new();
            for (i, source) in sources.iter().enumerate() {
                if source.contains(['\u{8}', '\u{c}']) {
                    // `\b` and `\f` in a TOML "..." string become these
                    // characters, and the pattern still compiles.
                    host::log(
                        Level::Warn,
                        &format!(
                            "match `{field}` pattern #{} holds a backspace or form feed \
                             character: in a TOML \"...\" string `\\b` is a backspace; \
                             write patterns in '...' quotes",
                            i + 1
                        ),
                    );
                }
                let expression = Expression::compile(source, &patterns, &options)
                    .map_err(|e| format!("match `{field}` pattern #{} `{source}`: {e}", i + 1))?;
                let targets = expression
                    .captures()
                    .iter()
                    .map(|plan| {
                        let path = under_target(target, &plan.field);
                        // Each is checked alone; together they may be too
                        // deep for any event to hold.
                        if target.is_some() {
                            wasmstash_sdk::field_ref::check(&path).map_err(|e| {
                                format!(
                                    "match `{field}` pattern #{} `{source}`: target with the \
                                     capture `{}`: {e}",
                                    i + 1,
                                    plan.field
                                )
                            })?;
                        }
                        Ok((path, config.overwrite.contains(&plan.field)))
                    })
                    .collect::<Result<_, String>>()?;
                let shape = fields::Shape::new(targets);
                compiled.push(Compiled {
                    source: source.clone(),
                    expression,
                    shape,
                });
            }
            matches.push((field, compiled));
        }
        let budget_per_event = match config.timeout_scope.as_str() {
            "pattern" => false,
            "event" => true,
            other => {
                return Err(format!(
                    "timeout_scope must be `pattern` or `event`, not `{other}`"
                ));
            }
        };
        if config.timeout_steps == 0 {
            return Err("timeout_steps must be at least 1".into());
        }
        Ok(Grok {
            matches,
            break_on_match: config.break_on_match,
            keep_empty_captures: config.keep_empty_captures,
            tag_on_failure: config.tag_on_failure,
            tag_on_timeout: config.tag_on_timeout,
            // As grok.rb: a fraction of a millisecond counts, and 0 or less
            // is no limit. (The float to integer cast saturates.)
            time_limit_nanos: (config.timeout_millis > 0.0)
                .then(|| (config.timeout_millis * 1e6).ceil() as i64),
            steps: config.timeout_steps,
            budget_per_event,
            common,
            matcher: Matcher::default(),
            scratch: fields::Scratch::default(),
            input: String::new(),
        })
    }

    fn process(&mut self, event: &mut Event) -> Verdict {
        let mut matched = false;
        for index in 0..self.matches.len() {
            match self.match_field(index, event) {
                Ok(true) => {
                    matched = true;
                    if self.break_on_match {
                        break;
                    }
                }
                Ok(false) => {}
                Err(timed_out) => {
                    self.log_timeout(index, timed_out);
                    event.add_tag(&self.tag_on_timeout);
                    return Verdict::Keep;
                }
            }
        }
        if matched {
            // grok.rb rescues only its timeout around `filter_matched`: a
            // set its event refuses there (`add_field` through a string)
            // stops Logstash's worker. The event fails instead, and the
            // host passes it on as it came, with the reason.
            if let Err(reason) = self.common.apply(event) {
                return Verdict::Error(reason);
            }
        } else {
            event.add_tags(&self.tag_on_failure);
        }
        Verdict::Keep
    }
}

impl Grok {
    /// grok.rb's warning for a timeout, naming the pattern, the field and
    /// the value (its first 255 characters), and here the limit too: the
    /// step limit is grok's own, which Logstash does not have.
    fn log_timeout(&self, index: usize, timed_out: TimedOut) {
        let (field, patterns) = &self.matches[index];
        let (counter, limit) = match timed_out.stop {
            Stop::Steps => (
                "grok_timeouts_steps",
                format!("timeout_steps, {} steps", self.steps),
            ),
            Stop::Deadline => ("grok_timeouts_clock", "timeout_millis".to_owned()),
        };
        host::count(counter, 1);
        let source = patterns
            .get(timed_out.pattern)
            .map_or("", |c| c.source.as_str());
        host::log(
            Level::Warn,
            &format!(
                "Timeout executing grok '{source}' against field '{field}' with value '{}'! ({limit})",
                host::shortened(&self.input, 255)
            ),
        );
    }

    fn budget(&self) -> Budget {
        Budget::new(self.steps, self.time_limit_nanos, host::now_unix_nanos)
    }

    /// Logstash's `match`: an array field is matched element by element and
    /// counts as matched if any element did; anything else is matched as its
    /// string form (a missing field as "").
    fn match_field(&mut self, index: usize, event: &mut Event) -> Outcome {
        let field = &self.matches[index].0;
        if event.read_str_into(field, &mut self.input) {
            return Ok(matches!(self.match_input(index, event)?, Tried::Matched));
        }
        let inputs: Vec<String> = match event.get(field) {
            Some(Value::Array(items)) => items.iter().map(ruby_number::value_to_s).collect(),
            Some(other) => vec![ruby_number::value_to_s(other)],
            None => vec![String::new()],
        };
        let mut any = false;
        for input in inputs {
            self.input = input;
            match self.match_input(index, event)? {
                Tried::Matched => any = true,
                Tried::Unmatched => {}
                Tried::Raised => return Ok(false),
            }
        }
        Ok(any)
    }

    /// Tries the field's patterns in order. As in Logstash, without
    /// `break_on_match` the result is that of the last pattern tried.
    /// `timeout_scope => event` gives them one limit together, per value
    /// (each element of a list field has its own), as grok.rb's
    /// `EventTimeoutMatcher` wraps each value's match.
    fn match_input(&mut self, index: usize, event: &mut Event) -> Result<Tried, TimedOut> {
        let mut matched = false;
        let mut value_budget = self.budget();
        for (pattern, compiled) in self.matches[index].1.iter().enumerate() {
            let mut pattern_budget;
            let budget = if self.budget_per_event {
                &mut value_budget
            } else {
                pattern_budget = self.budget();
                &mut pattern_budget
            };
            matched = (compiled.expression)
                .search(&mut self.matcher, &self.input, budget)
                .map_err(|stop| TimedOut { stop, pattern })?;
            if matched {
                let keep_empty = self.keep_empty_captures;
                let (shape, input, scratch) = (&compiled.shape, &self.input, &mut self.scratch);
                shape.begin(event, scratch);
                compiled
                    .expression
                    .each_capture(&self.matcher, input, |plan, value| {
                        if keep_empty || !matches!(value, Captured::Nil | Captured::Str("")) {
                            shape.capture(event, scratch, input, plan, value);
                        }
                    });
                shape.finish(event, scratch, input);
                if let Some(why) = shape.raised(scratch) {
                    // grok.rb's `match` rescues the event's exception, logs
                    // it and counts the field as unmatched.
                    host::log(
                        Level::Warn,
                        &format!(
                            "Grok regexp threw exception on field '{}': {why}; the field counts \
                             as unmatched",
                            self.matches[index].0
                        ),
                    );
                    return Ok(Tried::Raised);
                }
                if self.break_on_match {
                    break;
                }
            }
        }
        Ok(if matched {
            Tried::Matched
        } else {
            Tried::Unmatched
        })
    }
}

/// `[target][field]`, from a target and a capture's field reference.
fn under_target(target: Option<&str>, field: &str) -> String {
    let Some(target) = target else {
        return field.to_string();
    };
    let mut path = String::new();
    for segment in
        wasmstash_sdk::field_ref::segments(target).chain(wasmstash_sdk::field_ref::segments(field))
    {
        path.push('[');
        path.push_str(segment);
        path.push(']');
    }
    path
}

export_filter!(Grok);

#[cfg(test)]
mod tests;
