//! Logstash's reading of an option's value as the option's type: the
//! coercions of `validate_value` in its config mixin, applied where a
//! filter reads its options through [`WithCommon`](super::common::WithCommon).
//!
//! A logstash.conf has no booleans, `break_on_match => false` is the text
//! `"false"`, and quoting a number is common (`timeout_millis => "5000"`).
//! Logstash takes these, and also a list of one value where one value is
//! wanted (`ecs_compatibility => ["v8"]`). A block moved over from there
//! should load here as it loaded there, so these are taken the same way,
//! by what the option's Rust type asks for:
//!
//! - a boolean: text with a line that reads `true` or `false` (Ruby's
//!   `/^(true|false)$/` tests line by line), which is true only when the
//!   whole text is `true`, as Logstash's `== "true"` makes it;
//! - a number: text that Ruby's `to_i` or `to_f` gives back unchanged
//!   (`"5000"`, `"-3"`, `"1.5"`, but not `"05000"`, `"+5"` or `"1e3"`),
//!   read as a float when it holds a point;
//! - one value (a boolean, number, text or one word of a set): a list of
//!   one such value is that value, as Logstash's `[*value].first`.
//!
//! Only an option's own value is turned, as in Logstash: nothing inside a
//! hash or a list is. Anything else is read as written, so a wrong value
//! still gets serde's message ("invalid type: string \"yes\", expected a
//! boolean").

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::{Map, Value};

use super::ruby_number::{self, RubyInteger};

/// Reads a filter's own options from `options`, each value turned as
/// Logstash turns it. The error keeps the path to the option it is about.
pub(crate) fn read_options<T: DeserializeOwned>(
    options: &Map<String, Value>,
) -> Result<T, serde_path_to_error::Error<serde_json::Error>> {
    serde_path_to_error::deserialize(Options(options))
}

/// The options, as a map whose values are [`OptionValue`]s.
struct Options<'a>(&'a Map<String, Value>);

impl<'de> Deserializer<'de> for Options<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_map(Entries {
            entries: self.0.iter(),
            value: None,
        })
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct Entries<'a> {
    entries: serde_json::map::Iter<'a>,
    value: Option<&'a Value>,
}

impl<'de> MapAccess<'de> for Entries<'de> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        seed.deserialize(BorrowedStrDeserializer::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        let value = (self.value.take())
            .ok_or_else(|| de::Error::custom("an option's value was asked for before its name"))?;
        seed.deserialize(OptionValue(value))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// One option's value: turned as the module's doc says where the type asked
/// for is one Logstash turns values into, and read as written otherwise.
struct OptionValue<'a>(&'a Value);

impl<'a> OptionValue<'a> {
    /// The one member of a list of one, which Logstash takes for a value.
    fn only_member(&self) -> Option<OptionValue<'a>> {
        match self.0 {
            Value::Array(members) if members.len() == 1 => Some(OptionValue(&members[0])),
            _ => None,
        }
    }

    fn number<V: Visitor<'a>>(self, visitor: V) -> Result<V::Value, serde_json::Error> {
        match self.0 {
            // Given to the visitor as the kind of number it is, so that a
            // wrong one says what it was (`integer -1`, `floating point 1.5`).
            Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(n), _, _) => visitor.visit_u64(n),
                (None, Some(n), _) => visitor.visit_i64(n),
                (None, None, Some(n)) => visitor.visit_f64(n),
                _ => self.0.deserialize_any(visitor),
            },
            Value::String(text) => match number_in_text(text) {
                Some(TextNumber::Integer(n)) => visitor.visit_i64(n),
                Some(TextNumber::Float(n)) => visitor.visit_f64(n),
                None => visitor.visit_borrowed_str(text),
            },
            _ => match self.only_member() {
                Some(member) => member.number(visitor),
                None => self.0.deserialize_any(visitor),
            },
        }
    }
}

macro_rules! numbers {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            self.number(visitor)
        }
    )*};
}

/// Methods for one value that a list of one stands for, and that are
/// otherwise read as written.
macro_rules! single_values {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            match self.only_member() {
                Some(member) => member.$method(visitor),
                None => self.0.$method(visitor),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for OptionValue<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.0.deserialize_any(visitor)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match (self.0, self.only_member()) {
            (Value::String(text), _) => match boolean_in_text(text) {
                Some(b) => visitor.visit_bool(b),
                None => visitor.visit_borrowed_str(text),
            },
            (_, Some(member)) => member.deserialize_bool(visitor),
            (value, None) => value.deserialize_bool(visitor),
        }
    }

    numbers! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_f32 deserialize_f64
    }

    single_values! { deserialize_char deserialize_str deserialize_string }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.only_member() {
            Some(member) => member.deserialize_enum(name, variants, visitor),
            None => self.0.deserialize_enum(name, variants, visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    forward_to_deserialize_any! {
        i128 u128 bytes byte_buf unit unit_struct seq tuple tuple_struct map
        struct identifier ignored_any
    }
}

/// Logstash's boolean in text: `Some` when a line of it reads `true` or
/// `false`, and then true only for exactly `true`.
fn boolean_in_text(text: &str) -> Option<bool> {
    (text.split('\n'))
        .any(|line| line == "true" || line == "false")
        .then_some(text == "true")
}

enum TextNumber {
    Integer(i64),
    Float(f64),
}

/// Logstash's number in text: text that Ruby's `to_f` or `to_i` writes
/// back unchanged, read with `to_f` when it holds a point and with `to_i`
/// otherwise. `None` for other text, and for an integer past 64 bits
/// (Ruby's would be a Bignum, which no option here takes).
fn number_in_text(text: &str) -> Option<TextNumber> {
    let as_integer = ruby_number::to_i(text);
    let integer_text = match &as_integer {
        RubyInteger::Fits(n) => n.to_string(),
        RubyInteger::Digits(digits) => digits.clone(),
    };
    let as_float = ruby_number::to_f(text);
    if integer_text != text && ruby_number::float_to_s(as_float) != text {
        return None;
    }
    if text.contains('.') {
        return Some(TextNumber::Float(as_float));
    }
    match as_integer {
        RubyInteger::Fits(n) => Some(TextNumber::Integer(n)),
        RubyInteger::Digits(_) => None,
    }
}

#[cfg(test)]
mod tests;
