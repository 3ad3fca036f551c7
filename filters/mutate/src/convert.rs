//! `convert`, as Logstash's mutate does it in Ruby.
//!
//! Since Logstash 8.14 the plugin reads text strictly where Ruby can: a
//! `float` must be a whole number text (`Float("-")` raises, and the event
//! is tagged `_mutate_error`), an `integer` with an `e` goes through
//! `BigDecimal` (`"1e3"` is 1000), and `0x` text is hexadecimal (with no
//! number after the `0x`, the event is tagged). An
//! `integer` without an `e` is still read as `String#to_i` reads it (the
//! longest valid prefix, zero when there is none), so an Apache log's
//! `bytes` of `-` still becomes 0. `lenient_conversion` gives the older
//! plugin's reading, where `float` is `String#to_f` and nothing fails.
//! Commas are dropped first in both; `boolean` never fails, leaving a value
//! it does not know as it was (Logstash logs a warning). An `integer` or
//! `float` of a list holding an object or a list fails in either reading:
//! Ruby's `Integer()` and `Float()` raise on a Hash or an Array, and
//! neither has the older reading's `to_i` or `to_f`.

use std::borrow::Cow;

use wasmstash_sdk::Value;
use wasmstash_sdk::logstash::ruby_number::{self, RubyInteger};

use crate::ruby_text::is_strippable;

#[derive(Clone, Copy, PartialEq)]
pub enum Conversion {
    Integer,
    Float,
    /// Like `Integer` and `Float`, for texts whose decimal separator is a
    /// comma and whose group separator is a dot (`1.234,5`).
    IntegerEu,
    FloatEu,
    String,
    Boolean,
}

const NAMES: [(&str, Conversion); 6] = [
    ("integer", Conversion::Integer),
    ("float", Conversion::Float),
    ("integer_eu", Conversion::IntegerEu),
    ("float_eu", Conversion::FloatEu),
    ("string", Conversion::String),
    ("boolean", Conversion::Boolean),
];

impl Conversion {
    pub fn named(name: &str) -> Option<Conversion> {
        let named = NAMES.iter().find(|(known, _)| *known == name);
        named.map(|(_, conversion)| *conversion)
    }

    /// The name a config gives this conversion.
    pub fn name(self) -> &'static str {
        let named = NAMES.iter().find(|(_, conversion)| *conversion == self);
        named.map_or("", |(name, _)| name)
    }

    /// `value` converted; a list's members one by one (nulls kept), and an
    /// object or null as they are, as Logstash passes them by. `None` where
    /// Logstash's conversion raises (see the module's note).
    pub fn apply(self, value: &Value, lenient: bool) -> Option<Value> {
        match value {
            Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    Value::Null => Some(Value::Null),
                    item => self.one(item, lenient),
                })
                .collect::<Option<_>>()
                .map(Value::Array),
            Value::Object(_) | Value::Null => Some(value.clone()),
            single => self.one(single, lenient),
        }
    }

    /// Whether Logstash's conversion raises on `item`, a list's member.
    pub fn fails_on(self, item: &Value, lenient: bool) -> bool {
        !item.is_null() && self.one(item, lenient).is_none()
    }

    fn one(self, value: &Value, lenient: bool) -> Option<Value> {
        match self {
            Conversion::Integer => integer(value, false, lenient),
            Conversion::IntegerEu => integer(value, true, lenient),
            Conversion::Float => float(value, false, lenient),
            Conversion::FloatEu => float(value, true, lenient),
            Conversion::String => Some(Value::String(ruby_number::value_to_s(value))),
            Conversion::Boolean => Some(boolean(value)),
        }
    }
}

/// The text to read a number from: commas dropped, or for the `_eu` forms
/// dots dropped and commas made decimal points (Logstash swaps the two,
/// then drops the commas).
fn number_text(text: &str, eu: bool) -> String {
    text.chars()
        .filter_map(|c| match (c, eu) {
            (',', false) | ('.', true) => None,
            (',', true) => Some('.'),
            (c, _) => Some(c),
        })
        .collect()
}

fn integer(value: &Value, eu: bool, lenient: bool) -> Option<Value> {
    Some(match value {
        Value::Bool(b) => Value::from(i64::from(*b)),
        Value::Number(n) if n.is_f64() => float_to_integer(n.as_f64().unwrap_or(0.0)),
        Value::Number(n) => Value::Number(n.clone()),
        Value::String(text) => {
            // mutate.rb strips the text (NUL included), then drops commas.
            let text = number_text(text.trim_matches(is_strippable), eu);
            let text = text.as_str();
            if !lenient {
                match hex(text) {
                    // `Integer(text)`, exact past 64 bits as a decimal is.
                    Hex::Read {
                        negative,
                        digits,
                        whole: true,
                    } => {
                        return Some(RubyInteger::from_digits(negative, &digits).into_value());
                    }
                    Hex::Read { whole: false, .. } | Hex::Unreadable => return None,
                    Hex::Absent => {}
                }
            }
            if !lenient && text.contains('e') {
                // `BigDecimal(text).to_i`: the whole text must be a number.
                let f = strict_float(text)?;
                return Some(float_to_integer(f));
            }
            // An integer too long for 64 bits is exact, as in Ruby.
            ruby_number::to_i(text).into_value()
        }
        // A list's member (`apply` passes a field holding one by, and keeps
        // a null member); see the module's note.
        Value::Object(_) | Value::Array(_) | Value::Null => return None,
    })
}

