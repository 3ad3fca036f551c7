//! Ruby's `to_s` of a parsed JSON value, for the text json.rb keeps in
//! `_@timestamp` (`parsed_timestamp.to_s`). A string is itself and a
//! number is written as Ruby writes it (`1.5e3` is `1500.0`), but a list
//! or an object is Ruby's `inspect` of it, `[1, nil]` and `{"a"=>1}`, not
//! JSON. This is the form of Ruby 3.1, the language of Logstash 8's JRuby
//! 9.4 (Ruby 3.4 writes `{"a" => 1}`).

use wasmstash_sdk::Value;
use wasmstash_sdk::ruby_number::{number_to_s, value_to_s};

/// `value.to_s` in Ruby: the SDK's [`value_to_s`] for a string, number,
/// boolean or null, and Ruby's `inspect` for a list or an object, where
/// the SDK writes JSON.
pub fn to_s(value: &Value) -> String {
    match value {
        Value::Array(_) | Value::Object(_) => {
            let mut out = String::new();
            inspect(value, &mut out);
            out
        }
        scalar => value_to_s(scalar),
    }
}

/// `value.inspect` in Ruby, appended to `out`.
fn inspect(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("nil"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(number) => out.push_str(&number_to_s(number)),
        Value::String(text) => inspect_str(text, out),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                inspect(item, out);
            }
            out.push(']');
        }
        Value::Object(members) => {
            out.push('{');
            for (index, (key, item)) in members.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                inspect_str(key, out);
                out.push_str("=>");
                inspect(item, out);
            }
            out.push('}');
        }
    }
}

/// `String#inspect` of UTF-8 text: quoted, with `"` and `\` escaped, the
/// C escapes Ruby names (`\n`, `\e`), `#` escaped where it would start an
/// interpolation (`#{`, `#$`, `#@`), and the characters Onigmo does not
/// count as printable as `\uXXXX` or `\u{XXXXX}`. Of those, these are the
/// control characters (but U+0085, which Ruby writes as it is), the line
/// and paragraph separators and the noncharacters; the code points that
/// are merely unassigned in Ruby's Unicode version, which it escapes too,
/// are written as they are, as this module carries no Unicode table.
fn inspect_str(text: &str, out: &mut String) {
    out.push('"');
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            '\u{8}' => out.push_str("\\b"),
            '\u{7}' => out.push_str("\\a"),
            '\u{1b}' => out.push_str("\\e"),
            '#' if matches!(chars.peek(), Some('{' | '$' | '@')) => out.push_str("\\#"),
            c if unprintable(c) => {
                let code = c as u32;
                if code < 0x10000 {
                    out.push_str(&format!("\\u{code:04X}"));
                } else {
                    out.push_str(&format!("\\u{{{code:X}}}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn unprintable(c: char) -> bool {
    let code = c as u32;
    (c.is_control() && c != '\u{85}')
        || matches!(c, '\u{2028}' | '\u{2029}')
        || (0xfdd0..=0xfdef).contains(&code)
        || code & 0xfffe == 0xfffe
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmstash_sdk::json;

    /// Each value's `to_s`, as Ruby 3.1 (MRI, and JRuby 9.3) prints it for
    /// the same JSON read with Ruby's JSON.
    #[test]
    fn values_are_written_as_ruby_writes_them() {
        for (value, ruby) in [
            (json!("2020-13-01"), "2020-13-01"),
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
            assert_eq!(to_s(&value), ruby, "{value}");
        }
        let parsed: Value = serde_json::from_str("[1.5e3, 1e20, 12345678901234567890123]").unwrap();
        assert_eq!(to_s(&parsed), "[1500.0, 1.0e+20, 12345678901234567890123]");
        let float: Value = serde_json::from_str("1.5e3").unwrap();
        assert_eq!(to_s(&float), "1500.0");
    }
}
