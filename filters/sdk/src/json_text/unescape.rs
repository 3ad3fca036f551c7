//! Decoding a JSON string literal into text: the inverse of `write_str`,
//! and what every string a filter reads goes through.

use super::{hex4, simd};

/// Decodes the JSON string literal `raw` (quotes included) into `out`,
/// replacing its contents. Returns false, with `out` unspecified, if `raw` is
/// not a string literal `serde_json` would read (a bad escape, a lone
/// surrogate, a control character, invalid UTF-8).
///
/// Strings that hold JSON (a `message` written by another JSON encoder) have
/// an escape every dozen bytes, so the loop is built around them: each turn
/// copies sixteen bytes blindly into spare room, keeps as many as come
/// before the first special byte, and decodes that one, all in one function.
/// UTF-8 is checked only in the runs of non-ASCII bytes it meets.
pub fn unescape_str_into(raw: &[u8], out: &mut String) -> bool {
    out.clear();
    let Some(inner) = raw.strip_prefix(b"\"").and_then(|r| r.strip_suffix(b"\"")) else {
        return false;
    };
    let mut bytes: Vec<u8> = std::mem::take(out).into_bytes();
    // Decoding never lengthens the text, and sixteen more bytes let the last
    // block be copied whole too.
    bytes.reserve(inner.len() + 16);
    let base = bytes.as_mut_ptr();
    let (mut src, mut dst) = (0, 0);
    // Invariant: `dst <= src`, so every write below stays within
    // `inner.len() + 16` bytes of `base`.
    while src < inner.len() {
        let left = inner.len() - src;
        // The input's last bytes, padded with a plain byte.
        let mut tail = [b' '; 16];
        let block = if left >= 16 {
            &inner[src..src + 16]
        } else {
            tail[..left].copy_from_slice(&inner[src..]);
            &tail[..]
        };
        let mask = simd::special_mask::<true>(block);
        // SAFETY: see the invariant; `block` has sixteen bytes.
        unsafe { std::ptr::copy_nonoverlapping(block.as_ptr(), base.add(dst), 16) };
        if mask == 0 {
            let plain = left.min(16);
            (src, dst) = (src + plain, dst + plain);
            continue;
        }
        let plain = mask.trailing_zeros() as usize;
        (src, dst) = (src + plain, dst + plain);
        let (taken, written) = match inner[src] {
            b'\\' => {
                let Some(escape) = decode_escape(inner, src) else {
                    return false;
                };
                // All four bytes, a fixed-size store: a copy of a length
                // known only at run time would be a call in WebAssembly.
                // SAFETY: `dst + 4 <= src + 4`, within the spare sixteen.
                unsafe { base.add(dst).cast::<[u8; 4]>().write_unaligned(escape.utf8) };
                (escape.taken, escape.len)
            }
            byte if !byte.is_ascii() => {
                // A run of non-ASCII bytes ends at an ASCII one, which no
                // UTF-8 sequence contains: whole characters, or invalid.
                let run = inner[src..]
                    .iter()
                    .position(u8::is_ascii)
                    .unwrap_or(inner.len() - src);
                if std::str::from_utf8(&inner[src..src + run]).is_err() {
                    return false;
                }
                // SAFETY: the run moves no further on than it came from.
                unsafe {
                    std::ptr::copy_nonoverlapping(inner.as_ptr().add(src), base.add(dst), run)
                };
                (run, run)
            }
            // A quote or a control character, which must be escaped.
            _ => return false,
        };
        (src, dst) = (src + taken, dst + written);
    }
    // SAFETY: the first `dst` bytes were written above. They are plain
    // ASCII, runs of non-ASCII bytes checked as UTF-8, or the UTF-8 of
    // decoded escapes.
    unsafe {
        bytes.set_len(dst);
        *out = String::from_utf8_unchecked(bytes);
    }
    true
}

/// What one escape decodes to.
struct Escape {
    /// The character's UTF-8, in the first `len` bytes.
    utf8: [u8; 4],
    len: usize,
    /// How many input bytes the escape spans.
    taken: usize,
}

/// The escape at `at` in a string's body, or `None` if `serde_json` would
/// refuse it.
fn decode_escape(inner: &[u8], at: usize) -> Option<Escape> {
    let simple = match *inner.get(at + 1)? {
        b'"' => b'"',
        b'\\' => b'\\',
        b'/' => b'/',
        b'b' => 0x08,
        b'f' => 0x0c,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'u' => return decode_unicode_escape(inner, at),
        _ => return None,
    };
    Some(Escape {
        utf8: [simple, 0, 0, 0],
        len: 1,
        taken: 2,
    })
}

/// A `\uXXXX` escape at `at`, or a surrogate pair of two.
#[cold]
fn decode_unicode_escape(inner: &[u8], at: usize) -> Option<Escape> {
    let hex = |at: usize| inner.get(at..at + 4).and_then(hex4);
    let mut code = hex(at + 2)?;
    let mut taken = 6;
    if (0xD800..0xDC00).contains(&code)
        && inner.get(at + 6..at + 8) == Some(b"\\u")
        && let Some(low) = hex(at + 8).filter(|l| (0xDC00..0xE000).contains(l))
    {
        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
        taken = 12;
    }
    // A surrogate left unpaired is no character; serde_json refuses it too.
    let c = char::from_u32(code)?;
    let mut utf8 = [0; 4];
    let len = c.encode_utf8(&mut utf8).len();
    Some(Escape { utf8, len, taken })
}
