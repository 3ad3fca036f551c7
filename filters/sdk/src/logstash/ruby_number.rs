//! Ruby's `String#to_i` and `String#to_f`, the readings Logstash's Ruby
//! plugins give a number written in text: grok's `:int` and `:float`, and
//! mutate's lenient `convert`. One implementation for every filter, checked
//! against Ruby itself (`tests` below runs `ruby`).
//!
//! The reference is Ruby 3.1 (MRI), the language JRuby 9.4 in Logstash 8
//! implements. Debian's JRuby 9.3 reads some texts otherwise (run the tests
//! with `WASMSTASH_TEST_RUBY=jruby`): it does not skip a leading vertical
//! tab; it takes `1__7` as 17, and an underscore right after the point or
//! the exponent's letter too (`"1e_2"` is 100.0, `"1._5"` 1.5); its reading
//! of an exponent past a double's range depends on what follows (`"1e400"`
//! is infinity as in MRI, `"1e4001x"` 0), and `"0e9999999999"` is infinity
//! where MRI gives 0.0. Its `to_i` agrees.
//!
//! Both skip leading whitespace, take an optional sign and then the longest
//! run that reads as a number, with single underscores between digits;
//! anything after it is ignored, and text with no number reads as 0.

use serde_json::{Number, Value};

use crate::float_digits::{shortest_digits, sign_and_magnitude};

/// An integer as Ruby reads it from text.
#[derive(Clone, Debug, PartialEq)]
pub enum RubyInteger {
    Fits(i64),
    /// Past 64 bits, where Ruby's integers go on without bound: the exact
    /// decimal digits, with a `-` if negative and no leading zeros.
    Digits(String),
}

impl RubyInteger {
    /// The integer that ASCII `digits` (leading zeros allowed) spell, with
    /// a minus if `negative`.
    pub fn from_digits(negative: bool, digits: &str) -> RubyInteger {
        let significant = digits.trim_start_matches('0');
        let signed = if negative {
            format!("-{significant}")
        } else {
            significant.to_owned()
        };
        match signed.parse::<i64>() {
            Ok(n) => RubyInteger::Fits(n),
            Err(_) if significant.is_empty() => RubyInteger::Fits(0),
            Err(_) => RubyInteger::Digits(signed),
        }
    }

    /// The integer as an exact JSON number (serde_json keeps a number's
    /// text here), if a double's range holds it: past about 308 digits no
    /// reader downstream could take it as a number.
    pub fn to_number(&self) -> Option<Number> {
        match self {
            RubyInteger::Fits(n) => Some(Number::from(*n)),
            RubyInteger::Digits(digits) => {
                (digits.parse::<Number>().ok()).filter(crate::json_text::number_in_range)
            }
        }
    }

    /// As [`RubyInteger::to_number`]; one past a double's range becomes the
    /// largest double of its sign.
    pub fn into_value(self) -> Value {
        match self.to_number() {
            Some(number) => Value::Number(number),
            None => {
                let negative = matches!(&self, RubyInteger::Digits(d) if d.starts_with('-'));
                Value::from(f64::MAX.copysign(if negative { -1.0 } else { 1.0 }))
            }
        }
    }
}

/// `text.to_i`.
pub fn to_i(text: &str) -> RubyInteger {
    let (negative, mut digits, rest) = sign_and_digits(text);
    // Base 10 takes its own prefix too: "0d12".to_i is 12 (to_f does not).
    if digits == "0"
        && let Some(after) = rest.strip_prefix(['d', 'D'])
        && !digit_run(after).is_empty()
    {
        digits = digit_run(after);
    }
    if digits.len() <= 18 && digits.bytes().all(|b| b.is_ascii_digit()) {
        // Eighteen digits cannot overflow, so no checks (which cost a
        // 128-bit multiply per digit in WebAssembly): the common case.
        let magnitude = digits
            .bytes()
            .fold(0i64, |value, b| value * 10 + i64::from(b - b'0'));
        return RubyInteger::Fits(if negative { -magnitude } else { magnitude });
    }
    let plain: String = digits.chars().filter(|c| *c != '_').collect();
    RubyInteger::from_digits(negative, &plain)
}

