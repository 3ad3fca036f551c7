//! Finds `key<value_split>value` pairs in a text, left to right, the way
//! Logstash's kv scan regex does, without a regex engine.
//!
//! Logstash's regex is, in effect: a key (a run of characters that are not
//! separators, or backslash-escaped characters), the value separator (with
//! optional spaces around it in `lenient` mode), then a value that is quoted
//! (`"…"`, `'…'`, and with `include_brackets` `(…)`, `[…]`, `<…>`) and followed
//! by a field separator or the end of a line, or else a run of characters up
//! to the next field separator. A failed attempt moves on by one character.
//! The scan here makes the same decisions in one pass per pair, so its time is
//! linear in the text.

use crate::charset::CharClass;
use crate::pattern::SplitPattern;

/// A field or value separator: a class of single characters, or a pattern.
pub enum Splitter {
    Chars(CharClass),
    Pattern(SplitPattern),
}

impl Splitter {
    fn match_len(&self, text: &str, pos: usize) -> Option<usize> {
        match self {
            Splitter::Chars(class) => class.match_at(text, pos),
            Splitter::Pattern(pattern) => pattern.match_len(text, pos),
        }
    }

    fn is_pattern(&self) -> bool {
        matches!(self, Splitter::Pattern(_))
    }
}

pub struct Scanner {
    field_split: Splitter,
    value_split: Splitter,
    lenient: bool,
    include_brackets: bool,
    /// For character-set separators: which ASCII bytes end a key, and which
    /// end an unquoted value. One lookup per byte instead of a call per
    /// separator per byte, which in WebAssembly was most of kv's time.
    ascii_stops: Option<([bool; 128], [bool; 128])>,
}

impl Scanner {
    pub fn new(
        field_split: Splitter,
        value_split: Splitter,
        lenient: bool,
        include_brackets: bool,
    ) -> Scanner {
        let ascii_stops = match (&field_split, &value_split) {
            (Splitter::Chars(fields), Splitter::Chars(values)) => {
                let mut key = [false; 128];
                let mut value = [false; 128];
                for byte in 0..128u8 {
                    let c = byte as char;
                    value[byte as usize] = fields.contains(c);
                    key[byte as usize] = fields.contains(c) || values.contains(c);
                }
                Some((key, value))
            }
            _ => None,
        };
        Scanner {
            field_split,
            value_split,
            lenient,
            include_brackets,
            ascii_stops,
        }
    }

