//! Ruby's `String` and `Array` methods as mutate's operations call them
//! (`strip`, `capitalize`, `split`, `join`), where Rust's own differ: which
//! characters are whitespace, how a first letter is titlecased, how a
//! split drops empty parts. `ruby_oracle.rs` holds them to Ruby itself.

use std::borrow::Cow;

use wasmstash_sdk::Value;
use wasmstash_sdk::{ruby_number, text_case};

/// Ruby's `strip`: ASCII whitespace and NUL from both ends, no other
/// Unicode space.
pub fn strip(text: &str) -> Cow<'_, str> {
    let strippable = |c: char| matches!(c, ' ' | '\t' | '\n' | '\u{0b}' | '\u{0c}' | '\r' | '\0');
    match text.trim_matches(strippable) {
        trimmed if trimmed.len() == text.len() => Cow::Borrowed(text),
        trimmed => Cow::Owned(trimmed.to_owned()),
    }
}

/// Ruby's `capitalize`: the first character upper case, the rest lower.
pub fn capitalize(text: &str) -> Cow<'_, str> {
    let mut chars = text.chars();
    let Some(first) = chars.next() else {
        return Cow::Borrowed(text);
    };
    let mut capitalized = String::with_capacity(text.len());
    titlecase(first, &mut capitalized);
    capitalized.push_str(&text_case::lowercase(chars.as_str()));
    if capitalized == text {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(capitalized)
    }
}

/// Appends `c` in titlecase, which Ruby's `capitalize` gives the first
/// character: the uppercase, except for the letters Unicode titlecases
/// otherwise (UnicodeData.txt and SpecialCasing.txt). Those are digraphs
/// (`ǆ` to `ǅ`), ligatures (`ß` to `Ss`, `ﬁ` to `Fi`), Greek letters with
/// a iota subscript (`ᾳ` to `ᾼ`) and Georgian letters, which are their
/// own titlecase.
fn titlecase(c: char, out: &mut String) {
    let special: &str = match c {
        '\u{1c4}'..='\u{1c6}' => "\u{1c5}",
        '\u{1c7}'..='\u{1c9}' => "\u{1c8}",
        '\u{1ca}'..='\u{1cc}' => "\u{1cb}",
        '\u{1f1}'..='\u{1f3}' => "\u{1f2}",
        'ß' => "Ss",
        '\u{fb00}' => "Ff",
        '\u{fb01}' => "Fi",
        '\u{fb02}' => "Fl",
        '\u{fb03}' => "Ffi",
        '\u{fb04}' => "Ffl",
        '\u{fb05}' | '\u{fb06}' => "St",
        '\u{587}' => "\u{535}\u{582}",
        '\u{fb13}' => "\u{544}\u{576}",
        '\u{fb14}' => "\u{544}\u{565}",
        '\u{fb15}' => "\u{544}\u{56b}",
        '\u{fb16}' => "\u{54e}\u{576}",
        '\u{fb17}' => "\u{544}\u{56d}",
        '\u{1fb2}' => "\u{1fba}\u{345}",
        '\u{1fb4}' => "\u{386}\u{345}",
        '\u{1fb7}' => "\u{391}\u{342}\u{345}",
        '\u{1fc2}' => "\u{1fca}\u{345}",
        '\u{1fc4}' => "\u{389}\u{345}",
        '\u{1fc7}' => "\u{397}\u{342}\u{345}",
        '\u{1ff2}' => "\u{1ffa}\u{345}",
        '\u{1ff4}' => "\u{38f}\u{345}",
        '\u{1ff7}' => "\u{3a9}\u{342}\u{345}",
        '\u{1fb3}' | '\u{1fbc}' => "\u{1fbc}",
        '\u{1fc3}' | '\u{1fcc}' => "\u{1fcc}",
        '\u{1ff3}' | '\u{1ffc}' => "\u{1ffc}",
        // ᾀ..ᾇ, ᾐ..ᾗ, ᾠ..ᾧ and their titlecase forms eight places on.
        '\u{1f80}'..='\u{1faf}' => {
            let offset = (c as u32 - 0x1f80) % 16;
            let titled = 0x1f80 + (c as u32 - 0x1f80) / 16 * 16 + 8 + offset % 8;
            out.push(char::from_u32(titled).expect("a Greek letter"));
            return;
        }
        '\u{10d0}'..='\u{10fa}' | '\u{10fd}'..='\u{10ff}' => {
            out.push(c);
            return;
        }
        _ => {
            out.extend(c.to_uppercase());
            return;
        }
    };
    out.push_str(special);
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
    let mut out = String::new();
    let mut first = true;
    let mut push = |text: &str| {
        if !first {
            out.push_str(separator);
        }
        first = false;
        out.push_str(text);
    };
    fn each(items: &[Value], push: &mut impl FnMut(&str)) {
        for item in items {
            match item {
                Value::Array(inner) => each(inner, push),
                // Borrowed: most members are text, which needs no copy.
                Value::String(text) => push(text),
                other => push(&ruby_number::value_to_s(other)),
            }
        }
    }
    each(items, &mut push);
    out
}
