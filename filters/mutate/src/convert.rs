//! `convert`, as Logstash's mutate does it in Ruby.
//!
//! Since Logstash 8.14 the plugin reads text strictly where Ruby can: a
//! `float` must be a whole number text (`Float("-")` raises, and the event
//! is tagged `_mutate_error`), an `integer` with an `e` goes through
//! `BigDecimal` (`"1e3"` is 1000), and `0x` text is hexadecimal. An
//! `integer` without an `e` is still read as `String#to_i` reads it (the
//! longest valid prefix, zero when there is none), so an Apache log's
//! `bytes` of `-` still becomes 0. `lenient_conversion` gives the older
//! plugin's reading, where `float` is `String#to_f` and nothing fails.
//! Commas are dropped first in both; `boolean` never fails, leaving a value
//! it does not know as it was (Logstash logs a warning).

use wasmstash_sdk::Value;
use wasmstash_sdk::ruby_number::{self, RubyInteger};

#[derive(Clone, Copy)]
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

impl Conversion {
    pub fn named(name: &str) -> Option<Conversion> {
        Some(match name {
            "integer" => Conversion::Integer,
            "float" => Conversion::Float,
            "integer_eu" => Conversion::IntegerEu,
            "float_eu" => Conversion::FloatEu,
            "string" => Conversion::String,
            "boolean" => Conversion::Boolean,
            _ => return None,
        })
    }

    /// `value` converted; a list's members one by one (nulls kept), and an
    /// object or null as they are. `None` where Logstash's conversion
    /// raises (see the module's note).
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
            let text = number_text(text, eu);
            let text = text.trim_matches(ruby_number::is_space);
            if !lenient && let Some(hex) = hex(text) {
                // Ruby's `Integer("0x1A")`; one with a point is a float first.
                return hex.fract().eq(&0.0).then(|| float_to_integer(hex));
            }
            if !lenient && text.contains('e') {
                // `BigDecimal(text).to_i`: the whole text must be a number.
                let f = strict_float(text)?;
                return Some(float_to_integer(f));
            }
            // An integer too long for 64 bits is exact, as in Ruby.
            ruby_number::to_i(text).into_value()
        }
        other => other.clone(),
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
            let text = number_text(text, eu);
            let text = text.trim_matches(ruby_number::is_space);
            if lenient {
                float_value(ruby_number::to_f(text))
            } else {
                float_value(hex(text).or_else(|| strict_float(text))?)
            }
        }
        other => other.clone(),
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

/// Ruby's reading of `0x` text (with a sign), for `Integer` and `Float`.
fn hex(text: &str) -> Option<f64> {
    let (sign, unsigned) = match text.as_bytes().first()? {
        b'-' => (-1.0, &text[1..]),
        b'+' => (1.0, &text[1..]),
        _ => (1.0, text),
    };
    let digits = unsigned
        .strip_prefix("0x")
        .or_else(|| unsigned.strip_prefix("0X"))?;
    let value = u64::from_str_radix(digits, 16).ok()?;
    Some(sign * value as f64)
}

/// A float as a JSON number; one too large for JSON cannot come from a
/// text Ruby reads, but a float must come out as something, so it is 0.
fn float_value(f: f64) -> Value {
    serde_json::Number::from_f64(f).map_or(Value::from(0), Value::Number)
}

