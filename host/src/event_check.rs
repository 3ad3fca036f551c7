//! Validates events before they reach a filter and after they leave one.
//!
//! Filters read events lazily and trust that what they get is one well-formed
//! JSON object with no repeated keys (ABI v1 promises that); a filter's output
//! is trusted by nobody. This check is the single place both promises are kept.
//!
//! It runs on every event that enters and on every event a filter changes,
//! so its cost is paid per event on top of the filter's own (a third of a
//! `json` event's time, measured in issue 2). Hence one pass, no values
//! built: string bodies are skipped sixteen bytes at a time, and past a
//! string's first escape the rest is read 64 bytes a turn, each escape found
//! from one mask; UTF-8 is checked only where a string holds a non-ASCII
//! byte (anywhere else such a byte is a syntax error anyway), and errors are
//! described only once one is found. It accepts exactly what `serde_json`
//! (which the SDK uses to read values) can parse, no more and no less: the
//! tests compare the two on real and mangled events.

use std::borrow::Cow;
use std::collections::HashSet;

use smallvec::SmallVec;

use wasmstash_sdk::json_text::{self, skip_plain_ascii_string_bytes};
use wasmstash_sdk::{scan, wire};

/// Nesting deeper than this is refused, as `serde_json` refuses it.
const MAX_DEPTH: usize = 128;

/// Checks that `bytes` is one UTF-8 JSON object with no duplicate key at any
/// depth. The error says what is wrong and where.
pub fn check_event(bytes: &[u8]) -> Result<(), String> {
    let mut validator = Validator {
        json: bytes,
        pos: 0,
        depth: 0,
    };
    validator
        .event()
        .map_err(|invalid| match utf8_error(bytes) {
            Some(at) => format!("invalid UTF-8 at byte {at}"),
            None => invalid.describe(bytes),
        })
}

/// Adds `members` (the payload of an `extended` result) to the end of
/// `input`, an event already checked, and returns the new event. Only the
/// added bytes are read: they must be well-formed object members in UTF-8,
/// and no key may repeat one of `input`'s top-level keys or another added
/// one. This is what spares a filter that only adds fields, and the host,
/// from copying and re-checking the fields it left alone.
pub fn extend_checked(input: &[u8], members: &[u8]) -> Result<Vec<u8>, String> {
    if members.iter().all(u8::is_ascii_whitespace) {
        return Ok(input.to_vec());
    }
    let mut event = Vec::new();
    wire::extend_event(input, members, &mut event);
    let mut keys = Keys::default();
    scan::for_each_member(input, |raw_key, _| {
        keys.insert_raw(raw_key);
        Ok(())
    })?;
    // Past the added members there is only the closing brace.
    let members_start = event.len() - 1 - members.len();
    let mut validator = Validator {
        json: &event,
        pos: members_start,
        depth: 1,
    };
    let checked = validator.added_members(&mut keys);
    drop(keys);
    match checked {
        Ok(()) => Ok(event),
        Err(invalid) => Err(match utf8_error(members) {
            Some(at) => format!("invalid UTF-8 at byte {at} of the added members"),
            None => invalid.describe(&event),
        }),
    }
}

/// Where the input first stops being UTF-8, if it does. Only asked once an
/// event is refused, so that a text that is not UTF-8 anywhere is reported as
/// that, whatever the grammar tripped on first.
fn utf8_error(bytes: &[u8]) -> Option<usize> {
    std::str::from_utf8(bytes).err().map(|e| e.valid_up_to())
}

/// Why an event was refused, and where; put into words only when asked.
struct Invalid {
    at: usize,
    problem: Problem,
}