/// `Float#to_i`: towards zero; infinities and NaN cannot be integers in
/// Ruby either (it raises), so they stay as they were.
fn float_to_integer(f: f64) -> Value {
    let truncated = f.trunc();
    if (i64::MIN as f64..=i64::MAX as f64).contains(&truncated) {
        Value::from(truncated as i64)
    } else if truncated.is_finite() {
        // Ruby's Bignum holds the float's exact value, which Rust's fixed
        // formatting writes out digit for digit.
        RubyInteger::Digits(format!("{truncated:.0}")).into_value()
    } else {
        float_value(f)
    }
}

fn float(value: &Value, eu: bool, lenient: bool) -> Option<Value> {
    Some(match value {
        Value::Bool(b) => float_value(f64::from(u8::from(*b))),
        Value::Number(n) => float_value(n.as_f64().unwrap_or(0.0)),
        Value::String(text) => {
            // mutate.rb strips the text (NUL included), then drops commas.
            let text = number_text(text.trim_matches(is_strippable), eu);
            let text = text.as_str();
            if lenient {
                // Ruby's to_f gives Infinity past a double's range, which
                // JSON cannot hold: refused, as the strict reading is.
                Some(ruby_number::to_f(text))
                    .filter(|f| f.is_finite())
                    .map(float_value)?
            } else {
                float_value(match hex(text) {
                    Hex::Read {
                        negative, digits, ..
                    } => {
                        // Rust's reading of the exact digits rounds to the
                        // nearest, as JRuby's `Float()` does; past a
                        // double's range it is infinite, which JSON cannot
                        // hold (as `"1e400"`).
                        let magnitude = digits.parse::<f64>().ok().filter(|f| f.is_finite())?;
                        if negative { -magnitude } else { magnitude }
                    }
                    Hex::Unreadable => return None,
                    Hex::Absent => strict_float(text)?,
                })
            }
        }
        // As for `integer`: Ruby's `Float()` raises on these.
        Value::Object(_) | Value::Array(_) | Value::Null => return None,
    })
}

/// Ruby's `Float(text)` on a decimal text: a sign, digits (an underscore
/// only between two), an optional fraction with digits after the point, an
/// optional exponent, and nothing else; `None` where Ruby raises.
fn strict_float(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    let mut at = usize::from(matches!(bytes.first(), Some(b'+' | b'-')));
    let whole = digit_run(bytes, &mut at);
    let mut fraction = 0;
    if bytes.get(at) == Some(&b'.') {
        at += 1;
        fraction = digit_run(bytes, &mut at);
        if fraction == 0 {
            return None;
        }
    }
    if whole + fraction == 0 {
        return None;
    }
    if let Some(b'e' | b'E') = bytes.get(at) {
        at += 1 + usize::from(matches!(bytes.get(at + 1), Some(b'+' | b'-')));
        if digit_run(bytes, &mut at) == 0 {
            return None;
        }
    }
    if at != bytes.len() {
        return None;
    }
    text.replace('_', "")
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
}

/// How many digits start at `at` (moved past them), an underscore allowed
/// only between two.
fn digit_run(bytes: &[u8], at: &mut usize) -> usize {
    let mut digits = 0;
    while let Some(&byte) = bytes.get(*at) {
        let joins =
            byte == b'_' && digits > 0 && bytes.get(*at + 1).is_some_and(u8::is_ascii_digit);
        if !byte.is_ascii_digit() && !joins {
            break;
        }
        digits += usize::from(byte.is_ascii_digit());
        *at += 1;
    }
    digits
}

/// What Logstash's `parse_signed_hex_str` makes of a text.
enum Hex {
    /// No line starts with `0x` after an optional sign.
    Absent,
    /// One does, and `Float()` raises: no number after the `0x` (`"0x"`,
    /// `"0xZZ"`, a second line; see [`hex_digits`]).
    Unreadable,
    /// The number, its magnitude in decimal digits. Not `whole` where the
    /// sign Logstash dropped began a later line (`"0x1a\n-"`): `Float()`
    /// read what was left, but `Integer()` of the whole text raises.
    Read {
        negative: bool,
        digits: String,
        whole: bool,
    },
}

