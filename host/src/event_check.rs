//! Validates events before they reach a filter and after they leave one.
//!
//! Filters read events lazily and trust that what they get is one well-formed
//! JSON object with no repeated keys (ABI v1 promises that); a filter's output
//! is trusted by nobody. This check is the single place both promises are kept.
//!
//! It runs on every event that enters and on every event a filter changes,
//! so its cost is paid per event on top of the filter's own (a fifth to a
//! third of a `json` event's time, measured in issue 2). Hence one pass, no
//! values built: string bodies are skipped sixteen bytes at a time, and past
//! a string's first escape the rest is read 64 bytes a turn, each escape
//! found from one mask; UTF-8 is checked only where a string holds a
//! non-ASCII byte (anywhere else such a byte is a syntax error anyway), and
//! errors are described only once one is found. It accepts exactly what
//! `serde_json` (which the SDK uses to read values) can parse, no more and
//! no less, except a number beyond an f64's range (serde_json would keep its
//! text, but nothing downstream could read it as a number) and a key that is
//! serde_json's token for a number (`RESERVED_KEY`: an object holding it
//! would reach a filter as that number). The tests compare
//! the two on real and mangled events.
//!
//! A checked event is also one line: the sidecar's batch answers and `wasmstash
//! run` write an event per line, so a line break in the whitespace of checked
//! text (a pretty-printed body, a filter's output) is made a space. Whitespace
//! is where the check notes one, so compact text pays nothing for it.

mod checked;
mod keys;

use std::cell::Cell;

use wasmstash_sdk::json_text::{self, skip_plain_ascii_string_bytes};

pub use checked::{AddedMembers, CheckedEvent};
use keys::Keys;

/// Nesting this deep is refused, as `serde_json` refuses it: the event's own
/// object is at depth 1, a container in one of its members at 2, and so on,
/// so at most `MAX_DEPTH - 1` containers can be one inside another: the
/// SDK's `MAX_NESTING`, which filters check what they nest against.
pub const MAX_DEPTH: usize = json_text::MAX_NESTING + 1;

/// Checks that `bytes` is one UTF-8 JSON object with no duplicate key at any
/// depth. The error says what is wrong and where.
pub fn check_event(bytes: &[u8]) -> Result<(), String> {
    checked_keys(bytes, &mut Keys::default()).map(|_| ())
}

/// Checks `bytes` as [`check_event`] does, collecting its top-level keys.
/// Returns whether its whitespace holds a line break (see [`to_one_line`]).
fn checked_keys<'a>(bytes: &'a [u8], keys: &mut Keys<'a>) -> Result<bool, String> {
    let validator = Validator::new(bytes);
    match validator.event(keys) {
        Ok(()) => Ok(validator.line_breaks.get()),
        Err(Refused) => Err(match utf8_error(bytes) {
            Some(at) => format!("invalid UTF-8 at byte {at}"),
            None => validator.invalid.into_inner().describe(bytes, ""),
        }),
    }
}

