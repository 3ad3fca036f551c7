//! Validates events before they reach a filter and after they leave one.
//!
//! Filters read events lazily and trust that what they get is one well-formed
//! JSON object with no repeated keys (ABI v1 promises that); a filter's output
//! is trusted by nobody. This check is the single place both promises are kept.
//!
//! It runs on every event that enters and on every event a filter replaces,
//! so it is a purpose-built validator rather than a parse into values: it
//! never builds strings, and scans string bodies eight bytes at a time. It
//! accepts exactly what `serde_json` (which the SDK uses to read values) can
//! parse, no more and no less: the tests compare the two on real and mangled
//! events.

use std::borrow::Cow;
use std::collections::HashSet;

use wasmstash_sdk::json_text::skip_plain_string_bytes;
use wasmstash_sdk::{scan, wire};

/// Nesting deeper than this is refused, as `serde_json` refuses it.
const MAX_DEPTH: usize = 128;

/// Checks that `bytes` is one UTF-8 JSON object with no duplicate key at any
/// depth. The error says what is wrong and where.
pub fn check_event(bytes: &[u8]) -> Result<(), String> {
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(format!("invalid UTF-8 at byte {}", e.valid_up_to()));
    }
    let mut checker = Checker {
        json: bytes,
        pos: 0,
        depth: 0,
    };
    checker.skip_ws();
    match checker.peek() {
        None => return Err("empty event: expected a JSON object".into()),
        Some(b'{') => {}
        Some(_) => {
            return Err(
                "not a JSON object: an event must be an object like {\"message\": \"...\"}".into(),
            );
        }
    }
    checker.value()?;
    checker.skip_ws();
    if checker.pos != bytes.len() {
        return Err(checker.error("trailing characters after the event"));
    }
    Ok(())
}

/// Adds `members` (the payload of an `extended` result) to the end of
/// `input`, an event already checked, and returns the new event. Only the
/// added bytes are read: they must be well-formed object members in UTF-8,
/// and no key may repeat one of `input`'s top-level keys or another added
/// one. This is what spares a filter that only adds fields, and the host,
/// from copying and re-checking the fields it left alone.
pub fn extend_checked(input: &[u8], members: &[u8]) -> Result<Vec<u8>, String> {
    if let Err(e) = std::str::from_utf8(members) {
        return Err(format!(
            "invalid UTF-8 at byte {} of the added members",
            e.valid_up_to()
        ));
    }
    if members.iter().all(u8::is_ascii_whitespace) {
        return Ok(input.to_vec());
    }
    let mut event = Vec::new();
    wire::extend_event(input, members, &mut event);
    let mut keys = Keys::default();
    scan::for_each_member(input, |raw_key, _| {
        keys.insert(raw_key, memchr::memchr(b'\\', raw_key).is_some())
    })?;
    // Past the added members there is only the closing brace.
    let members_start = event.len() - 1 - members.len();
    let mut checker = Checker {
        json: &event,
        pos: members_start,
        depth: 1,
    };
    checker.skip_ws();
    checker.items(b'}', "the added members", |checker| {
        checker.member(&mut keys)
    })?;
    if checker.pos != event.len() {
        return Err(checker.error("characters after the added members"));
    }
    Ok(event)
}

struct Checker<'a> {
    json: &'a [u8],
    pos: usize,
    depth: usize,
}

impl<'a> Checker<'a> {
    fn peek(&self) -> Option<u8> {
        self.json.get(self.pos).copied()
    }

    fn error(&self, what: &str) -> String {
        format!("{what} at byte {}", self.pos)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn value(&mut self) -> Result<(), String> {
        match self.peek() {
            Some(b'{') => self.nested(Self::object_body),
            Some(b'[') => self.nested(Self::array_body),
            Some(b'"') => self.string().map(|_| ()),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("expected a JSON value")),
            None => Err(self.error("unexpected end of input")),
        }
    }

    fn nested(&mut self, body: fn(&mut Self) -> Result<(), String>) -> Result<(), String> {
        self.depth += 1;
        if self.depth >= MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        self.pos += 1;
        self.skip_ws();
        body(self)?;
        self.depth -= 1;
        Ok(())
    }

    fn object_body(&mut self) -> Result<(), String> {
        let mut keys = Keys::default();
        self.items(b'}', "an object", |checker| checker.member(&mut keys))
    }