enum Problem {
    /// A message without a position (it is about the whole event).
    Event(&'static str),
    Syntax(&'static str),
    /// `at` is the repeated key's opening quote.
    DuplicateKey,
    /// `at` is where the number starts.
    NumberOutOfRange,
}

impl Invalid {
    fn describe(&self, json: &[u8]) -> String {
        match self.problem {
            Problem::Event(what) => what.to_owned(),
            Problem::Syntax(what) => format!("{what} at byte {}", self.at),
            Problem::DuplicateKey => {
                let raw = &json[self.at..];
                let end = json_text::string_end(raw, 1).unwrap_or(raw.len());
                let key: String = serde_json::from_slice(&raw[..end])
                    .unwrap_or_else(|_| String::from_utf8_lossy(&raw[..end]).into_owned());
                format!("duplicate key `{key}`")
            }
            Problem::NumberOutOfRange => format!("number out of range at byte {}", self.at),
        }
    }
}

type Checked = Result<(), Invalid>;

struct Validator<'a> {
    json: &'a [u8],
    pos: usize,
    depth: usize,
}

impl<'a> Validator<'a> {
    fn event(&mut self) -> Checked {
        self.skip_ws();
        match self.peek() {
            None => return self.refuse_event("empty event: expected a JSON object"),
            Some(b'{') => self.object()?,
            Some(_) => {
                return self.refuse_event(
                    "not a JSON object: an event must be an object like {\"message\": \"...\"}",
                );
            }
        }
        self.skip_ws();
        if self.pos != self.json.len() {
            return self.refuse("trailing characters after the event");
        }
        Ok(())
    }

    /// The members of an `extended` result: the event's last members, up to
    /// and past its closing brace.
    fn added_members(&mut self, keys: &mut Keys<'a>) -> Checked {
        self.skip_ws();
        self.members(keys, "expected `,` or `}` in the added members")?;
        if self.pos != self.json.len() {
            return self.refuse("characters after the added members");
        }
        Ok(())
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.json.get(self.pos).copied()
    }

    fn refuse<T>(&self, what: &'static str) -> Result<T, Invalid> {
        Err(Invalid {
            at: self.pos,
            problem: Problem::Syntax(what),
        })
    }

    fn refuse_event(&self, what: &'static str) -> Checked {
        Err(Invalid {
            at: self.pos,
            problem: Problem::Event(what),
        })
    }

    #[inline(always)]
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn value(&mut self) -> Checked {
        match self.peek() {
            Some(b'"') => self.string().map(drop),
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(_) => self.refuse("expected a JSON value"),
            None => self.refuse("unexpected end of input"),
        }
    }

    /// Steps into a container at `pos` (on its opening bracket).
    fn enter(&mut self) -> Checked {
        self.depth += 1;
        if self.depth >= MAX_DEPTH {
            return self.refuse("nesting too deep");
        }
        self.pos += 1;
        self.skip_ws();
        Ok(())
    }

    fn object(&mut self) -> Checked {
        self.enter()?;
        if self.peek() == Some(b'}') {
            self.pos += 1;
        } else {
            self.members(&mut Keys::default(), "expected `,` or `}` in an object")?;
        }
        self.depth -= 1;
        Ok(())
    }

    /// Comma-separated `"key": value` members up to and past the closing
    /// brace, none repeating a key in `keys`.
    fn members(&mut self, keys: &mut Keys<'a>, bad_separator: &'static str) -> Checked {
        loop {
            if self.peek() != Some(b'"') {
                return self.refuse("expected a key in double quotes");
            }
            let key_start = self.pos;
            let escaped = self.string()?;
            if !keys.insert(&self.json[key_start..self.pos], escaped) {
                return Err(Invalid {
                    at: key_start,
                    problem: Problem::DuplicateKey,
                });
            }
            self.skip_ws();
            if self.peek() != Some(b':') {
                return self.refuse("expected `:` after a key");
            }
            self.pos += 1;
            self.skip_ws();
            self.value()?;
            if !self.more_items(b'}', bad_separator)? {
                return Ok(());
            }
        }
    }