/// Replaces every `\n` and `\r` in `json` with a space, so that an event is
/// one line of an NDJSON answer or output, whatever whitespace a client or a
/// filter wrote. Only for text that passed the check: there a raw line break
/// can only be whitespace between tokens (a string may not hold one), so the
/// event means the same.
fn to_one_line(json: &mut [u8]) {
    let mut from = 0;
    while let Some(at) = memchr::memchr2(b'\n', b'\r', &json[from..]) {
        json[from + at] = b' ';
        from += at + 1;
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
    /// `at` is the key's opening quote.
    ReservedKey,
}

impl Invalid {
    /// The reason, with positions in `json`, which is the text named by
    /// `part` (empty for a whole event).
    fn describe(&self, json: &[u8], part: &str) -> String {
        match self.problem {
            Problem::Event(what) => what.to_owned(),
            Problem::Syntax(what) => format!("{what} at byte {}{part}", self.at),
            Problem::DuplicateKey => {
                let raw = &json[self.at..];
                let end = json_text::string_end(raw, 1).unwrap_or(raw.len());
                let key: String = serde_json::from_slice(&raw[..end])
                    .unwrap_or_else(|_| String::from_utf8_lossy(&raw[..end]).into_owned());
                format!("duplicate key `{key}`")
            }
            Problem::NumberOutOfRange => {
                format!("number out of range at byte {}{part}", self.at)
            }
            Problem::ReservedKey => format!(
                "the key `{}` at byte {}{part} cannot be used: filters read events with \
                 serde_json, which takes an object holding it for a number",
                RESERVED_KEY, self.at
            ),
        }
    }
}

/// The key serde_json (with `arbitrary_precision`, which keeps numbers
/// exact) hands a number over under: an object whose first key it is, is
/// read by the SDK as that number, or as null. The check's promise, that
/// filters read what it accepted as it is, holds only if the key is
/// refused wherever it appears.
const RESERVED_KEY: &str = "$serde_json::private::Number";

/// Whether `quoted`, a key as written, is [`RESERVED_KEY`] however spelled.
#[cold]
fn is_reserved(quoted: &[u8], escaped: bool) -> bool {
    let plain = &quoted[1..quoted.len() - 1];
    match escaped {
        false => plain == RESERVED_KEY.as_bytes(),
        true => serde_json::from_slice::<String>(quoted).is_ok_and(|key| key == RESERVED_KEY),
    }
}

/// That the text was refused; why is kept in [`Validator::invalid`]. With
/// so small an error, a method's result (a position, or this) comes back in
/// registers.
struct Refused;

/// The position just past what a method checked, or its refusal.
type Checked = Result<usize, Refused>;

/// The grammar, one method per construct. Each takes the position it starts
/// at and returns the one it stopped at, in registers, rather than moving a
/// position kept in the validator, which every step of a token stored and
/// loaded back (a chain through memory: grok's output checked 8% faster
/// without it, on an AMD EPYC).
struct Validator<'a> {
    json: &'a [u8],
    /// Why the text was refused, once it is.
    invalid: Cell<Invalid>,
    /// Whether whitespace skipped so far held a `\n` or `\r`: noted where
    /// whitespace is skipped anyway, so a compact event pays nothing.
    line_breaks: Cell<bool>,
}

impl<'a> Validator<'a> {
    fn new(json: &'a [u8]) -> Self {
        Validator {
            json,
            invalid: Cell::new(Invalid {
                at: 0,
                problem: Problem::Event("refused"),
            }),
            line_breaks: Cell::new(false),
        }
    }

    /// The whole text: one object, and only whitespace around it; its keys
    /// go into `keys`.
    fn event(&self, keys: &mut Keys<'a>) -> Result<(), Refused> {
        let pos = self.skip_ws(0);
        let pos = match self.byte(pos) {
            None => {
                return self.refuse_at(pos, Problem::Event("empty event: expected a JSON object"));
            }
            Some(b'{') => self.object_keeping(pos, 0, keys)?,
            Some(_) => {
                return self.refuse_at(
                    pos,
                    Problem::Event(
                        "not a JSON object: an event must be an object like {\"message\": \"...\"}",
                    ),
                );
            }
        };
        self.at_end(self.skip_ws(pos), "trailing characters after the event")
    }

    /// The members of an `extended` result, from `pos`, up to and past the
    /// closing brace that follows them.
    fn added_members(&self, pos: usize, keys: &mut Keys<'a>) -> Result<(), Refused> {
        let pos = self.skip_ws(pos);
        let pos = self.members(pos, 1, keys, "expected `,` or `}` in the added members")?;
        self.at_end(pos, "characters after the added members")
    }

    fn at_end(&self, pos: usize, otherwise: &'static str) -> Result<(), Refused> {
        if pos == self.json.len() {
            Ok(())
        } else {
            self.refuse(pos, otherwise)
        }
    }

    #[inline(always)]
    fn byte(&self, pos: usize) -> Option<u8> {
        self.json.get(pos).copied()
    }

    #[cold]
    fn refuse_at<T>(&self, at: usize, problem: Problem) -> Result<T, Refused> {
        self.invalid.set(Invalid { at, problem });
        Err(Refused)
    }

    fn refuse<T>(&self, at: usize, what: &'static str) -> Result<T, Refused> {
        self.refuse_at(at, Problem::Syntax(what))
    }

