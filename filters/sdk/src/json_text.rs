//! Low-level JSON text routines shared by the guest SDK and the host.
//!
//! Strings are most of a log event's bytes, so both writing them (SDK) and
//! checking them (host) skip plain bytes sixteen at a time with SIMD (SSE2
//! natively, simd128 in WebAssembly), then eight at a time in a word. The
//! byte-at-a-time loops in general-purpose serializers were the largest
//! single cost of simple filters in WebAssembly (see BENCHMARKS.md). Nested
//! values a filter does not read (a Beats event's metadata) are stepped over
//! the same way, looking only at quotes, backslashes and brackets.

use serde_json::Value;

mod simd;
mod unescape;
pub use unescape::unescape_str_into;

/// How many objects and arrays, one inside another, an event may hold
/// (the event's own object among them) when it leaves a filter: ABI.md's
/// limit, which the host checks every result against (deeper fails the
/// event as `invalid_output`). `serde_json` refuses deeper text anyway.
/// A filter that nests what it reads (json's documents) checks against
/// this, to fail such an event as its own kind of failure.
pub const MAX_NESTING: usize = 127;

/// Whether `error` is serde_json's refusal of text nested past its limit,
/// which is [`MAX_NESTING`]'s: serde_json reports it as a syntax error, and
/// tells it apart only in its message.
pub fn is_nesting_error(error: &serde_json::Error) -> bool {
    error.to_string().starts_with("recursion limit exceeded")
}

/// How many objects and arrays are nested in `value`, itself included:
/// 0 for a scalar, 1 for `[]` or `{"a":1}`, 2 for `[[]]`. Set at a field
/// of `n` segments, it makes an event `n + nesting(value)` deep.
pub fn nesting(value: &Value) -> usize {
    let inner = match value {
        Value::Array(items) => items.iter().map(nesting).max(),
        Value::Object(members) => members.values().map(nesting).max(),
        _ => return 0,
    };
    1 + inner.unwrap_or(0)
}

/// Whether `byte` is whitespace in JSON: space, tab, line feed or carriage
/// return. Narrower than ASCII's whitespace, which also has form feed.
#[inline(always)]
pub fn is_whitespace(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

/// `text` without the JSON whitespace at its end. (Not `trim_ascii_end`:
/// ASCII's whitespace has form feed, which JSON does not allow.)
pub fn trim_whitespace_end(text: &[u8]) -> &[u8] {
    let end = text.iter().rposition(|&b| !is_whitespace(b));
    &text[..end.map_or(0, |at| at + 1)]
}

/// Returns the first index at or after `pos` holding `"`, `\` or a control
/// character (or `bytes.len()`).
///
/// Most strings in events are short (keys, captured values), so the tail
/// matters as much as the bulk: the last partial block is checked as one
/// window that overlaps bytes already known to be plain, never byte by
/// byte. (In WebAssembly every loop iteration also pays the deadline check.)
pub fn skip_plain_string_bytes(bytes: &[u8], pos: usize) -> usize {
    skip_plain::<false>(bytes, pos)
}

/// Like [`skip_plain_string_bytes`], but also stops at the first byte that
/// is not ASCII: for a validator that checks UTF-8 only where it occurs,
/// instead of over the whole text in a pass of its own.
///
/// Most keys and values end within their first sixteen bytes, so that
/// block is tested here, inline in the caller, and only a string that
/// goes on past it takes the call.
#[inline(always)]
pub fn skip_plain_ascii_string_bytes(bytes: &[u8], pos: usize) -> usize {
    #[cfg(any(
        target_arch = "x86_64",
        all(target_arch = "wasm32", target_feature = "simd128")
    ))]
    if let Some(block) = bytes.get(pos..pos + 16) {
        return match simd::special_mask::<true>(block) {
            0 => skip_plain::<true>(bytes, pos + 16),
            mask => pos + mask.trailing_zeros() as usize,
        };
    }
    skip_plain::<true>(bytes, pos)
}

fn skip_plain<const NON_ASCII: bool>(bytes: &[u8], pos: usize) -> usize {
    let end = bytes.len();
    let left = end.saturating_sub(pos);
    let found = if left >= 16 {
        simd::find_special::<NON_ASCII>(bytes, pos)
    } else if left >= 8 {
        find_special_in_words::<NON_ASCII>(bytes, pos)
    } else if left >= 4 {
        let window = |at: usize| {
            let word = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
            first_special(special_bits::<NON_ASCII>(u64::from(word) | PLAIN_HIGH_HALF))
        };
        window(pos)
            .map(|i| pos + i)
            .or_else(|| window(end - 4).map(|i| end - 4 + i))
    } else {
        bytes[pos.min(end)..]
            .iter()
            .position(|&b| is_special(b) || (NON_ASCII && !b.is_ascii()))
            .map(|i| pos + i)
    };
    found.unwrap_or(end.max(pos))
}

