//! `inspect`, and `value_to_s` of every kind of value, against Ruby's own
//! on random documents. Needs `ruby` (scripts/test installs it).

use super::*;
use crate::json;
use crate::logstash::ruby_number::value_to_s;
use crate::testing::{RubyOracle, XorShift, assert_agrees, hex, unhex};

/// Each value's `to_s`, as Ruby 3.1 (MRI, and JRuby 9.3) prints it for the
/// same JSON read with Ruby's JSON.
#[test]
fn values_are_written_as_ruby_writes_them() {
    for (value, ruby) in [
        (json!("2020-13-01"), "2020-13-01"),
        (json!(null), ""),
        (json!(true), "true"),
        (json!(42), "42"),
        (json!({"a": 1}), r#"{"a"=>1}"#),
        (json!([1, 2]), "[1, 2]"),
        (json!({}), "{}"),
        (json!([]), "[]"),
        (
            json!({"a": [null, false, 2.5, "x"], "b": {"c": {}}}),
            r#"{"a"=>[nil, false, 2.5, "x"], "b"=>{"c"=>{}}}"#,
        ),
        (
            json!(["q\"b\\s\n\t\r\u{c}\u{b}\u{8}\u{7}\u{1b}\u{0}\u{7f}\u{84}\u{85}é"]),
            "[\"q\\\"b\\\\s\\n\\t\\r\\f\\v\\b\\a\\e\\u0000\\u007F\\u0084\u{85}é\"]",
        ),
        (
            json!([
                "#{x}#$y#@z#a#",
                "\u{2028}\u{fdd0}\u{ffff}\u{1fffe}\u{1f600}\u{a0}"
            ]),
            "[\"\\#{x}\\#$y\\#@z#a#\", \"\\u2028\\uFDD0\\uFFFF\\u{1FFFE}\u{1f600}\u{a0}\"]",
        ),
    ] {
        assert_eq!(value_to_s(&value), ruby, "{value}");
    }
    let parsed: Value =
        serde_json::from_str("[1.5e3, 1e20, 12345678901234567890123, -0.0, -0]").unwrap();
    assert_eq!(
        value_to_s(&parsed),
        "[1500.0, 1.0e+20, 12345678901234567890123, -0.0, 0]"
    );
    let float: Value = serde_json::from_str("1.5e3").unwrap();
    assert_eq!(value_to_s(&float), "1500.0");
    assert_eq!(inspect(&json!("a\"b")), r#""a\"b""#);
    assert_eq!(inspect(&json!(null)), "nil");
}

/// Reads a hex-encoded JSON document; answers its `to_s`, hex-encoded, as
/// a string's `to_s` may hold a line break.
const TO_S: &str = r##"
require "json"
STDOUT.sync = true
STDIN.each_line do |line|
  value = JSON.parse([line.strip].pack("H*").force_encoding("UTF-8"))
  puts value.to_s.unpack1("H*")
end
"##;

/// What strings are made of: the escapes Ruby names, `#` before what would
/// interpolate, controls, separators, noncharacters, and printable text of
/// each width. No unassigned code point, which Ruby escapes and we do not.
const PIECES: &[&str] = &[
    "a",
    "é",
    "\"",
    "\\",
    "\n",
    "\t",
    "\r",
    "\u{c}",
    "\u{b}",
    "\u{8}",
    "\u{7}",
    "\u{1b}",
    "\0",
    "\u{7f}",
    "\u{84}",
    "\u{85}",
    "\u{a0}",
    "#",
    "{",
    "$",
    "@",
    "\u{2028}",
    "\u{2029}",
    "\u{200b}",
    "\u{ad}",
    "\u{feff}",
    "\u{fdd0}",
    "\u{fffe}",
    "\u{1f600}",
    "\u{10ffff}",
    "=>",
    ", ",
];

/// Numbers as a log's JSON writes them: integers of every size, and floats
/// with fractions and exponents (which Ruby's `to_s` rewrites).
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "7",
    "-12",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "123456789012345678901234567890",
    "1.0",
    "-0.0",
    "2.50",
    "1e20",
    "1E2",
    "1.5e-7",
    "0.0001",
    "1e16",
    "123456789.125",
    "5e-324",
    "1.7976931348623157e308",
];

fn random_value(rng: &mut XorShift, depth: usize) -> Value {
    let kinds = if depth == 0 { 5 } else { 7 };
    match rng.below(kinds) {
        0 => Value::Null,
        1 => Value::Bool(rng.below(2) == 1),
        2 => serde_json::from_str(NUMBERS[rng.below(NUMBERS.len())]).unwrap(),
        3 | 4 => Value::String(rng.joined(PIECES, 4)),
        5 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_value(rng, depth - 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..rng.below(4))
                .map(|_| (rng.joined(PIECES, 4), random_value(rng, depth - 1)))
                .collect(),
        ),
    }
}

#[test]
fn to_s_agrees_with_ruby() {
    let mut ruby = RubyOracle::start(TO_S);
    let mut rng = XorShift(0x1a5_ec7_0f5);
    let mut differences = Vec::new();
    for _ in 0..3_000 {
        let value = random_value(&mut rng, 3);
        let document = value.to_string();
        let theirs = unhex(&ruby.ask(&hex(&document)));
        let ours = value_to_s(&value);
        if ours != theirs {
            differences.push(format!("{document}: ours {ours:?}, Ruby {theirs:?}"));
        }
    }
    assert_agrees("Ruby", &differences);
}