/// `text.to_f`: digits, then a fraction and an exponent, each only if
/// complete (`"5."` is 5, `"1e"` is 1, `".5"` is 0.5).
pub fn to_f(text: &str) -> f64 {
    let (negative, whole, mut rest) = sign_and_digits(text);
    let mut number: String = whole.chars().filter(|c| *c != '_').collect();
    if let Some(after) = rest.strip_prefix('.') {
        let fraction = digit_run(after);
        if !fraction.is_empty() {
            number.push('.');
            number.extend(fraction.chars().filter(|c| *c != '_'));
            rest = &after[fraction.len()..];
        }
    }
    if number.is_empty() {
        // No number, even after a minus sign: a plain 0.0.
        return 0.0;
    }
    if let Some(after) = rest.strip_prefix(['e', 'E']) {
        let (sign, unsigned) = match after.strip_prefix(['+', '-']) {
            Some(tail) => (&after[..1], tail),
            None => ("", after),
        };
        let exponent = digit_run(unsigned);
        if !exponent.is_empty() {
            number.push('e');
            number.push_str(sign);
            number.extend(exponent.chars().filter(|c| *c != '_'));
        }
    }
    let value: f64 = number
        .parse()
        .expect("digits, a fraction and an exponent read as a float");
    if negative { -value } else { value }
}

/// Ruby's `to_s` of a field's value, as Logstash's Ruby plugins turn a
/// value into text: a string as itself, null as empty, a number as
/// [`number_to_s`] writes it, `true`/`false`, and a list or an object as
/// its `inspect` ([`crate::logstash::ruby_inspect`]: `[1, nil]`, `{"a"=>1}`).
pub fn value_to_s(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(number) => number_to_s(number),
        Value::Array(_) | Value::Object(_) => crate::logstash::ruby_inspect::inspect(value),
    }
}

/// Ruby's `to_s` of a JSON number: a float's as [`float_to_s`] writes it,
/// an integer's digits (every one, past 64 bits too).
pub fn number_to_s(number: &Number) -> String {
    match (number.as_i64(), number.as_u64()) {
        (Some(n), _) => n.to_string(),
        (_, Some(n)) => n.to_string(),
        _ if number.is_f64() => float_to_s(number.as_f64().expect("a finite float")),
        _ => number.to_string(),
    }
}

/// Ruby's `Float#to_s`: the shortest digits that read back as `value`,
/// written plainly from 0.0001 up to about 10^16 (`100.0`, `0.00015`) and
/// with an exponent of at least two digits outside it (`1.0e+20`,
/// `9.99e-05`). What mutate's `convert => string` and grok's reading of a
/// float field give in Logstash, whatever text the number came in. This is
/// MRI 3.1's; Debian's JRuby 9.3 writes floats up to 10^19 plainly, some
/// with more digits (`1e16` as `10000000000000000.0`), some with other
/// digits of the same value (`5e-324` as `4.9e-324`), and a few with too
/// few digits to read back as the same double (`5.1773677144249475e19` as
/// `5.17736771442495e+19`).
pub fn float_to_s(value: f64) -> String {
    let (sign, magnitude) = match sign_and_magnitude(value) {
        Ok(written) => written,
        Err(text) => return text,
    };
    let (digits, exponent) = shortest_digits(magnitude);
    // Where the decimal point falls after the first `point` digits.
    let point = exponent + 1;
    let count = digits.len() as i32;
    // Ruby's rule, as its output shows: plain up to 15 integer digits, or
    // 16 with a fraction; from 0.0001 down to four zeros after the point.
    let plain = (point > 0 && (point <= 15 || point < count)) || (-3..=0).contains(&point);
    if !plain {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{first}.{rest}e{exp_sign}{:02}", exponent.abs());
    }
    if point <= 0 {
        let zeros = "0".repeat(point.unsigned_abs() as usize);
        return format!("{sign}0.{zeros}{digits}");
    }
    let point = point as usize;
    if digits.len() > point {
        format!("{sign}{}.{}", &digits[..point], &digits[point..])
    } else {
        format!("{sign}{digits}{}.0", "0".repeat(point - digits.len()))
    }
}

/// Ruby's whitespace here: space, tab, newline, vertical tab, form feed,
/// carriage return.
pub fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{0b}' | '\u{0c}' | '\r')
}

/// Whitespace skipped and a sign taken: (negative, the digit run, the text
/// after it).
fn sign_and_digits(text: &str) -> (bool, &str, &str) {
    let trimmed = text.trim_start_matches(is_space);
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
mod tests;