/// A bit per byte of `stride` at which [`skip_plain_ascii_string_bytes`]
/// would stop: a quote, backslash, control character or non-ASCII byte. A
/// validator reads a string that holds many of them from this mask, instead
/// of searching again past each one.
#[inline]
pub fn ascii_string_specials(stride: &[u8; 64]) -> u64 {
    #[cfg(any(
        target_arch = "x86_64",
        all(target_arch = "wasm32", target_feature = "simd128")
    ))]
    {
        stride_mask(stride, simd::special_mask::<true>)
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        all(target_arch = "wasm32", target_feature = "simd128")
    )))]
    {
        (stride.iter().enumerate())
            .filter(|&(_, &byte)| is_special(byte) || !byte.is_ascii())
            .fold(0, |mask, (i, _)| mask | 1 << i)
    }
}

/// The index just past the closing quote of the string whose body starts at
/// `pos` (just past its opening quote), stepping over escapes; `None` if
/// the string never ends. Nothing is validated: a raw control character is
/// passed over like any other byte.
pub fn string_end(bytes: &[u8], mut pos: usize) -> Option<usize> {
    // Strings that hold JSON have an escape every dozen bytes, so which
    // quotes are escaped is worked out for a whole block at once, from the
    // runs of backslashes, instead of stepping from escape to escape. Keys
    // and most values end within their first sixteen bytes; longer strings
    // go on in strides of four blocks, whose masks are joined so that the
    // carry, a chain from one step to the next, is worked out once per
    // stride.
    #[cfg(any(
        target_arch = "x86_64",
        all(target_arch = "wasm32", target_feature = "simd128")
    ))]
    {
        let mut carried_escape = 0;
        let mut stride = 16;
        while pos + stride <= bytes.len() {
            let closing = if stride == 16 {
                let (quotes, backslashes) = simd::quote_and_backslash_masks(&bytes[pos..]);
                u64::from(quotes) & !escaped_bytes::<16>(backslashes.into(), &mut carried_escape)
            } else {
                // Both masks of each block from one pass over it.
                let (quotes, backslashes) = (0..4).fold((0, 0), |(quotes, backslashes), i| {
                    let (q, b) = simd::quote_and_backslash_masks(&bytes[pos + 16 * i..]);
                    let shift = 16 * i;
                    (
                        quotes | u64::from(q) << shift,
                        backslashes | u64::from(b) << shift,
                    )
                });
                quotes & !escaped_bytes::<64>(backslashes, &mut carried_escape)
            };
            if closing != 0 {
                return Some(pos + closing.trailing_zeros() as usize + 1);
            }
            pos += stride;
            stride = if pos + 64 <= bytes.len() { 64 } else { 16 };
        }
        pos += carried_escape as usize;
    }
    loop {
        pos = skip_plain_string_bytes(bytes, pos);
        match bytes.get(pos)? {
            b'"' => return Some(pos + 1),
            b'\\' => pos += 2, // a backslash and the character it escapes
            _ => pos += 1,
        }
    }
}

/// One mask over a stride of four sixteen-byte blocks: `mask_of` applied
/// to each block, joined.
#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
))]
#[inline(always)]
fn stride_mask(stride: &[u8], mask_of: impl Fn(&[u8]) -> u32) -> u64 {
    let block = |i: usize| u64::from(mask_of(&stride[16 * i..16 * i + 16])) << (16 * i);
    block(0) | block(1) | block(2) | block(3)
}

/// The bits of a block's bytes that a backslash escapes, given a bit per
/// backslash; the block is `BITS` bytes (16 or 64). A run of backslashes
/// escapes every second byte after its start, and the byte after it if the
/// run is odd; `carried` is 1 when the previous block ended in such an odd
/// run (its escape falls on this block's first byte), and is set for the
/// next block likewise. (The carry trick is the one simdjson made known.)
#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
))]
#[inline(always)]
fn escaped_bytes<const BITS: u32>(backslashes: u64, carried: &mut u64) -> u64 {
    let block = if BITS == 64 {
        u64::MAX
    } else {
        (1 << BITS) - 1
    };
    let even = 0x5555_5555_5555_5555 & block;
    // A backslash that is itself escaped starts nothing.
    let backslashes = backslashes & !*carried;
    let follows_backslash = ((backslashes << 1) | *carried) & block;
    // Runs starting on an odd bit; adding each run to its own start carries
    // past its end, which flips the even/odd sense there.
    let odd_starts = backslashes & !even & !follows_backslash;
    let (sum, overflowed) = odd_starts.overflowing_add(backslashes);
    *carried = if BITS == 64 {
        u64::from(overflowed)
    } else {
        sum >> BITS
    };
    let even_starts = sum & block;
    ((even ^ (even_starts << 1)) & follows_backslash) & block
}

