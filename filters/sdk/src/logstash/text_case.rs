//! Ruby's `upcase`, `downcase` and `capitalize`, which the Logstash plugins
//! (mutate, kv) call, with a fast path for ASCII text.
//!
//! `str::to_lowercase` converts ASCII in machine words; in WebAssembly a word
//! is four bytes, and the standard library is built without SIMD, so
//! lowercasing a log line there took about nine times as long as natively
//! (see BENCHMARKS.md). Most log text is ASCII: sixteen bytes at a time it is
//! converted with SIMD (SSE2 natively, simd128 in WebAssembly). Any other text
//! goes to the standard library's mappings, as Ruby (whose `upcase` and
//! `downcase` the Logstash plugins call) maps it: Unicode's full mappings,
//! one character at a time, but for two rules Rust's follow and Ruby's do
//! not: a final capital sigma lowercases to `σ`, and `capitalize` gives
//! the first character its titlecase (`ǆ` to `ǅ`), not its uppercase.

use std::borrow::Cow;

/// Ruby's `downcase`, faster when `text` is ASCII; borrowed when nothing
/// changes, so a caller need not compare to know.
pub fn lowercase(text: &str) -> Cow<'_, str> {
    convert(text, b'A', lowercase_each)
}

/// Ruby's `upcase` (`text.to_uppercase()`), faster when `text` is ASCII;
/// borrowed when nothing changes.
pub fn uppercase(text: &str) -> Cow<'_, str> {
    convert(text, b'a', str::to_uppercase)
}

/// Ruby's `capitalize`: the first character in titlecase (see `titlecase`
/// below), the rest as [`lowercase`] makes them; borrowed when
/// nothing changes.
pub fn capitalize(text: &str) -> Cow<'_, str> {
    let mut chars = text.chars();
    let Some(first) = chars.next() else {
        return Cow::Borrowed(text);
    };
    let mut capitalized = String::with_capacity(text.len());
    titlecase(first, &mut capitalized);
    capitalized.push_str(&lowercase(chars.as_str()));
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
/// a iota subscript (`ᾳ` to `ᾼ`) and Georgian letters, whose titlecase
/// is the small letter (Mkhedruli), whichever they are.
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
        // Mtavruli, the Georgian capitals: their titlecase is the Mkhedruli
        // letter, 0x1c90 - 0x10d0 places back (`Ა` to `ა`).
        '\u{1c90}'..='\u{1cba}' | '\u{1cbd}'..='\u{1cbf}' => {
            out.push(char::from_u32(c as u32 - 0x1c90 + 0x10d0).expect("a Georgian letter"));
            return;
        }
        _ => {
            out.extend(c.to_uppercase());
            return;
        }
    };
    out.push_str(special);
}

/// `str::to_lowercase` but for its one rule that looks at the letters
/// around: a capital sigma that ends a word becomes `ς` there, and `σ` in
/// Ruby, as anywhere else.
fn lowercase_each(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            'Σ' => out.push('σ'),
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// Flips the case of the 26 ASCII letters from `first`, or hands the whole
/// text to `unicode` if it holds any non-ASCII byte.
fn convert<'t>(text: &'t str, first: u8, unicode: fn(&str) -> String) -> Cow<'t, str> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    match flip_ascii_letters(bytes, first, &mut out) {
        // SAFETY: every byte written is below 0x80, so `out` is ASCII.
        Some(true) => Cow::Owned(unsafe { String::from_utf8_unchecked(out) }),
        Some(false) => Cow::Borrowed(text),
        None => match unicode(text) {
            converted if converted == text => Cow::Borrowed(text),
            converted => Cow::Owned(converted),
        },
    }
}

/// Appends `bytes` with the letters `first..=first + 25` flipped to the other
/// case and says whether any was; `None` as soon as a non-ASCII byte turns up.
fn flip_ascii_letters(bytes: &[u8], first: u8, out: &mut Vec<u8>) -> Option<bool> {
    if bytes.len() < 16 {
        return flip_bytes(bytes, first, out);
    }
    let mut block = [0u8; 16];
    let mut flipped = false;
    let mut pos = 0;
    while pos + 16 <= bytes.len() {
        flipped |= simd::flip_block(&bytes[pos..pos + 16], first, &mut block)?;
        out.extend_from_slice(&block);
        pos += 16;
    }
    if pos < bytes.len() {
        // The tail as one block ending at the last byte; its first bytes
        // were converted already and are not written twice.
        let start = bytes.len() - 16;
        flipped |= simd::flip_block(&bytes[start..], first, &mut block)?;
        out.extend_from_slice(&block[pos - start..]);
    }
    Some(flipped)
}

fn flip_bytes(bytes: &[u8], first: u8, out: &mut Vec<u8>) -> Option<bool> {
    let mut flipped = false;
    for &b in bytes {
        let converted = flip_byte(b, first)?;
        flipped |= converted != b;
        out.push(converted);
    }
    Some(flipped)
}

/// `b` with its case flipped if it is one of the letters from `first`;
/// `None` if it is not ASCII.
fn flip_byte(b: u8, first: u8) -> Option<u8> {
    b.is_ascii().then(|| {
        if b.wrapping_sub(first) < 26 {
            b ^ 0x20
        } else {
            b
        }
    })
}

