//! Rewrites a JSON document as the compact JSON that parsing it into a
//! `serde_json::Value` and writing that back would give, without building the
//! `Value`.
//!
//! The tree costs more than the rest of the filter: an allocation per string
//! and per object, and a hashed index per object (`preserve_order`). Most
//! documents in logs are ordinary, so this path handles the ordinary ones
//! and answers [`Unusual`] for anything whose output it cannot vouch for:
//! invalid text, a repeated key, a number that is not a short integer, very
//! deep nesting. The caller then takes the `Value` path, which decides those
//! exactly as before. The tests compare both paths byte for byte.

use wasmstash_sdk::json_text::{self, skip_plain_string_bytes, string_end, write_str, write_value};

/// The document needs the general path.
#[derive(Debug, PartialEq, Eq)]
pub struct Unusual;

/// How many objects and arrays, one inside another, a document here may
/// hold: well under `serde_json`'s recursion limit (128), so that limit's
/// errors stay the general path's to give.
pub const MAX_DEPTH: usize = 100;

/// Past this many keys in one object, the repeated-key check (a comparison
/// with each earlier key) is left to the general path's hash map.
const MAX_KEYS: usize = 64;

/// A top-level member of the document: where its key and value went in the
/// output.
pub struct Member {
    /// The key's text, unescaped (a key with escapes is [`Unusual`]).
    pub key: std::ops::Range<usize>,
    pub value: std::ops::Range<usize>,
}

/// Scratch space kept across events.
#[derive(Default)]
pub struct Transcoder {
    /// Written keys of the objects being written, innermost last, for the
    /// repeated-key check; emptied at the start of each document.
    keys: Vec<std::ops::Range<usize>>,
    /// A decoded string with escapes.
    text: String,
}

impl Transcoder {
    /// Writes `doc` compactly to `out` (cleared first).
    pub fn value(&mut self, doc: &str, out: &mut Vec<u8>) -> Result<(), Unusual> {
        out.clear();
        self.keys.clear();
        let mut reader = Reader::new(doc.as_bytes());
        reader.skip_ws();
        self.write_value(&mut reader, out, 0)?;
        reader.end()
    }

    /// Writes the members of `doc`, which must be an object, to `out`
    /// (cleared first) and lists them in `members`.
    pub fn members(
        &mut self,
        doc: &str,
        out: &mut Vec<u8>,
        members: &mut Vec<Member>,
    ) -> Result<(), Unusual> {
        out.clear();
        members.clear();
        self.keys.clear();
        let mut reader = Reader::new(doc.as_bytes());
        reader.skip_ws();
        if reader.peek() != Some(b'{') {
            return Err(Unusual);
        }
        reader.pos += 1;
        self.object_members(&mut reader, out, 1, |key, value| {
            members.push(Member { key, value });
        })?;
        reader.end()?;
        // Keys are written with their quotes; hand out the text within.
        for member in members.iter_mut() {
            let quoted = &out[member.key.clone()];
            if quoted.contains(&b'\\') {
                return Err(Unusual);
            }
            member.key = member.key.start + 1..member.key.end - 1;
        }
        Ok(())
    }

    fn write_value(
        &mut self,
        reader: &mut Reader,
        out: &mut Vec<u8>,
        depth: usize,
    ) -> Result<(), Unusual> {
        match reader.peek().ok_or(Unusual)? {
            b'{' => {
                if depth >= MAX_DEPTH {
                    return Err(Unusual);
                }
                reader.pos += 1;
                out.push(b'{');
                self.object_members(reader, out, depth + 1, |_, _| {})?;
                out.push(b'}');
                Ok(())
            }
            b'[' => {
                if depth >= MAX_DEPTH {
                    return Err(Unusual);
                }
                reader.pos += 1;
                out.push(b'[');
                reader.skip_ws();
                if reader.eat(b']') {
                    out.push(b']');
                    return Ok(());
                }
                loop {
                    self.write_value(reader, out, depth + 1)?;
                    reader.skip_ws();
                    if reader.eat(b']') {
                        out.push(b']');
                        return Ok(());
                    }
                    reader.expect(b',')?;
                    out.push(b',');
                    reader.skip_ws();
                }
            }
            b'"' => self.write_string(reader, out),
            b't' => reader.literal(b"true", out),
            b'f' => reader.literal(b"false", out),
            b'n' => reader.literal(b"null", out),
            _ => reader.number(out),
        }
    }