/// The index just past the bracket that closes the object or array whose
/// body starts at `pos` (just past its opening bracket); `None` if it never
/// closes. Strings are stepped over, escapes and all; nothing is validated.
///
/// Only quotes, backslashes and brackets matter here, and they are found
/// sixteen bytes at a time, so stepping over a nested value (a Beats event's
/// metadata, say) costs per such byte rather than per byte or per string.
pub fn container_end(bytes: &[u8], pos: usize) -> Option<usize> {
    let mut walk = ContainerWalk {
        depth: 1,
        in_string: false,
    };
    // Without SIMD the loop below compiles out and these never change.
    #[allow(unused_mut)]
    let mut at = pos;
    // A backslash ended the last block: the block's first byte is escaped.
    #[allow(unused_mut)]
    let mut first_escaped = false;
    #[cfg(any(
        target_arch = "x86_64",
        all(target_arch = "wasm32", target_feature = "simd128")
    ))]
    while at + 16 <= bytes.len() {
        let mut mask = simd::structure_mask(&bytes[at..at + 16]);
        if std::mem::take(&mut first_escaped) {
            mask &= !1;
        }
        while mask != 0 {
            let i = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            match walk.take(bytes[at + i]) {
                Step::Closed => return Some(at + i + 1),
                Step::Escape if i == 15 => first_escaped = true,
                Step::Escape => mask &= !(1 << (i + 1)),
                Step::On => {}
            }
        }
        at += 16;
    }
    let mut i = at + usize::from(first_escaped);
    while i < bytes.len() {
        match walk.take(bytes[i]) {
            Step::Closed => return Some(i + 1),
            Step::Escape => i += 1,
            Step::On => {}
        }
        i += 1;
    }
    None
}

/// Where [`container_end`] is: how deep, and whether inside a string.
struct ContainerWalk {
    depth: usize,
    in_string: bool,
}

enum Step {
    On,
    /// A backslash in a string: the next byte is taken as written.
    Escape,
    /// The container's own closing bracket.
    Closed,
}

impl ContainerWalk {
    #[inline(always)]
    fn take(&mut self, byte: u8) -> Step {
        match byte {
            b'"' => self.in_string = !self.in_string,
            b'\\' if self.in_string => return Step::Escape,
            b'{' | b'[' if !self.in_string => self.depth += 1,
            b'}' | b']' if !self.in_string => {
                self.depth -= 1;
                if self.depth == 0 {
                    return Step::Closed;
                }
            }
            _ => {}
        }
        Step::On
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;
/// Four plain bytes (`a`) above a 32-bit window, so it can use the 64-bit
/// test.
const PLAIN_HIGH_HALF: u64 = 0x6161_6161 << 32;

fn is_special(byte: u8) -> bool {
    byte == b'"' || byte == b'\\' || byte < 0x20
}

/// The high bit of each byte of `word` that is special (with `NON_ASCII`,
/// also of each byte that is not ASCII). A borrow can set a bit above a
/// special byte, never below one, so the lowest bit is exact and plain bytes
/// below the first special one never show.
fn special_bits<const NON_ASCII: bool>(word: u64) -> u64 {
    let has_zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let special = has_zero_byte(word ^ (ONES * b'"' as u64))
        | has_zero_byte(word ^ (ONES * b'\\' as u64))
        | (word.wrapping_sub(ONES * 0x20) & !word & HIGHS);
    if NON_ASCII {
        special | (word & HIGHS)
    } else {
        special
    }
}

fn first_special(bits: u64) -> Option<usize> {
    (bits != 0).then(|| bits.trailing_zeros() as usize / 8)
}

/// Eight bytes at a time, then one window ending at the last byte (at least
/// eight bytes from `pos`).
fn find_special_in_words<const NON_ASCII: bool>(bytes: &[u8], mut pos: usize) -> Option<usize> {
    let end = bytes.len();
    let window = |at: usize| {
        let word = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        first_special(special_bits::<NON_ASCII>(word)).map(|i| at + i)
    };
    while pos + 8 <= end {
        if let Some(found) = window(pos) {
            return Some(found);
        }
        pos += 8;
    }
    if pos < end { window(end - 8) } else { None }
}

/// Writes `text` as a JSON string, escaping as `serde_json` does.
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // `start` is the first byte not yet written, `pos` the first not yet
    // searched for a byte to escape.
    let (mut start, mut pos) = (0, 0);
    // A long string is searched four blocks at a time, and every escape in
    // them is written from the stride's mask: in a string holding JSON,
    // a search per escape would stop every dozen bytes.
    #[cfg(any(
        target_arch = "x86_64",
        all(target_arch = "wasm32", target_feature = "simd128")
    ))]
    while pos + 64 <= bytes.len() {
        let mut specials = stride_mask(&bytes[pos..pos + 64], simd::special_mask::<false>);
        while specials != 0 {
            let at = pos + specials.trailing_zeros() as usize;
            crate::plumbing::bytes::append(out, &bytes[start..at]);
            write_escape(out, bytes[at]);
            start = at + 1;
            specials &= specials - 1;
        }
        pos += 64;
    }
    loop {
        let special = skip_plain_string_bytes(bytes, pos);
        crate::plumbing::bytes::append(out, &bytes[start..special]);
        let Some(&byte) = bytes.get(special) else {
            break;
        };
        write_escape(out, byte);
        start = special + 1;
        pos = start;
    }
    out.push(b'"');
}

