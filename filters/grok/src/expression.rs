//! One grok expression (`%{IP:client} %{WORD}`): compiled to a regex, plus
//! the plan that turns its named groups into event fields the way jls-grok
//! does.
//!
//! jls-grok names each capturing group `PATTERN:field:type`; a raw
//! `(?<name>...)` is `name`. Captures are reported per name in order of first
//! appearance, every group of a name in turn, and a `:int`/`:float` type is
//! applied to the first group of a name only (a quirk of its generated code
//! that Logstash users get, so we keep it).

use std::collections::HashMap;

use wasmstash_sdk::field_ref;
use wasmstash_sdk::logstash::ruby_number::{self, RubyInteger};

use crate::library::Patterns;
use crate::regex::{Budget, Matcher, Regex, Resolver, Splice, Stop, UNSET};

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `%{NAME}` without a field does not capture (Logstash's default: true).
    pub named_captures_only: bool,
    /// The pattern file each of the config's own patterns came from, for
    /// errors met in them.
    pub defined_in: HashMap<String, String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coerce {
    Int,
    Float,
}

/// A captured value, before it becomes JSON.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Captured<'a> {
    Nil,
    Str(&'a str),
    Int(i64),
    /// An `:int` capture past 64 bits, kept as its text: Ruby's integers
    /// have no bound, so its digits are written exactly (see
    /// [`ruby_number::RubyInteger`]).
    BigInt(&'a str),
    Float(f64),
}

/// Where one capture name goes.
pub struct CapturePlan {
    /// The field reference as written (`client`, `[source][address]`).
    pub field: String,
    pub coerce: Option<Coerce>,
    /// Group indices carrying this name, in pattern order.
    groups: Vec<usize>,
}

pub struct Expression {
    regex: Regex,
    captures: Vec<CapturePlan>,
}

struct GrokResolver<'p> {
    patterns: &'p Patterns,
    /// `%{NAME=regex}` definitions met so far.
    inline: HashMap<String, String>,
    named_captures_only: bool,
    defined_in: &'p HashMap<String, String>,
}

impl Resolver for GrokResolver<'_> {
    fn resolve(
        &mut self,
        name: &str,
        semantic: Option<&str>,
        definition: Option<&str>,
    ) -> Result<Splice, String> {
        if let Some(definition) = definition {
            self.inline.insert(name.to_string(), definition.to_string());
        }
        let defined_in = match self.inline.contains_key(name) {
            true => None,
            false => self.defined_in.get(name).cloned(),
        };
        let regex = self
            .inline
            .get(name)
            .or_else(|| self.patterns.get(name))
            .ok_or_else(|| format!("pattern %{{{name}}} not defined"))?
            .clone();
        let capture_as = match semantic {
            Some(semantic) => Some(format!("{name}:{semantic}")),
            None if self.named_captures_only => None,
            None => Some(name.to_string()),
        };
        Ok(Splice {
            regex,
            capture_as,
            defined_in,
        })
    }
}

impl Expression {
    pub fn compile(
        expression: &str,
        patterns: &Patterns,
        options: &Options,
    ) -> Result<Expression, String> {
        let mut resolver = GrokResolver {
            patterns,
            inline: HashMap::new(),
            named_captures_only: options.named_captures_only,
            defined_in: &options.defined_in,
        };
        let regex = Regex::new(expression, &mut resolver)?;
        let mut captures = Vec::new();
        for (name, groups) in regex.names() {
            // Ruby's String#split(":") drops trailing empty parts.
            let mut parts: Vec<&str> = name.split(':').collect();
            while parts.len() > 1 && parts.last() == Some(&"") {
                parts.pop();
            }
            let field = parts.get(1).copied().unwrap_or(parts[0]).to_string();
            field_ref::validate(&field).map_err(|e| format!("capture `{name}`: {e}"))?;
            let coerce = match parts.get(2).copied() {
                Some("int") => Some(Coerce::Int),
                Some("float") => Some(Coerce::Float),
                _ => None,
            };
            captures.push(CapturePlan {
                field,
                coerce,
                groups: groups.clone(),
            });
        }
        Ok(Expression { regex, captures })
    }

    pub fn captures(&self) -> &[CapturePlan] {
        &self.captures
    }

    pub fn search(
        &self,
        matcher: &mut Matcher,
        input: &str,
        budget: &mut Budget,
    ) -> Result<bool, Stop> {
        self.regex.search(matcher, input, budget)
    }

    /// After a successful [`Expression::search`]: calls `yield_capture` with
    /// the plan index and value of every group, in jls-grok's order.
    pub fn each_capture<'i>(
        &self,
        matcher: &Matcher,
        input: &'i str,
        mut yield_capture: impl FnMut(usize, Captured<'i>),
    ) {
        let slots = matcher.slots();
        for (index, plan) in self.captures.iter().enumerate() {
            for (nth, &group) in plan.groups.iter().enumerate() {
                let (start, end) = (slots[2 * group], slots[2 * group + 1]);
                let text =
                    (start != UNSET && end != UNSET).then(|| &input[start as usize..end as usize]);
                let value = match (text, plan.coerce) {
                    (None, _) => Captured::Nil,
                    (Some(text), Some(Coerce::Int)) if nth == 0 => match ruby_number::to_i(text) {
                        RubyInteger::Fits(n) => Captured::Int(n),
                        RubyInteger::Digits(_) => Captured::BigInt(text),
                    },
                    (Some(text), Some(Coerce::Float)) if nth == 0 => {
                        Captured::Float(ruby_number::to_f(text))
                    }
                    (Some(text), _) => Captured::Str(text),
                };
                yield_capture(index, value);
            }
        }
    }
}