    /// The members of an object whose `{` was read and written, through its
    /// `}` (read, not written). Reports each member's key and value spans.
    fn object_members(
        &mut self,
        reader: &mut Reader,
        out: &mut Vec<u8>,
        depth: usize,
        mut each: impl FnMut(std::ops::Range<usize>, std::ops::Range<usize>),
    ) -> Result<(), Unusual> {
        let keys_from = self.keys.len();
        reader.skip_ws();
        if reader.eat(b'}') {
            return Ok(());
        }
        loop {
            if reader.peek() != Some(b'"') {
                return Err(Unusual);
            }
            let key_start = out.len();
            self.write_string(reader, out)?;
            let key = key_start..out.len();
            // Equal strings are written as equal bytes, so written keys
            // compare exactly. `serde_json` would keep one of a repeated
            // key; which one is the general path's business.
            let earlier = &self.keys[keys_from..];
            if earlier.len() >= MAX_KEYS
                || earlier
                    .iter()
                    .any(|seen| out[seen.clone()] == out[key.clone()])
            {
                return Err(Unusual);
            }
            self.keys.push(key.clone());
            reader.skip_ws();
            reader.expect(b':')?;
            out.push(b':');
            reader.skip_ws();
            let value_start = out.len();
            self.write_value(reader, out, depth)?;
            each(key, value_start..out.len());
            reader.skip_ws();
            if reader.eat(b'}') {
                // This object's keys are done with. (A failure leaves them:
                // the next document starts with none.)
                self.keys.truncate(keys_from);
                return Ok(());
            }
            reader.expect(b',')?;
            out.push(b',');
            reader.skip_ws();
        }
    }

    /// A string as `serde_json` would write it back: plain ones verbatim (a
    /// valid plain string needs no escaping), others decoded and re-escaped.
    fn write_string(&mut self, reader: &mut Reader, out: &mut Vec<u8>) -> Result<(), Unusual> {
        let bytes = reader.bytes;
        let start = reader.pos;
        let plain_end = skip_plain_string_bytes(bytes, start + 1);
        match bytes.get(plain_end) {
            Some(b'"') => {
                reader.pos = plain_end + 1;
                out.extend_from_slice(&bytes[start..reader.pos]);
                return Ok(());
            }
            Some(b'\\') => {}
            _ => return Err(Unusual),
        }
        // Past the escapes to the closing quote, then decode strictly.
        let end = string_end(bytes, plain_end).ok_or(Unusual)?;
        if !json_text::unescape_str_into(&bytes[start..end], &mut self.text) {
            return Err(Unusual);
        }
        reader.pos = end;
        write_str(out, &self.text);
        Ok(())
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(json_text::is_whitespace) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        self.pos += usize::from(found);
        found
    }

    fn expect(&mut self, byte: u8) -> Result<(), Unusual> {
        if self.eat(byte) { Ok(()) } else { Err(Unusual) }
    }

    /// Only whitespace may follow the document.
    fn end(&mut self) -> Result<(), Unusual> {
        self.skip_ws();
        if self.pos == self.bytes.len() {
            Ok(())
        } else {
            Err(Unusual)
        }
    }

    fn literal(&mut self, word: &[u8], out: &mut Vec<u8>) -> Result<(), Unusual> {
        if !self.bytes[self.pos..].starts_with(word) {
            return Err(Unusual);
        }
        self.pos += word.len();
        out.extend_from_slice(word);
        Ok(())
    }

    /// Integers of up to 18 digits are written as they are, which is how
    /// `serde_json` writes them back. Any other number (a fraction, an
    /// exponent, `-0`, more digits) goes through `serde_json`'s own number
    /// parser and writer, so its format stays exact.
    fn number(&mut self, out: &mut Vec<u8>) -> Result<(), Unusual> {
        let start = self.pos;
        self.eat(b'-');
        let digits_start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        let digits = &self.bytes[digits_start..self.pos];
        let simple_integer = !digits.is_empty()
            && digits.len() <= 18
            && (digits[0] != b'0' || (digits.len() == 1 && start == digits_start))
            && !matches!(self.peek(), Some(b'.' | b'e' | b'E'));
        if simple_integer {
            out.extend_from_slice(&self.bytes[start..self.pos]);
            return Ok(());
        }
        while matches!(
            self.peek(),
            Some(b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
        ) {
            self.pos += 1;
        }
        let text = &self.bytes[start..self.pos];
        match serde_json::from_slice::<serde_json::Number>(text) {
            // Past an f64's range the general path refuses the document.
            Ok(number) if !json_text::number_in_range(&number) => Err(Unusual),
            Ok(number) => {
                write_value(out, &serde_json::Value::Number(number));
                Ok(())
            }
            Err(_) => Err(Unusual),
        }
    }
}