#[cfg(target_arch = "x86_64")]
mod simd {
    use std::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_cmpgt_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_movemask_epi8,
        _mm_set1_epi8, _mm_storeu_si128, _mm_xor_si128,
    };

    pub fn flip_block(input: &[u8], first: u8, out: &mut [u8; 16]) -> Option<bool> {
        // SAFETY: SSE2 is part of the x86_64 baseline; `input` and `out` are
        // sixteen bytes, and neither access needs alignment.
        unsafe {
            let chunk = _mm_loadu_si128(input.as_ptr().cast::<__m128i>());
            if _mm_movemask_epi8(chunk) != 0 {
                return None;
            }
            // All bytes are below 0x80, so signed comparisons are exact.
            let letter = _mm_and_si128(
                _mm_cmpgt_epi8(chunk, _mm_set1_epi8(first as i8 - 1)),
                _mm_cmplt_epi8(chunk, _mm_set1_epi8(first as i8 + 26)),
            );
            let flipped = _mm_xor_si128(chunk, _mm_and_si128(letter, _mm_set1_epi8(0x20)));
            _mm_storeu_si128(out.as_mut_ptr().cast::<__m128i>(), flipped);
            Some(_mm_movemask_epi8(letter) != 0)
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use std::arch::wasm32::{
        i8x16_bitmask, u8x16_ge, u8x16_le, u8x16_splat, v128, v128_and, v128_any_true, v128_load,
        v128_store, v128_xor,
    };

    pub fn flip_block(input: &[u8], first: u8, out: &mut [u8; 16]) -> Option<bool> {
        // SAFETY: `input` and `out` are sixteen bytes; neither access needs
        // alignment.
        let chunk = unsafe { v128_load(input.as_ptr().cast::<v128>()) };
        if i8x16_bitmask(chunk) != 0 {
            return None;
        }
        let letter = v128_and(
            u8x16_ge(chunk, u8x16_splat(first)),
            u8x16_le(chunk, u8x16_splat(first + 25)),
        );
        let flipped = v128_xor(chunk, v128_and(letter, u8x16_splat(0x20)));
        // SAFETY: as above.
        unsafe { v128_store(out.as_mut_ptr().cast::<v128>(), flipped) };
        Some(v128_any_true(letter))
    }
}

#[cfg(not(any(
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
)))]
mod simd {
    pub fn flip_block(input: &[u8], first: u8, out: &mut [u8; 16]) -> Option<bool> {
        let mut flipped = false;
        for (converted, &b) in out.iter_mut().zip(input) {
            *converted = super::flip_byte(b, first)?;
            flipped |= *converted != b;
        }
        Some(flipped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Same text as the standard library's, borrowed exactly when unchanged;
    /// but a capital sigma is always `σ` (the texts here hold no `ς`, so
    /// every `ς` the standard library writes is its final-sigma rule).
    fn agrees(text: &str) {
        assert!(!text.contains('ς'));
        for (ours, theirs) in [
            (lowercase(text), text.to_lowercase().replace('ς', "σ")),
            (uppercase(text), text.to_uppercase()),
        ] {
            assert_eq!(ours, theirs, "{text:?}");
            assert_eq!(matches!(ours, Cow::Borrowed(_)), theirs == text, "{text:?}");
        }
    }

    /// Every length through three blocks, with a letter or a non-ASCII
    /// character at every position: always what the standard library gives
    /// (Ruby's answers are checked in mutate's `ruby_oracle` test).
    #[test]
    fn agrees_with_the_standard_library() {
        let alphabet = "aZ@[`{09 _-~\u{7f}GET /Index.HTML?Q=Ab";
        let specials = ["é", "Σ", "ß", "İ", "A", "z"];
        for len in 0..50 {
            let base: String = alphabet.chars().cycle().take(len).collect();
            agrees(&base);
            for at in 0..len {
                for special in specials {
                    let mut text: String = base.chars().take(at).collect();
                    text.push_str(special);
                    text.extend(base.chars().skip(at + 1));
                    agrees(&text);
                }
            }
        }
        // A sigma at a word's end is `σ`, as in Ruby, not Unicode's `ς`.
        assert_eq!(lowercase("ABCDEFGHIJKLMNOPQRSΣ"), "abcdefghijklmnopqrsσ");
        // Unchanged texts of every length, with and without a block tail.
        for len in 0..40 {
            agrees(&"already lower 0123 ".repeat(3)[..len]);
            agrees(&"ALREADY UPPER 0123 ".repeat(3)[..len]);
        }
    }

    /// Ruby 3.1's `capitalize` of each text (the rest of the mappings are
    /// held to Ruby in mutate's `ruby_oracle` test).
    #[test]
    fn capitalize_titlecases_the_first_character() {
        for (text, ruby) in [
            ("", ""),
            ("hello WORLD", "Hello world"),
            ("ß", "Ss"),
            ("ǆem", "ǅem"),
            ("Ǆ", "ǅ"),
            ("ﬁx", "Fix"),
            ("ᾳb", "ᾼb"),
            ("ᾀ", "ᾈ"),
            ("ΣΑΣ", "Σασ"),
            ("ა", "ა"),
            ("ᲐᲑ", "აბ"),
            ("Ჿ", "ჿ"),
            ("éT", "Ét"),
        ] {
            let capitalized = capitalize(text);
            assert_eq!(capitalized, ruby, "{text:?}");
            assert_eq!(matches!(capitalized, Cow::Borrowed(_)), text == ruby);
        }
    }
}
