//! Ruby's `String` and `Array` methods as mutate's operations call them
//! (`strip`, `split`, `join`), where Rust's own differ: which characters
//! are whitespace, how a split drops empty parts. Case mappings, which kv
//! shares, are the SDK's `text_case`. `ruby_oracle.rs` holds them all to
//! Ruby itself.

use std::borrow::Cow;

use wasmstash_sdk::Value;
use wasmstash_sdk::logstash::ruby_number;

/// Ruby's `strip`: ASCII whitespace and NUL from both ends, no other
/// Unicode space.
pub fn strip(text: &str) -> Cow<'_, str> {
    match text.trim_matches(is_strippable) {
        trimmed if trimmed.len() == text.len() => Cow::Borrowed(text),
        trimmed => Cow::Owned(trimmed.to_owned()),
    }
}

/// What Ruby's `strip` takes off: its whitespace, and NUL.
pub fn is_strippable(c: char) -> bool {
    ruby_number::is_space(c) || c == '\0'
}

/// Ruby's `String#split` with a string separator: a single space splits at
/// runs of whitespace and ignores leading whitespace, an empty separator
/// splits into characters, and empty strings at the end are dropped.
pub fn ruby_split(text: &str, separator: &str) -> Vec<Value> {
    let mut parts: Vec<&str> = match separator {
        " " => text
            .split(['\t', '\n', '\u{0b}', '\u{0c}', '\r', ' '])
            .filter(|part| !part.is_empty())
            .collect(),
        "" => text
            .char_indices()
            .map(|(i, c)| &text[i..i + c.len_utf8()])
            .collect(),
        separator => text.split(separator).collect(),
    };
    while parts.last() == Some(&"") {
        parts.pop();
    }
    parts.into_iter().map(Value::from).collect()
}

/// Ruby's `Array#join`: members as text (nested lists joined too, null as
/// nothing), numbers as `to_s` writes them (`1.0e+20`), as
/// `convert => string` does.
pub fn join(items: &[Value], separator: &str) -> String {
    // A nested list is joined in its place, as Ruby's `Array#join` does:
    // an empty one still has its separator before it (`x,,y`).
    fn join_into(items: &[Value], separator: &str, out: &mut String) {
        for (index, item) in items.iter().enumerate() {
            if index > 0 {
                out.push_str(separator);
            }
            match item {
                Value::Array(inner) => join_into(inner, separator, out),
                // Borrowed: most members are text, which needs no copy.
                Value::String(text) => out.push_str(text),
                other => out.push_str(&ruby_number::value_to_s(other)),
            }
        }
    }
    let mut out = String::new();
    join_into(items, separator, &mut out);
    out
}
