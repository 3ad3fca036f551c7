//! `convert_datatype`: turns dissected text into JSON numbers, with
//! Logstash's tags for values that do not convert.

use serde_json::Number;
use wasmstash_sdk::{Event, Value};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Datatype {
    Int,
    Float,
}

impl Datatype {
    pub fn parse(name: &Value) -> Option<Datatype> {
        match name.as_str()? {
            "int" => Some(Datatype::Int),
            "float" => Some(Datatype::Float),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Datatype::Int => "int",
            Datatype::Float => "float",
        }
    }

    /// The number `text` denotes, as Java's `Long.parseLong` and
    /// `Double.parseDouble` (which allows surrounding spaces) read it.
    pub fn convert(self, text: &str) -> Option<Number> {
        match self {
            Datatype::Int => text.parse::<i64>().ok().map(Number::from),
            Datatype::Float => text.trim().parse::<f64>().ok().and_then(Number::from_f64),
        }
    }

    /// Logstash's tag for a value that is missing (`null`) or does not convert.
    pub fn failure_tag(self, field: &str, missing: bool) -> String {
        let kind = if missing { "nullvalue" } else { "uncoercible" };
        format!("_dataconversion{kind}_{field}_{}", self.name())
    }
}

/// Converts `field` in place; a value that does not convert keeps its text
/// and the event gets Logstash's tag for it.
pub fn convert_field(event: &mut Event, field: &str, datatype: Datatype) {
    let text = match event.get(field) {
        None | Some(Value::Null) => {
            event.add_tag(&datatype.failure_tag(field, true));
            return;
        }
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => String::new(),
    };
    match datatype.convert(&text) {
        Some(number) => event.set(field, Value::Number(number)),
        None => event.add_tag(&datatype.failure_tag(field, false)),
    }
}
