//! Ruby's `inspect` of a list or an object in an event: the text
//! Logstash's Ruby plugins make of one wherever they call `to_s` on it, as
//! `Array#to_s` and `Hash#to_s` are `inspect`. mutate's `convert => string`
//! of a list's member and `join` of a hash among the members, grok's match
//! on a hash or a nested list, json's `_@timestamp`: `[1, nil]` and
//! `{"a"=>1}`, not JSON. [`crate::logstash::ruby_number::value_to_s`] hands lists and
//! objects here, so every filter writes one form.
//!
//! The form is Ruby 3.1's, the language of JRuby 9.4 in Logstash 8, and
//! Debian's JRuby 9.3 writes the same (`tests` holds it to `ruby`, and to
//! `jruby` with `WASMSTASH_TEST_RUBY=jruby`). Ruby 3.4, and so JRuby 10,
//! puts spaces around the arrow (`{"a" => 1}`); that is not followed.

use serde_json::{Number, Value};

use crate::logstash::ruby_number::number_to_s;

/// `value.inspect` in Ruby.
pub fn inspect(value: &Value) -> String {
    inspect_with(value, &number_to_s)
}

/// `value.inspect` in Ruby, with its numbers written by `number`: for
/// values whose numbers Ruby holds as another class than Float (json's
/// BigDecimals).
pub fn inspect_with(value: &Value, number: &dyn Fn(&Number) -> String) -> String {
    let mut out = String::new();
    push_inspect_with(value, &mut out, number);
    out
}

fn push_inspect_with(value: &Value, out: &mut String, number: &dyn Fn(&Number) -> String) {
    match value {
        Value::Null => out.push_str("nil"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number(n)),
        Value::String(text) => inspect_str(text, out),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push_str(", ");
                }
                push_inspect_with(item, out, number);
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
                push_inspect_with(item, out, number);
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
mod tests;
