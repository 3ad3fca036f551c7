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
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor,
};
use serde::forward_to_deserialize_any;
use serde_json::{Map, Value};

use super::ruby_number::{self, RubyInteger};

/// Reads a filter's own options from `options`, each value turned as
/// Logstash turns it. The error keeps the path to the option it is about.
pub(crate) fn read_options<T: DeserializeOwned>(
    options: Map<String, Value>,
) -> Result<T, serde_path_to_error::Error<serde_json::Error>> {
    let options = Value::Object(options);
    serde_path_to_error::deserialize(OptionValue {
        value: &options,
        level: Level::Options,
    })
}

/// Reads one option's value as Logstash turns it into `T`.
pub(crate) fn read_option<T: DeserializeOwned>(value: &Value) -> Result<T, serde_json::Error> {
    T::deserialize(OptionValue {
        value,
        level: Level::Option,
    })
}

/// Where a value is: Logstash turns an option's own value and nothing in
/// it, and unwraps a list of one only once.
#[derive(Clone, Copy, PartialEq)]
enum Level {
    /// The table of options.
    Options,
    /// An option's own value.
    Option,
    /// The one member of an option's list of one.
    Unwrapped,
    /// Anything inside a value, read as written.
    Inside,
}

/// A value of the options, read as the module's doc says. Also walks what
/// is inside each option itself, rather than leaving that to serde_json's
/// `Value`, which with `arbitrary_precision` says "invalid type: number"
/// or "invalid number" where a reader of the config needs "integer `5`".
struct OptionValue<'a> {
    value: &'a Value,
    level: Level,
}

impl<'a> OptionValue<'a> {
    /// Logstash's `[*value].first` for an option of one value: the member
    /// of a list of one, itself not unwrapped again.
    fn only_member(&self) -> Option<OptionValue<'a>> {
        match self.value {
            Value::Array(members) if members.len() == 1 && self.level == Level::Option => {
                Some(OptionValue {
                    value: &members[0],
                    level: Level::Unwrapped,
                })
            }
            _ => None,
        }
    }

    /// Turned by Logstash when the option's type asks for it.
    fn turned(&self) -> bool {
        matches!(self.level, Level::Option | Level::Unwrapped)
    }

    /// A number, or text or a list of one turned into one. `whole` when
    /// the visitor takes only integers: a float with no fraction is given
    /// as the integer it is, as Logstash's `5000.0` works where a count
    /// is wanted.
    fn number<V: Visitor<'a>>(
        self,
        whole: bool,
        visitor: V,
    ) -> Result<V::Value, serde_json::Error> {
        let float = |n: f64, visitor: V| {
            if whole && n.fract() == 0.0 && (i64::MIN as f64..=i64::MAX as f64).contains(&n) {
                visitor.visit_i64(n as i64)
            } else {
                visitor.visit_f64(n)
            }
        };
        match self.value {
            // Given to the visitor as the kind of number it is, so that a
            // wrong one says what it was (`integer -1`, `floating point 1.5`).
            Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
                (Some(n), _, _) => visitor.visit_u64(n),
                (None, Some(n), _) => visitor.visit_i64(n),
                (None, None, Some(n)) => float(n, visitor),
                _ => visitor.visit_str(n.as_str()),
            },
            Value::String(text) if self.turned() => match number_in_text(text) {
                Some(TextNumber::Integer(n)) => visitor.visit_i64(n),
                Some(TextNumber::Float(n)) => float(n, visitor),
                None => visitor.visit_borrowed_str(text),
            },
            _ => match self.only_member() {
                Some(member) => member.number(whole, visitor),
                None => self.deserialize_any(visitor),
            },
        }
    }
}

/// The integer methods: a float with no fraction is taken as its integer.
macro_rules! integers {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            self.number(true, visitor)
        }
    )*};
}

/// The text methods: a list of one is its member, and a number says it is
/// one ("invalid type: integer `5`, expected a string").
macro_rules! texts {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            match (self.value, self.only_member()) {
                (_, Some(member)) => member.$method(visitor),
                (Value::Number(_), None) => self.number(false, visitor),
                _ => self.deserialize_any(visitor),
            }
        }
    )*};
}

impl<'de> Deserializer<'de> for OptionValue<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        let level = match self.level {
            Level::Options => Level::Option,
            _ => Level::Inside,
        };
        match self.value {
            Value::Array(members) => visitor.visit_seq(Members {
                members: members.iter(),
            }),
            Value::Object(entries) => visitor.visit_map(Entries {
                entries: entries.iter(),
                value: None,
                level,
            }),
            // A number kept as written, for a `Value` that holds it.
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match (self.value, self.only_member()) {
            (Value::String(text), _) if self.turned() => match boolean_in_text(text) {
                Some(b) => visitor.visit_bool(b),
                None => visitor.visit_borrowed_str(text),
            },
            (_, Some(member)) => member.deserialize_bool(visitor),
            _ => self.deserialize_any(visitor),
        }
    }

    integers! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.number(false, visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.number(false, visitor)
    }

    texts! { deserialize_char deserialize_str deserialize_string }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.only_member() {
            Some(member) => member.deserialize_enum(name, variants, visitor),
            None => self.value.deserialize_enum(name, variants, visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.value {
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
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

struct Entries<'a> {
    entries: serde_json::map::Iter<'a>,
    value: Option<&'a Value>,
    level: Level,
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
            .ok_or_else(|| de::Error::custom("a value was asked for before its key"))?;
        seed.deserialize(OptionValue {
            value,
            level: self.level,
        })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

struct Members<'a> {
    members: std::slice::Iter<'a, Value>,
}

impl<'de> SeqAccess<'de> for Members<'de> {
    type Error = serde_json::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Self::Error> {
        (self.members.next())
            .map(|value| {
                seed.deserialize(OptionValue {
                    value,
                    level: Level::Inside,
                })
            })
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.members.len())
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