    /// After an item of a container: moves past a `,` and says another item
    /// follows, or past the container's `close` and says none does.
    fn more_items(&mut self, close: u8, bad_separator: &'static str) -> Result<bool, Invalid> {
        self.skip_ws();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                self.skip_ws();
                Ok(true)
            }
            Some(byte) if byte == close => {
                self.pos += 1;
                Ok(false)
            }
            _ => self.refuse(bad_separator),
        }
    }

    fn array(&mut self) -> Checked {
        self.enter()?;
        if self.peek() == Some(b']') {
            self.pos += 1;
        } else {
            loop {
                self.value()?;
                if !self.more_items(b']', "expected `,` or `]` in an array")? {
                    break;
                }
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// Checks the string at `pos` (on its opening quote) and moves past it.
    /// Returns whether it held escapes.
    #[inline(always)]
    fn string(&mut self) -> Result<bool, Invalid> {
        self.pos += 1;
        let mut escaped = false;
        loop {
            self.pos = skip_plain_ascii_string_bytes(self.json, self.pos);
            if self.string_special(&mut escaped)? {
                return Ok(escaped);
            }
            // Past one escape more tend to follow (a string that holds JSON
            // has one every dozen bytes), so the rest is read in strides.
            while let Some(stride) = self.json.get(self.pos..self.pos + 64) {
                let specials = json_text::ascii_string_specials(stride.try_into().expect("64"));
                if self.string_stride(specials, &mut escaped)? {
                    return Ok(escaped);
                }
            }
        }
    }

    /// Checks the byte of a string body at `pos` that is not plain ASCII (the
    /// closing quote, an escape, a run of non-ASCII text) and moves past it.
    /// Returns whether the string ended there.
    #[inline(always)]
    fn string_special(&mut self, escaped: &mut bool) -> Result<bool, Invalid> {
        match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                return Ok(true);
            }
            Some(b'\\') => {
                *escaped = true;
                self.escape()?;
            }
            Some(byte) if !byte.is_ascii() => self.non_ascii()?,
            Some(_) => return self.refuse("control character in a string"),
            None => return self.refuse("unterminated string"),
        }
        Ok(false)
    }

    /// Checks the 64 bytes of a string body at `pos`, taking one-letter
    /// escapes straight from their mask, `specials`, and moves past them.
    /// Returns whether the string ended. Any other byte that is not plain
    /// ASCII goes to [`Self::string_special`], and the next stride starts
    /// after it.
    fn string_stride(&mut self, mut specials: u64, escaped: &mut bool) -> Result<bool, Invalid> {
        let base = self.pos;
        let mut next = base + 64;
        while specials != 0 {
            let at = base + specials.trailing_zeros() as usize;
            specials &= specials - 1;
            let one_letter_escape = self.json[at] == b'\\'
                && (self.json.get(at + 1).copied()).is_some_and(is_one_letter_escape);
            if !one_letter_escape {
                self.pos = at;
                return self.string_special(escaped);
            }
            *escaped = true;
            // The escaped byte is taken, a quote or backslash too.
            match at + 1 - base {
                64 => next = at + 2,
                bit => specials &= !(1 << bit),
            }
        }
        self.pos = next;
        Ok(false)
    }

    /// Checks the run of non-ASCII bytes at `pos` and moves past it. A run
    /// ends at an ASCII byte, which no UTF-8 sequence contains, so it holds
    /// whole characters or is invalid on its own.
    fn non_ascii(&mut self) -> Checked {
        let start = self.pos;
        let len = self.json[start..]
            .iter()
            .position(u8::is_ascii)
            .unwrap_or(self.json.len() - start);
        match std::str::from_utf8(&self.json[start..start + len]) {
            Ok(_) => {
                self.pos += len;
                Ok(())
            }
            Err(e) => {
                self.pos = start + e.valid_up_to();
                self.refuse("invalid UTF-8")
            }
        }
    }

    fn escape(&mut self) -> Checked {
        self.pos += 1;
        match self.peek() {
            Some(letter) if is_one_letter_escape(letter) => {
                self.pos += 1;
                Ok(())
            }
            Some(b'u') => match self.hex4()? {
                0xD800..=0xDBFF => {
                    // A leading surrogate must be followed by a trailing one.
                    if self.json.get(self.pos..self.pos + 2) != Some(b"\\u") {
                        return self.refuse("lone leading surrogate in a \\u escape");
                    }
                    self.pos += 1;
                    match self.hex4()? {
                        0xDC00..=0xDFFF => Ok(()),
                        _ => self.refuse("lone leading surrogate in a \\u escape"),
                    }
                }
                0xDC00..=0xDFFF => self.refuse("lone trailing surrogate in a \\u escape"),
                _ => Ok(()),
            },
            _ => self.refuse("invalid escape"),
        }
    }

    /// Reads `uXXXX` at `pos` (on the `u`).
    fn hex4(&mut self) -> Result<u32, Invalid> {
        let Some(digits) = self.json.get(self.pos + 1..self.pos + 5) else {
            return self.refuse("truncated \\u escape");
        };
        let Some(unit) = json_text::hex4(digits) else {
            return self.refuse("invalid \\u escape");
        };
        self.pos += 5;
        Ok(unit)
    }

    fn literal(&mut self, word: &[u8]) -> Checked {
        if self.json[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            self.refuse("expected a JSON value")
        }
    }

    fn digits(&mut self) -> usize {
        let from = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - from
    }

    fn number(&mut self) -> Checked {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return self.refuse("invalid number"),
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.pos += 1;
            if self.digits() == 0 {
                return self.refuse("invalid number");
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            integer = false;
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return self.refuse("invalid number");
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
            return Err(Invalid {
                at: start,
                problem: Problem::NumberOutOfRange,
            });
        }
        Ok(())
    }
}

