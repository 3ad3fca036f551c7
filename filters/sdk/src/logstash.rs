//! Logstash's own behaviour, for a filter that means to give the fields a
//! Logstash plugin would: the options every Logstash filter takes, Ruby's
//! and Java's readings and printings of numbers and text, date patterns as
//! `sprintf` prints them, and the sets Logstash's event refuses.
//!
//! The built-in filters share these so that each behaviour has one
//! implementation, checked against Ruby or Java where the tests can ask
//! them. A filter of your own needs them only to match Logstash exactly.

pub mod common;
pub mod date_format;
pub mod event_rules;
pub mod java_number;
pub(crate) mod option_types;
pub mod ruby_inspect;
pub mod ruby_number;
pub mod text_case;
