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

use crate::library::Patterns;
use crate::regex::{Budget, Matcher, Regex, Resolver, Splice, Stop, UNSET};

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `%{NAME}` without a field does not capture (Logstash's default: true).
    pub named_captures_only: bool,
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
        Ok(Splice { regex, capture_as })
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
                    (Some(text), Some(Coerce::Int)) if nth == 0 => Captured::Int(ruby_to_i(text)),
                    (Some(text), Some(Coerce::Float)) if nth == 0 => {
                        Captured::Float(ruby_to_f(text))
                    }
                    (Some(text), _) => Captured::Str(text),
                };
                yield_capture(index, value);
            }
        }
    }
}

/// Ruby's `String#to_i`: optional leading whitespace and sign, then digits
/// (single underscores allowed between them); anything else ends the number,
/// and no digits is 0. Beyond i64 it saturates (Ruby would make a Bignum).
pub fn ruby_to_i(text: &str) -> i64 {
    let (negative, digits, _) = ruby_number_prefix(text);
    if digits.len() <= 18 && digits.bytes().all(|b| b.is_ascii_digit()) {
        // Cannot overflow, so no overflow checks (which cost a 128-bit
        // multiply per digit in WebAssembly).
        let magnitude = digits
            .bytes()
            .fold(0i64, |value, b| value * 10 + (b - b'0') as i64);
        return if negative { -magnitude } else { magnitude };
    }
    let mut value: i64 = 0;
    for b in digits.bytes().filter(u8::is_ascii_digit) {
        let digit = (b - b'0') as i64;
        value = value.saturating_mul(10);
        value = if negative {
            value.saturating_sub(digit)
        } else {
            value.saturating_add(digit)
        };
    }
    value
}

/// Ruby's `String#to_f`: the longest prefix that reads as a decimal float
/// (`12`, `-1.5`, `.5`, `1e-3`, underscores between digits); else 0.0.
pub fn ruby_to_f(text: &str) -> f64 {
    let (negative, int_digits, mut rest) = ruby_number_prefix(text);
    let mut clean: String = int_digits.chars().filter(|c| *c != '_').collect();
    if let Some(after) = rest.strip_prefix('.') {
        let fraction = digit_run(after);
        if !fraction.is_empty() {
            clean.push('.');
            clean.extend(fraction.chars().filter(|c| *c != '_'));
            rest = &after[fraction.len()..];
        }
    }
    if clean.is_empty() {
        return 0.0;
    }
    if let Some(after) = rest.strip_prefix(['e', 'E']) {
        let (sign, after) = match after.strip_prefix(['+', '-']) {
            Some(tail) => (&after[..1], tail),
            None => ("", after),
        };
        let exponent = digit_run(after);
        if !exponent.is_empty() {
            clean.push('e');
            clean.push_str(sign);
            clean.extend(exponent.chars().filter(|c| *c != '_'));
        }
    }
    let value: f64 = clean.parse().unwrap_or(0.0);
    if negative { -value } else { value }
}

/// Skips Ruby whitespace and a sign; returns (negative, the digit run, the
/// text after it).
fn ruby_number_prefix(text: &str) -> (bool, &str, &str) {
    let trimmed = text.trim_start_matches([' ', '\t', '\n', '\x0B', '\x0C', '\r']);
    let (negative, unsigned) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let digits = digit_run(unsigned);
    (negative, digits, &unsigned[digits.len()..])
}

/// Leading digits, with single underscores allowed between two digits.
fn digit_run(text: &str) -> &str {
    let bytes = text.as_bytes();
    let mut end = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            i += 1;
            end = i;
        } else if bytes[i] == b'_'
            && end == i
            && i > 0
            && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
        {
            i += 1;
        } else {
            break;
        }
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruby_number_conversions() {
        assert_eq!(ruby_to_i("42"), 42);
        assert_eq!(ruby_to_i("  -17abc"), -17);
        assert_eq!(ruby_to_i("1_000"), 1000);
        assert_eq!(ruby_to_i("1__0"), 1);
        assert_eq!(ruby_to_i("abc"), 0);
        assert_eq!(ruby_to_i("3.9"), 3);
        assert_eq!(ruby_to_i("99999999999999999999"), i64::MAX);
        assert_eq!(ruby_to_f("1.7"), 1.7);
        assert_eq!(ruby_to_f("640"), 640.0);
        assert_eq!(ruby_to_f("-.5x"), -0.5);
        assert_eq!(ruby_to_f("5."), 5.0);
        assert_eq!(ruby_to_f("7.3e-05"), 7.3e-05);
        assert_eq!(ruby_to_f("1e"), 1.0);
        assert_eq!(ruby_to_f("x1"), 0.0);
        assert_eq!(ruby_to_f("1_0.5"), 10.5);
    }
}