    /// One `"key": value` member of an object whose keys so far are `keys`.
    fn member(&mut self, keys: &mut Keys<'a>) -> Result<(), String> {
        if self.peek() != Some(b'"') {
            return Err(self.error("expected a key in double quotes"));
        }
        let key_start = self.pos;
        let escaped = self.string()?;
        keys.insert(&self.json[key_start..self.pos], escaped)?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            return Err(self.error("expected `:` after a key"));
        }
        self.pos += 1;
        self.skip_ws();
        self.value()
    }

    fn array_body(&mut self) -> Result<(), String> {
        self.items(b']', "an array", Self::value)
    }

    /// The comma-separated items of an object or array, up to and past `close`.
    fn items(
        &mut self,
        close: u8,
        container: &str,
        mut item: impl FnMut(&mut Self) -> Result<(), String>,
    ) -> Result<(), String> {
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(());
        }
        loop {
            item(self)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ws();
                }
                Some(byte) if byte == close => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => {
                    return Err(self.error(&format!(
                        "expected `,` or `{}` in {container}",
                        close as char
                    )));
                }
            }
        }
    }

    /// Checks a string at `pos` (on its opening quote) and moves past it.
    /// Returns whether it contained escapes.
    fn string(&mut self) -> Result<bool, String> {
        self.pos += 1;
        let mut escaped = false;
        loop {
            self.pos = skip_plain_string_bytes(self.json, self.pos);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(escaped);
                }
                Some(b'\\') => {
                    escaped = true;
                    self.escape()?;
                }
                Some(_) => return Err(self.error("control character in a string")),
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    fn escape(&mut self) -> Result<(), String> {
        self.pos += 1;
        match self.peek() {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.pos += 1;
                Ok(())
            }
            Some(b'u') => {
                let unit = self.hex4()?;
                match unit {
                    0xD800..=0xDBFF => {
                        // A leading surrogate must be followed by a trailing one.
                        if self.json.get(self.pos..self.pos + 2) != Some(b"\\u") {
                            return Err(self.error("lone leading surrogate in a \\u escape"));
                        }
                        self.pos += 1;
                        match self.hex4()? {
                            0xDC00..=0xDFFF => Ok(()),
                            _ => Err(self.error("lone leading surrogate in a \\u escape")),
                        }
                    }
                    0xDC00..=0xDFFF => Err(self.error("lone trailing surrogate in a \\u escape")),
                    _ => Ok(()),
                }
            }
            _ => Err(self.error("invalid escape")),
        }
    }

    /// Reads `uXXXX` at `pos` (on the `u`).
    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self
            .json
            .get(self.pos + 1..self.pos + 5)
            .ok_or_else(|| self.error("truncated \\u escape"))?;
        let text = std::str::from_utf8(digits).map_err(|_| self.error("invalid \\u escape"))?;
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(self.error("invalid \\u escape"));
        }
        self.pos += 5;
        Ok(u32::from_str_radix(text, 16).expect("four hex digits"))
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), String> {
        if self.json[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.error("expected a JSON value"))
        }
    }

    fn number(&mut self) -> Result<(), String> {
        let start = self.pos;
        let digits = |checker: &mut Self| {
            let from = checker.pos;
            while matches!(checker.peek(), Some(b'0'..=b'9')) {
                checker.pos += 1;
            }
            checker.pos - from
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.error("invalid number")),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.pos += 1;
            if digits(self) == 0 {
                return Err(self.error("invalid number"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            integer = false;
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(self.error("invalid number"));
            }
        }
        // Up to 18 digits always fit an i64: the common case needs no parse.
        if integer && self.pos - start <= 18 {
            return Ok(());
        }
        // serde_json reads integers that do not fit 64 bits, and all other
        // numbers, as f64 and refuses infinities.
        let text = std::str::from_utf8(&self.json[start..self.pos]).expect("ASCII");
        let fits = integer && (text.parse::<i64>().is_ok() || text.parse::<u64>().is_ok());
        if !fits && !text.parse::<f64>().is_ok_and(f64::is_finite) {
            return Err(format!("number out of range at byte {start}"));
        }
        Ok(())
    }
}

/// How many keys of one object are compared as written, on the stack,
/// before they move to a set.
const FEW_KEYS: usize = 16;

/// The keys of one object, to find a repeat. Small objects without escapes
/// compare keys as written, in an array that costs no allocation (most event
/// objects have a handful of keys); past `FEW_KEYS` keys, or once an escape
/// makes two spellings of one key possible, keys go into a set of decoded
/// forms, so a hostile event cannot make this quadratic.
#[derive(Default)]
struct Keys<'a> {
    few: [&'a [u8]; FEW_KEYS],
    few_len: usize,
    many: Option<HashSet<Cow<'a, [u8]>>>,
}

impl<'a> Keys<'a> {
    fn insert(&mut self, quoted: &'a [u8], escaped: bool) -> Result<(), String> {
        if self.many.is_none() && !escaped && self.few_len < FEW_KEYS {
            if self.few[..self.few_len].contains(&quoted) {
                return Err(duplicate(quoted));
            }
            self.few[self.few_len] = quoted;
            self.few_len += 1;
            return Ok(());
        }
        let few = &self.few[..self.few_len];
        let many = self
            .many
            .get_or_insert_with(|| few.iter().copied().map(Cow::Borrowed).collect());
        if !many.insert(decoded(quoted)) {
            return Err(duplicate(quoted));
        }
        Ok(())
    }
}

/// A key in a form where two spellings of the same key are equal: as written
/// when it has no escapes (such a key holds no quote or backslash), else
/// decoded and re-quoted.
fn decoded(quoted: &[u8]) -> Cow<'_, [u8]> {
    if memchr::memchr(b'\\', quoted).is_none() {
        Cow::Borrowed(quoted)
    } else {
        let text: String = serde_json::from_slice(quoted).expect("checked before");
        Cow::Owned(format!("\"{text}\"").into_bytes())
    }
}

fn duplicate(quoted: &[u8]) -> String {
    let key: String = serde_json::from_slice(quoted)
        .unwrap_or_else(|_| String::from_utf8_lossy(quoted).into_owned());
    format!("duplicate key `{key}`")
}

#[cfg(test)]
mod tests;