    /// Calls `pair(key, value)` for every pair, in order. Values may be
    /// empty (Logstash matches `key=` but then ignores it). Stops early when
    /// `pair` returns false.
    pub fn scan<'t>(&self, text: &'t str, mut pair: impl FnMut(&'t str, &'t str) -> bool) {
        let mut pos = 0;
        while pos < text.len() {
            let key_end = self.key_end(text, pos);
            if key_end > pos
                && let Some(value_start) = self.value_split_end(text, key_end)
            {
                let (value, next) = self.value(text, value_start);
                if !pair(&text[pos..key_end], value) {
                    return;
                }
                pos = next;
                continue;
            }
            // Starting anywhere inside the key would end at the same place and
            // fail the same way, so the next possible start is past it.
            pos = if key_end > pos {
                key_end
            } else {
                next_char(text, pos)
            };
        }
    }

    /// Where a key starting at `pos` ends.
    fn key_end(&self, text: &str, mut pos: usize) -> usize {
        let bytes = text.as_bytes();
        // With patterns a separator wins over a backslash escape (so that a
        // separator such as `\\r\\n` works); with character sets `\x`
        // escapes a separator character (`a\ b`). Logstash's spec has both.
        let patterns = self.value_split.is_pattern() || self.field_split.is_pattern();
        while pos < text.len() {
            if let Some((key_stops, _)) = &self.ascii_stops
                && bytes[pos] != b'\\'
                && bytes[pos].is_ascii()
            {
                if key_stops[bytes[pos] as usize] {
                    break;
                }
                pos += 1;
                continue;
            }
            if patterns
                && (self.value_split_end(text, pos).is_some()
                    || self.field_split.match_len(text, pos).is_some()
                    || bytes[pos] == b'\n')
            {
                break;
            }
            if bytes[pos] == b'\\' && pos + 1 < text.len() {
                pos = next_char(text, pos + 1);
                continue;
            }
            if !patterns
                && (self.value_split.match_len(text, pos).is_some()
                    || self.field_split.match_len(text, pos).is_some())
            {
                break;
            }
            pos = next_char(text, pos);
        }
        pos
    }

    /// Where the value starts, if a value separator follows at `pos`.
    fn value_split_end(&self, text: &str, pos: usize) -> Option<usize> {
        if !self.lenient {
            return Some(pos + self.value_split.match_len(text, pos)?);
        }
        // ` *` then the separator: the spaces are greedy but give back what
        // a separator that itself matches a space needs, as a regex would.
        let spaces_end = skip_spaces(text, pos);
        (pos..=spaces_end).rev().find_map(|start| {
            let end = start + self.value_split.match_len(text, start)?;
            Some(skip_spaces(text, end))
        })
    }

    /// The value at `start` and where scanning resumes after it.
    fn value<'t>(&self, text: &'t str, start: usize) -> (&'t str, usize) {
        if let Some(found) = self.quoted(text, start) {
            return found;
        }
        let bytes = text.as_bytes();
        let pattern = self.field_split.is_pattern();
        let mut end = start;
        while end < text.len() {
            if let Some((_, value_stops)) = &self.ascii_stops
                && bytes[end] != b'\\'
                && bytes[end].is_ascii()
            {
                if value_stops[bytes[end] as usize] {
                    break;
                }
                end += 1;
                continue;
            }
            if pattern && (self.field_split.match_len(text, end).is_some() || bytes[end] == b'\n') {
                break;
            }
            if bytes[end] == b'\\' && end + 1 < text.len() {
                end = next_char(text, end + 1);
                continue;
            }
            if !pattern && self.field_split.match_len(text, end).is_some() {
                break;
            }
            end = next_char(text, end);
        }
        (&text[start..end], self.after_separator(text, end))
    }

    /// A quoted or bracketed value, if one starts at `start` and is followed
    /// by a field separator or the end of a line.
    fn quoted<'t>(&self, text: &'t str, start: usize) -> Option<(&'t str, usize)> {
        let close = match text.as_bytes().get(start)? {
            b'"' => b'"',
            b'\'' => b'\'',
            b'(' if self.include_brackets => b')',
            b'[' if self.include_brackets => b']',
            b'<' if self.include_brackets => b'>',
            _ => return None,
        };
        let bytes = text.as_bytes();
        let mut end = start + 1;
        while end < text.len() && bytes[end] != close {
            end += if bytes[end] == b'\\' && end + 1 < text.len() {
                1 + text[end + 1..].chars().next().map_or(0, char::len_utf8)
            } else {
                1
            };
        }
        if end >= text.len() {
            return None;
        }
        let after = end + 1;
        let at_line_end = after == text.len() || bytes[after] == b'\n';
        if !at_line_end && self.field_split.match_len(text, after).is_none() {
            return None;
        }
        Some((&text[start + 1..end], self.after_separator(text, after)))
    }

    fn after_separator(&self, text: &str, pos: usize) -> usize {
        if pos >= text.len() {
            return pos;
        }
        pos + self.field_split.match_len(text, pos).unwrap_or(0)
    }
}

fn skip_spaces(text: &str, mut pos: usize) -> usize {
    while text.as_bytes().get(pos) == Some(&b' ') {
        pos += 1;
    }
    pos
}

fn next_char(text: &str, pos: usize) -> usize {
    match text.as_bytes().get(pos) {
        Some(byte) if byte.is_ascii() => pos + 1,
        _ => pos + text[pos..].chars().next().map_or(1, char::len_utf8),
    }
}