    /// Past the whitespace at `pos`, noting a line break in it. Most calls
    /// find none (compact JSON), and pay one test as they always did.
    #[inline(always)]
    fn skip_ws(&self, pos: usize) -> usize {
        if !self.byte(pos).is_some_and(json_text::is_whitespace) {
            return pos;
        }
        self.skip_ws_run(pos)
    }

    /// Past the run of whitespace at `pos`. Of the four whitespace bytes,
    /// only `\n` (0x0A) and `\r` (0x0D) have a bit of 0x06 set, so the run's
    /// bytes ORed together say whether it held a line break.
    #[inline(always)]
    fn skip_ws_run(&self, mut pos: usize) -> usize {
        let mut seen = 0;
        while let Some(byte) = self.byte(pos)
            && json_text::is_whitespace(byte)
        {
            seen |= byte;
            pos += 1;
        }
        if seen & 0x06 != 0 {
            self.line_breaks.set(true);
        }
        pos
    }

    /// A value of an item at `depth`.
    fn value(&self, pos: usize, depth: usize) -> Checked {
        match self.byte(pos) {
            Some(b'"') => self.string(pos).map(|(end, _)| end),
            Some(b'{') => self.object(pos, depth),
            Some(b'[') => self.array(pos, depth),
            Some(b'-' | b'0'..=b'9') => self.number(pos),
            Some(b't') => self.literal(pos, b"true"),
            Some(b'f') => self.literal(pos, b"false"),
            Some(b'n') => self.literal(pos, b"null"),
            Some(_) => self.refuse(pos, "expected a JSON value"),
            None => self.refuse(pos, "unexpected end of input"),
        }
    }

    /// Steps into the container whose opening bracket is at `pos`, an item
    /// at `depth`: returns the position of its first item (or its end) and
    /// its own items' depth.
    #[inline(always)]
    fn enter(&self, pos: usize, depth: usize) -> Result<(usize, usize), Refused> {
        let depth = depth + 1;
        if depth >= MAX_DEPTH {
            return self.refuse(pos, "nesting too deep");
        }
        Ok((self.skip_ws(pos + 1), depth))
    }

    fn object(&self, pos: usize, depth: usize) -> Checked {
        self.object_keeping(pos, depth, &mut Keys::default())
    }

    /// The object at `pos`, an item at `depth`, whose keys go into `keys`.
    #[inline(always)]
    fn object_keeping(&self, pos: usize, depth: usize, keys: &mut Keys<'a>) -> Checked {
        let (pos, depth) = self.enter(pos, depth)?;
        if self.byte(pos) == Some(b'}') {
            return Ok(pos + 1);
        }
        self.members(pos, depth, keys, "expected `,` or `}` in an object")
    }

    /// Comma-separated `"key": value` members from `pos` up to and past the
    /// closing brace, none repeating a key in `keys`.
    fn members(
        &self,
        mut pos: usize,
        depth: usize,
        keys: &mut Keys<'a>,
        bad_separator: &'static str,
    ) -> Checked {
        loop {
            if self.byte(pos) != Some(b'"') {
                return self.refuse(pos, "expected a key in double quotes");
            }
            let (key_end, plain) = self.string(pos)?;
            let json: &'a [u8] = self.json;
            let key = &json[pos..key_end];
            // Only a key that is not plain text is searched for escapes.
            let escaped = !plain && memchr::memchr(b'\\', key).is_some();
            if !keys.insert(key, escaped) {
                return self.refuse_at(pos, Problem::DuplicateKey);
            }
            // One length compare for most keys: the reserved one is longer.
            if key.len() >= RESERVED_KEY.len() + 2 && is_reserved(key, escaped) {
                return self.refuse_at(pos, Problem::ReservedKey);
            }
            pos = self.skip_ws(key_end);
            if self.byte(pos) != Some(b':') {
                return self.refuse(pos, "expected `:` after a key");
            }
            pos = self.skip_ws(pos + 1);
            // Most values are strings: read here, without a call.
            pos = match self.byte(pos) {
                Some(b'"') => self.string(pos)?.0,
                _ => self.value(pos, depth)?,
            };
            match self.more_items(pos, b'}', bad_separator)? {
                (next, true) => pos = next,
                (end, false) => return Ok(end),
            }
        }
    }