/// Writes the escape of `byte`, a quote, backslash or control character.
#[inline(always)]
fn write_escape(out: &mut Vec<u8>, byte: u8) {
    match byte {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x0c => out.extend_from_slice(b"\\f"),
        control => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[(control >> 4) as usize]);
            out.push(HEX[(control & 0xf) as usize]);
        }
    }
}

/// The code unit that the four hex digits of a `\uXXXX` escape spell, if
/// `digits` is exactly four of `0-9`, `a-f`, `A-F`. (`u32::from_str_radix`
/// would also take a leading `+`, which JSON does not.)
pub fn hex4(digits: &[u8]) -> Option<u32> {
    if digits.len() != 4 {
        return None;
    }
    digits.iter().try_fold(0, |unit, &digit| {
        Some(unit * 16 + char::from(digit).to_digit(16)?)
    })
}

/// Whether `number` reads as a finite f64. serde_json (built with
/// `arbitrary_precision`) keeps any number's text, but past a double's
/// range (`1e400`, an integer of 310 digits) no reader downstream, nor the
/// host's check of a filter's output, takes it as a number.
pub fn number_in_range(number: &serde_json::Number) -> bool {
    number.as_f64().is_some_and(f64::is_finite)
}

/// Whether every number in `value` is [`number_in_range`].
pub fn numbers_in_range(value: &Value) -> bool {
    match value {
        Value::Number(number) => number_in_range(number),
        Value::Array(items) => items.iter().all(numbers_in_range),
        Value::Object(map) => map.values().all(numbers_in_range),
        _ => true,
    }
}

/// Writes `n` as JSON, as `write_value(out, &Value::from(n))` would, without
/// the `Value`: its number is kept as text (serde_json's
/// `arbitrary_precision`), so making one allocates.
pub fn write_i64(out: &mut Vec<u8>, n: i64) {
    serde_json::to_writer(out, &n).expect("writing to a Vec cannot fail");
}

/// Writes `f` as JSON, as `write_value(out, &Value::from(f))` would (`null`
/// if it is not finite), without the `Value`.
pub fn write_f64(out: &mut Vec<u8>, f: f64) {
    serde_json::to_writer(out, &f).expect("writing to a Vec cannot fail");
}

/// Writes `value` as compact JSON, byte-identical to `serde_json::to_writer`.
pub fn write_value(out: &mut Vec<u8>, value: &Value) {
    write_value_with(
        out,
        value,
        &|out: &mut Vec<u8>, number: &serde_json::Number| {
            serde_json::to_writer(out, number).expect("writing to a Vec cannot fail")
        },
    )
}

/// As [`write_value`], each number written by `number` (sprintf writes
/// them as Java does).
pub fn write_value_with<N>(out: &mut Vec<u8>, value: &Value, number: &N)
where
    N: Fn(&mut Vec<u8>, &serde_json::Number),
{
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => number(out, n),
        Value::String(text) => write_str(out, text),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value_with(out, item, number);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, key);
                out.push(b':');
                write_value_with(out, item, number);
            }
            out.push(b'}');
        }
    }
}

#[cfg(test)]
mod tests;