/// `/^(true|t|yes|y|1|1.0)$/i` and its false twin, Logstash's patterns; an
/// empty text is false too. The `.` in `1.0` matches any character there,
/// as in Logstash.
fn boolean(value: &Value) -> Value {
    let text = ruby_number::value_to_s(value).to_ascii_lowercase();
    let one_point_zero =
        |digit: u8| text.len() == 3 && text.as_bytes()[0] == digit && text.as_bytes()[2] == b'0';
    match text.as_str() {
        "true" | "t" | "yes" | "y" | "1" => Value::Bool(true),
        "false" | "f" | "no" | "n" | "0" | "" => Value::Bool(false),
        _ if one_point_zero(b'1') => Value::Bool(true),
        _ if one_point_zero(b'0') => Value::Bool(false),
        _ => value.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmstash_sdk::json;

    #[test]
    fn integers_are_read_as_logstash_8_14_reads_them() {
        for (input, expected) in [
            (json!("42"), Some(json!(42))),
            (json!(" -7 "), Some(json!(-7))),
            (json!("1,234"), Some(json!(1234))),
            (json!("12abc"), Some(json!(12))),
            (json!("1e3"), Some(json!(1000))),
            (json!("1.5e1"), Some(json!(15))),
            (json!("1e"), None),
            (json!("0x1A"), Some(json!(26))),
            (json!("-0x10"), Some(json!(-16))),
            (json!("3.9"), Some(json!(3))),
            (json!("1_000"), Some(json!(1000))),
            (json!("-"), Some(json!(0))),
            (json!(""), Some(json!(0))),
            (json!("forty"), Some(json!(0))),
            (json!(true), Some(json!(1))),
            (json!(-2.7), Some(json!(-2))),
            (json!(5), Some(json!(5))),
        ] {
            assert_eq!(
                Conversion::Integer.apply(&input, false),
                expected,
                "{input}"
            );
        }
        assert_eq!(
            Conversion::IntegerEu.apply(&json!("1.234"), false),
            Some(json!(1234))
        );
        // The older reading: `to_i` whatever the text.
        assert_eq!(
            Conversion::Integer.apply(&json!("1e3"), true),
            Some(json!(1))
        );
        assert_eq!(
            Conversion::Integer.apply(&json!("0x1A"), true),
            Some(json!(0))
        );
    }

    #[test]
    fn floats_are_read_strictly_unless_lenient() {
        for (input, strict, lenient) in [
            (json!("1.5"), Some(json!(1.5)), json!(1.5)),
            (json!(" 1,234.5 "), Some(json!(1234.5)), json!(1234.5)),
            (json!(".5"), Some(json!(0.5)), json!(0.5)),
            (json!("1e3"), Some(json!(1000.0)), json!(1000.0)),
            (json!("1_000.5"), Some(json!(1000.5)), json!(1000.5)),
            (json!("0x1A"), Some(json!(26.0)), json!(0.0)),
            (json!("5."), None, json!(5.0)),
            (json!("2.5e-1x"), None, json!(0.25)),
            (json!("1e"), None, json!(1.0)),
            (json!("-"), None, json!(0.0)),
            (json!(""), None, json!(0.0)),
            (json!("abc"), None, json!(0.0)),
            (json!("1__0"), None, json!(1.0)),
            (json!(true), Some(json!(1.0)), json!(1.0)),
            (json!(3), Some(json!(3.0)), json!(3.0)),
        ] {
            assert_eq!(Conversion::Float.apply(&input, false), strict, "{input}");
            assert_eq!(
                Conversion::Float.apply(&input, true),
                Some(lenient),
                "{input}"
            );
        }
        assert_eq!(
            Conversion::FloatEu.apply(&json!("1.234,5"), false),
            Some(json!(1234.5))
        );
    }

    #[test]
    fn booleans_know_logstash_words_and_leave_the_rest() {
        for (input, expected) in [
            (json!("yes"), json!(true)),
            (json!("T"), json!(true)),
            (json!("1.0"), json!(true)),
            (json!(1), json!(true)),
            (json!("N"), json!(false)),
            (json!(""), json!(false)),
            (json!(0), json!(false)),
            (json!("maybe"), json!("maybe")),
            (json!(2), json!(2)),
        ] {
            assert_eq!(
                Conversion::Boolean.apply(&input, false),
                Some(expected),
                "{input}"
            );
        }
    }

    #[test]
    fn lists_convert_member_by_member_and_objects_stay() {
        assert_eq!(
            Conversion::Integer.apply(&json!(["1", null, "x", 2.5]), false),
            Some(json!([1, null, 0, 2]))
        );
        assert_eq!(
            Conversion::String.apply(&json!([1, 1.5, true, "s"]), false),
            Some(json!(["1", "1.5", "true", "s"]))
        );
        assert_eq!(
            Conversion::Integer.apply(&json!({"a": "1"}), false),
            Some(json!({"a": "1"}))
        );
        // One member Ruby cannot read fails the whole field.
        assert_eq!(Conversion::Float.apply(&json!(["1", "x"]), false), None);
    }

    #[test]
    fn numbers_become_text_as_ruby_writes_them() {
        // Ruby's Float#to_s, whatever text the number came in.
        let texts = r#"[1.50, 1E2, 3.14159265358979323846, 0.00001, 1.5e-7, 1e20, -0.0, 12, 123456789012345678901234567890]"#;
        let numbers: Value = serde_json::from_str(texts).unwrap();
        assert_eq!(
            Conversion::String.apply(&numbers, false),
            Some(json!([
                "1.5",
                "100.0",
                "3.141592653589793",
                "1.0e-05",
                "1.5e-07",
                "1.0e+20",
                "-0.0",
                "12",
                "123456789012345678901234567890"
            ]))
        );
    }
}