    /// After an item of a container, at `pos`: the position past a `,` and
    /// that another item follows, or past the container's `close` and that
    /// none does.
    #[inline(always)]
    fn more_items(
        &self,
        pos: usize,
        close: u8,
        bad_separator: &'static str,
    ) -> Result<(usize, bool), Refused> {
        let pos = self.skip_ws(pos);
        match self.byte(pos) {
            Some(b',') => Ok((self.skip_ws(pos + 1), true)),
            Some(byte) if byte == close => Ok((pos + 1, false)),
            _ => self.refuse(pos, bad_separator),
        }
    }

    fn array(&self, pos: usize, depth: usize) -> Checked {
        let (mut pos, depth) = self.enter(pos, depth)?;
        if self.byte(pos) == Some(b']') {
            return Ok(pos + 1);
        }
        loop {
            pos = self.value(pos, depth)?;
            match self.more_items(pos, b']', "expected `,` or `]` in an array")? {
                (next, true) => pos = next,
                (end, false) => return Ok(end),
            }
        }
    }

    /// The string whose opening quote is at `start`: returns the position
    /// past it and whether its body was all plain ASCII (so held no escape).
    #[inline(always)]
    fn string(&self, start: usize) -> Result<(usize, bool), Refused> {
        let pos = skip_plain_ascii_string_bytes(self.json, start + 1);
        if self.byte(pos) == Some(b'"') {
            return Ok((pos + 1, true));
        }
        Ok((self.string_rest(pos)?, false))
    }

    /// The rest of a string from `pos`, a byte of its body that is not
    /// plain ASCII: returns the position past its closing quote.
    fn string_rest(&self, mut pos: usize) -> Checked {
        loop {
            match self.string_special(pos)? {
                (end, true) => return Ok(end),
                (next, false) => pos = next,
            }
            // Past one escape more tend to follow (a string that holds JSON
            // has one every dozen bytes), so the rest is read in strides.
            while let Some(stride) = self.json.get(pos..pos + 64) {
                let specials = json_text::ascii_string_specials(stride.try_into().expect("64"));
                match self.string_stride(pos, specials)? {
                    (end, true) => return Ok(end),
                    (next, false) => pos = next,
                }
            }
            pos = skip_plain_ascii_string_bytes(self.json, pos);
        }
    }

    /// Checks the byte of a string body at `pos` that is not plain ASCII (the
    /// closing quote, an escape, a run of non-ASCII text): returns the
    /// position past it and whether the string ended there.
    #[inline(always)]
    fn string_special(&self, pos: usize) -> Result<(usize, bool), Refused> {
        match self.byte(pos) {
            Some(b'"') => Ok((pos + 1, true)),
            Some(b'\\') => Ok((self.escape(pos)?, false)),
            Some(byte) if !byte.is_ascii() => Ok((self.non_ascii(pos)?, false)),
            Some(_) => self.refuse(pos, "control character in a string"),
            None => self.refuse(pos, "unterminated string"),
        }
    }

    /// Checks the 64 bytes of a string body at `base`, taking one-letter
    /// escapes straight from their mask, `specials`. Returns the position
    /// past them and whether the string ended. Any other byte that is not
    /// plain ASCII goes to [`Self::string_special`], and the next stride
    /// starts after it.
    fn string_stride(&self, base: usize, mut specials: u64) -> Result<(usize, bool), Refused> {
        let mut next = base + 64;
        while specials != 0 {
            let at = base + specials.trailing_zeros() as usize;
            specials &= specials - 1;
            let one_letter_escape =
                self.json[at] == b'\\' && (self.byte(at + 1)).is_some_and(is_one_letter_escape);
            if !one_letter_escape {
                return self.string_special(at);
            }
            // The escaped byte is taken, a quote or backslash too.
            match at + 1 - base {
                64 => next = at + 2,
                bit => specials &= !(1 << bit),
            }
        }
        Ok((next, false))
    }

