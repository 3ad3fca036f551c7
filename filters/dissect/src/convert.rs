//! `convert_datatype`: turns dissected text into JSON numbers, with
//! Logstash's tags for values that do not convert.

use serde_json::Number;
use wasmstash_sdk::host::{self, Level};
use wasmstash_sdk::logstash::event_rules;
use wasmstash_sdk::logstash::ruby_number::RubyInteger;
use wasmstash_sdk::{Event, Value};

use crate::java_event;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Datatype {
    Int,
    Float,
}

/// One `convert_datatype` entry. The datatype keeps the name it was given,
/// as Logstash's tags spell it that way (`_dataconversionuncoercible_code_INT`).
pub struct Conversion {
    pub field: String,
    pub datatype: Datatype,
    pub name: String,
}

impl Datatype {
    /// The datatype `name` names, in any case: Logstash's `Converters.select`
    /// upper-cases it first, so `"INT"` and `"Float"` are taken there too.
    pub fn parse(name: &Value) -> Option<Datatype> {
        match name.as_str()?.to_uppercase().as_str() {
            "INT" => Some(Datatype::Int),
            "FLOAT" => Some(Datatype::Float),
            _ => None,
        }
    }

    /// The number `text` denotes, as Logstash reads it: as a Java
    /// `BigDecimal` (a sign, digits with an optional point, an optional
    /// exponent; no spaces), made an integer towards zero for `int`, exact
    /// at any length as in Logstash (up to a double's range).
    pub fn convert(self, text: &str) -> Option<Number> {
        let decimal = Decimal::parse(text)?;
        match self {
            Datatype::Int => decimal.integer(),
            // `+ 0.0` makes -0 plain 0: BigDecimal has no negative zero,
            // and Elasticsearch would keep -0.0 apart from 0.0.
            Datatype::Float => (text.parse::<f64>().ok()).and_then(|f| Number::from_f64(f + 0.0)),
        }
    }
}

impl Conversion {
    /// Logstash's tag for a value that is missing (`null`) or does not convert.
    fn failure_tag(&self, missing: bool) -> String {
        let kind = if missing { "nullvalue" } else { "uncoercible" };
        format!("_dataconversion{kind}_{}_{}", self.field, self.name)
    }
}

/// Logstash's warning for a value `convert_datatype` cannot convert, which
/// is left as it is and gets a tag; in its words first.
fn uncoercible(field: &str, value: &str) {
    host::log(
        Level::Warn,
        &format!(
            "Dissector datatype conversion, value cannot be coerced: `{field}` holds {}; it is \
             left as it is",
            host::shortened(value, 255)
        ),
    );
}

/// A number in `BigDecimal`'s grammar: its digits without the point, and
/// the power of ten they are scaled by.
struct Decimal<'a> {
    negative: bool,
    whole: &'a str,
    fraction: &'a str,
    exponent: i64,
}

impl<'a> Decimal<'a> {
    fn parse(text: &'a str) -> Option<Decimal<'a>> {
        let (negative, rest) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => (rest, "0"),
        };
        let exponent_digits = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
        if exponent_digits.is_empty() || !exponent_digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        if whole.len() + fraction.len() == 0 || !all_digits(whole) || !all_digits(fraction) {
            return None;
        }
        Some(Decimal {
            negative,
            whole,
            fraction,
            exponent: exponent.parse().unwrap_or(if exponent.starts_with('-') {
                i64::MIN
            } else {
                i64::MAX
            }),
        })
    }

    /// `toBigInteger()`: the integer part, towards zero.
    fn integer(&self) -> Option<Number> {
        // Digits before the point once the exponent has moved it, cut off
        // at a length no 64-bit number reaches, past which only the float
        // matters.
        let digits: String = self.whole.chars().chain(self.fraction.chars()).collect();
        let point = (self.whole.len() as i64).saturating_add(self.exponent);
        let integer_digits = match point {
            ..=0 => String::from("0"),
            p if p as usize <= digits.len() => digits[..p as usize].to_owned(),
            p if p <= 400 => format!("{digits}{}", "0".repeat(p as usize - digits.len())),
            _ => return None,
        };
        // Exact at any length, up to what a double can hold; past it, no
        // conversion.
        RubyInteger::from_digits(self.negative, &integer_digits).to_number()
    }
}

/// Converts the field in place; a value that does not convert keeps its
/// text and the event gets Logstash's tag for it. An error, with nothing
/// set, where Logstash's event refuses the number (in `tags`), which there
/// raises out of the conversions into the plugin's catch.
pub fn convert_field(event: &mut Event, conversion: &Conversion) -> Result<(), String> {
    let field = conversion.field.as_str();
    let text = match event.get(field) {
        None | Some(Value::Null) => {
            uncoercible(field, "nothing (null, or no such field)");
            event.add_tag(&conversion.failure_tag(true));
            return Ok(());
        }
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => {
            uncoercible(field, &other.to_string());
            event.add_tag(&conversion.failure_tag(false));
            return Ok(());
        }
    };
    let Some(number) = conversion.datatype.convert(&text) else {
        uncoercible(field, &text);
        event.add_tag(&conversion.failure_tag(false));
        return Ok(());
    };
    let number = Value::Number(number);
    if let Some(why) = java_event::refusal(event, field, &number) {
        return Err(format!(
            "convert_datatype: {}",
            event_rules::refused_set(field, why)
        ));
    }
    event.set(field, number);
    Ok(())
}