/// Whether a backslash and `letter` make a whole escape, like `\n` (`\u`
/// takes four hex digits more).
fn is_one_letter_escape(letter: u8) -> bool {
    matches!(
        letter,
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't'
    )
}

/// How many keys of one object are compared as written, on the stack,
/// before they move to a set.
const FEW_KEYS: usize = 16;

/// The keys of one object, to find a repeat. Small objects without escapes
/// compare keys as written, in a list kept inline (most event objects have a
/// handful of keys, and an event has many objects: a list that had to be
/// zeroed for each one cost a sixth of checking grok's output), each behind
/// a tag of its length and a few bytes so that keys that differ there are
/// never compared whole; past `FEW_KEYS` keys, or once an escape makes two
/// spellings of one key possible, keys go into a set of decoded forms, so a
/// hostile event cannot make this quadratic.
#[derive(Default)]
struct Keys<'a> {
    few: SmallVec<[(u64, &'a [u8]); FEW_KEYS]>,
    many: Option<HashSet<Cow<'a, [u8]>>>,
}

impl<'a> Keys<'a> {
    /// Adds a key of an event already checked. A repeat there is impossible.
    fn insert_raw(&mut self, quoted: &'a [u8]) {
        self.insert(quoted, memchr::memchr(b'\\', quoted).is_some());
    }

    /// Adds `quoted` (a key as written, with its quotes); false if it repeats
    /// one already in.
    #[inline]
    fn insert(&mut self, quoted: &'a [u8], escaped: bool) -> bool {
        if self.many.is_none() && !escaped && self.few.len() < FEW_KEYS {
            let tag = tag_of(quoted);
            if self.few.iter().any(|&(t, k)| t == tag && k == quoted) {
                return false;
            }
            self.few.push((tag, quoted));
            return true;
        }
        let few = &self.few;
        let many = self
            .many
            .get_or_insert_with(|| few.iter().map(|&(_, k)| Cow::Borrowed(k)).collect());
        many.insert(decoded(quoted))
    }
}

/// A key's length and three of its bytes, in one word: equal keys have
/// equal tags, and most unequal ones do not.
#[inline(always)]
fn tag_of(quoted: &[u8]) -> u64 {
    let len = quoted.len();
    // A key as written has at least its two quotes.
    let byte = |i: usize| u64::from(quoted[i]);
    len as u64 | byte(1) << 32 | byte(len / 2) << 40 | byte(len - 2) << 48
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

#[cfg(test)]
mod tests;