    /// Checks the run of non-ASCII bytes at `start`. A run ends at an ASCII
    /// byte, which no UTF-8 sequence contains, so it holds whole characters
    /// or is invalid on its own.
    fn non_ascii(&self, start: usize) -> Checked {
        let len = self.json[start..]
            .iter()
            .position(u8::is_ascii)
            .unwrap_or(self.json.len() - start);
        match std::str::from_utf8(&self.json[start..start + len]) {
            Ok(_) => Ok(start + len),
            Err(e) => self.refuse(start + e.valid_up_to(), "invalid UTF-8"),
        }
    }

    /// The escape whose backslash is at `pos`.
    fn escape(&self, pos: usize) -> Checked {
        let pos = pos + 1;
        match self.byte(pos) {
            Some(letter) if is_one_letter_escape(letter) => Ok(pos + 1),
            Some(b'u') => match self.hex4(pos)? {
                (next, 0xD800..=0xDBFF) => {
                    // A leading surrogate must be followed by a trailing one.
                    let lone = "lone leading surrogate in a \\u escape";
                    if self.json.get(next..next + 2) != Some(b"\\u") {
                        return self.refuse(next, lone);
                    }
                    match self.hex4(next + 1)? {
                        (end, 0xDC00..=0xDFFF) => Ok(end),
                        (end, _) => self.refuse(end, lone),
                    }
                }
                (next, 0xDC00..=0xDFFF) => {
                    self.refuse(next, "lone trailing surrogate in a \\u escape")
                }
                (next, _) => Ok(next),
            },
            _ => self.refuse(pos, "invalid escape"),
        }
    }

    /// Reads `uXXXX` at `pos` (on the `u`): the position past it and the
    /// code unit.
    fn hex4(&self, pos: usize) -> Result<(usize, u32), Refused> {
        let Some(digits) = self.json.get(pos + 1..pos + 5) else {
            return self.refuse(pos, "truncated \\u escape");
        };
        let Some(unit) = json_text::hex4(digits) else {
            return self.refuse(pos, "invalid \\u escape");
        };
        Ok((pos + 5, unit))
    }

    fn literal(&self, pos: usize, word: &[u8]) -> Checked {
        if self.json[pos..].starts_with(word) {
            Ok(pos + word.len())
        } else {
            self.refuse(pos, "expected a JSON value")
        }
    }

    /// The position past the run of digits at `pos`.
    fn digits(&self, mut pos: usize) -> usize {
        while let Some(b'0'..=b'9') = self.byte(pos) {
            pos += 1;
        }
        pos
    }

    /// Past at least one digit at `pos`, or refused.
    fn some_digits(&self, pos: usize) -> Checked {
        match self.digits(pos) {
            end if end == pos => self.refuse(pos, "invalid number"),
            end => Ok(end),
        }
    }

    fn number(&self, start: usize) -> Checked {
        let mut pos = start + usize::from(self.byte(start) == Some(b'-'));
        pos = match self.byte(pos) {
            Some(b'0') => pos + 1,
            Some(b'1'..=b'9') => self.digits(pos),
            _ => return self.refuse(pos, "invalid number"),
        };
        let mut integer = true;
        if self.byte(pos) == Some(b'.') {
            integer = false;
            pos = self.some_digits(pos + 1)?;
        }
        if let Some(b'e' | b'E') = self.byte(pos) {
            integer = false;
            pos += 1;
            if let Some(b'+' | b'-') = self.byte(pos) {
                pos += 1;
            }
            pos = self.some_digits(pos)?;
        }
        // Up to 18 digits always fit an i64: the common case needs no parse.
        if integer && pos - start <= 18 {
            return Ok(pos);
        }
        // An integer that does not fit 64 bits, and every other number, must
        // at least be a finite f64: Elasticsearch, and a filter reading it
        // with `as_f64`, see it as one.
        let text = std::str::from_utf8(&self.json[start..pos]).expect("ASCII");
        let fits = integer && (text.parse::<i64>().is_ok() || text.parse::<u64>().is_ok());
        if !fits && !text.parse::<f64>().is_ok_and(f64::is_finite) {
            return self.refuse_at(start, Problem::NumberOutOfRange);
        }
        Ok(pos)
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

#[cfg(test)]
mod tests;