/// Logstash's test for hex is `/^[+-]?0x/i`, and Ruby's `^` matches at
/// every line's start, so `"12\n0x5"` takes that path too (and fails it).
/// Then it calls `Float()` on the text with the first sign that starts a
/// line taken out, which Logstash's JRuby 9.4 reads as `Integer()` does
/// and rounds to the nearest double. MRI 3.1's `Float()` is not the
/// reference here: it takes fewer underscores (`"0x1_a"` raises) and
/// rounds some long texts otherwise.
fn hex(text: &str) -> Hex {
    let line_starts = || std::iter::once(0).chain(text.match_indices('\n').map(|(at, _)| at + 1));
    let hex_prefix = |line: &str| {
        let unsigned = line.strip_prefix(['+', '-']).unwrap_or(line);
        unsigned.starts_with("0x") || unsigned.starts_with("0X")
    };
    if !line_starts().any(|at| hex_prefix(&text[at..])) {
        return Hex::Absent;
    }
    let sign_at = line_starts().find(|&at| text[at..].starts_with(['+', '-']));
    let unsigned = match sign_at {
        Some(at) => Cow::Owned(format!("{}{}", &text[..at], &text[at + 1..])),
        None => Cow::Borrowed(text),
    };
    // The text was stripped, but a dropped sign may leave a newline last.
    let unsigned = unsigned.trim_end_matches(ruby_number::is_space);
    let Some(digits) = unsigned
        .strip_prefix("0x")
        .or_else(|| unsigned.strip_prefix("0X"))
        .filter(|digits| hex_digits(digits))
    else {
        return Hex::Unreadable;
    };
    Hex::Read {
        negative: text.starts_with('-'),
        digits: hex_to_decimal(&digits.replace('_', "")),
        whole: sign_at.is_none_or(|at| at == 0),
    }
}

/// Whether `digits` after a `0x` make a number: hexadecimal digits, single
/// underscores between them (`"0x1_a"`), as `Integer()` reads them.
fn hex_digits(digits: &str) -> bool {
    digits
        .split('_')
        .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The decimal digits of the number that hexadecimal `digits` spell, for
/// any length. Only the first 257 significant ones are read: 16^256 is past
/// a double's range already, which is all that matters of a longer one
/// (`RubyInteger::into_value` and `Float()` give the same for it), and a
/// long text would otherwise cost time quadratic in its length.
fn hex_to_decimal(digits: &str) -> String {
    const BILLION: u64 = 1_000_000_000;
    let significant = digits.trim_start_matches('0');
    let kept = &significant[..significant.len().min(257)];
    // Base 10^9, least significant first: each limb writes nine digits.
    let mut limbs: Vec<u64> = Vec::new();
    for digit in kept.bytes() {
        let mut carry = u64::from(char::from(digit).to_digit(16).expect("a hex digit"));
        for limb in &mut limbs {
            let value = *limb * 16 + carry;
            *limb = value % BILLION;
            carry = value / BILLION;
        }
        if carry > 0 {
            limbs.push(carry);
        }
    }
    let Some((most, rest)) = limbs.split_last() else {
        return "0".to_owned();
    };
    let mut decimal = most.to_string();
    for limb in rest.iter().rev() {
        decimal.push_str(&format!("{limb:09}"));
    }
    decimal
}

/// A float as a JSON number; one too large for JSON cannot come from a
/// text Ruby reads, but a float must come out as something, so it is 0.
fn float_value(f: f64) -> Value {
    serde_json::Number::from_f64(f).map_or(Value::from(0), Value::Number)
}

/// Logstash's `TRUE_REGEX`, `/^(true|t|yes|y|1|1.0)$/i`, tried first, then
/// an empty text or its `FALSE_REGEX` twin (`false|f|no|n|0|0.0`), on the
/// value's `to_s`. In Ruby `^` and `$` are line anchors, so a text matches
/// when any of its lines (split at `\n`) is one of the words: `"true\n"`
/// and `"x\nfalse"` convert, and `"0\ny"` is true, the true words being
/// tried over every line first. The `.` in `1.0` is any character. Onigmo's
/// `/i` folds case by Unicode's rules, by which, of all characters, only
/// `ſ` (long s) also matches a letter of these words.
fn boolean(value: &Value) -> Value {
    let text = ruby_number::value_to_s(value);
    let any_line = |words: &[&str]| {
        text.split('\n')
            .any(|line| words.iter().any(|word| line_is(line, word)))
    };
    if any_line(&["true", "t", "yes", "y", "1", "1.0"]) {
        Value::Bool(true)
    } else if text.is_empty() || any_line(&["false", "f", "no", "n", "0", "0.0"]) {
        Value::Bool(false)
    } else {
        value.clone()
    }
}

/// Whether `line` is `word` under `/i`, a `.` in `word` standing for any
/// one character.
fn line_is(line: &str, word: &str) -> bool {
    let mut chars = line.chars();
    word.chars().all(|expected| {
        chars.next().is_some_and(|c| {
            expected == '.' || c.eq_ignore_ascii_case(&expected) || (c == 'ſ' && expected == 's')
        })
    }) && chars.next().is_none()
}

#[cfg(test)]
mod tests;
