//! How many of sixteen bytes in a row belong to a class, in one step.
//!
//! Runs such as `\S+`, `\w+` or `[0-9]{1,3}` are where the matcher spends
//! much of its time, and a character at a time each one costs a load, a
//! branch and, in WebAssembly, a deadline check. The ASCII part of a class
//! fits in sixteen bytes of *rows*: bit `h` of `rows[l]` says whether byte
//! `h * 16 + l` is a member. Two table lookups by nibble (a byte shuffle)
//! then test sixteen bytes at once, natively (SSSE3) and in WebAssembly
//! (simd128) alike, and elsewhere a byte at a time.

/// The rows of an ASCII membership table.
pub(super) fn rows_of(ascii: &[bool; 128]) -> [u8; 16] {
    let mut rows = [0u8; 16];
    for (b, _) in ascii.iter().enumerate().filter(|(_, member)| **member) {
        rows[b & 15] |= 1 << (b >> 4);
    }
    rows
}

/// Bit `h` for high nibble `h` of an ASCII byte; none for the others, so a
/// non-ASCII byte is never a member here.
const HIGH_NIBBLE_BITS: [u8; 16] = [1, 2, 4, 8, 16, 32, 64, 128, 0, 0, 0, 0, 0, 0, 0, 0];

/// How many bytes from the start of `block` are ASCII members (0 to 16).
#[inline(always)]
pub(super) fn leading_members(rows: &[u8; 16], block: &[u8; 16]) -> usize {
    imp::members_mask(rows, block).trailing_ones() as usize
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod imp {
    use std::arch::wasm32::{
        i8x16_bitmask, i8x16_ne, i8x16_swizzle, u8x16_shr, u8x16_splat, v128, v128_and, v128_load,
    };

    /// Bit `i` set when `block[i]` is a member.
    #[inline(always)]
    pub fn members_mask(rows: &[u8; 16], block: &[u8; 16]) -> u32 {
        // SAFETY: all three are sixteen readable bytes, and `v128_load` does
        // not need alignment.
        let (rows, bytes, bits) = unsafe {
            (
                v128_load(rows.as_ptr().cast::<v128>()),
                v128_load(block.as_ptr().cast::<v128>()),
                v128_load(super::HIGH_NIBBLE_BITS.as_ptr().cast::<v128>()),
            )
        };
        let row = i8x16_swizzle(rows, v128_and(bytes, u8x16_splat(15)));
        let bit = i8x16_swizzle(bits, u8x16_shr(bytes, 4));
        let member = i8x16_ne(v128_and(row, bit), u8x16_splat(0));
        u32::from(i8x16_bitmask(member))
    }
}

#[cfg(target_arch = "x86_64")]
mod imp {
    use std::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
        _mm_setzero_si128, _mm_shuffle_epi8, _mm_srli_epi16,
    };
    use std::sync::atomic::{AtomicU8, Ordering};

    /// 0 unknown, 1 without SSSE3, 2 with it.
    static SSSE3: AtomicU8 = AtomicU8::new(0);

    /// Bit `i` set when `block[i]` is a member.
    #[inline(always)]
    pub fn members_mask(rows: &[u8; 16], block: &[u8; 16]) -> u32 {
        let known = match SSSE3.load(Ordering::Relaxed) {
            0 => {
                let found = if std::is_x86_feature_detected!("ssse3") {
                    2
                } else {
                    1
                };
                SSSE3.store(found, Ordering::Relaxed);
                found
            }
            known => known,
        };
        if known == 2 {
            // SAFETY: the processor has SSSE3, checked just above.
            unsafe { shuffled(rows, block) }
        } else {
            super::bytewise(rows, block)
        }
    }

    #[target_feature(enable = "ssse3")]
    fn shuffled(rows: &[u8; 16], block: &[u8; 16]) -> u32 {
        // SAFETY: all three are sixteen readable bytes; the loads do not need
        // alignment.
        let (rows, bytes, bits) = unsafe {
            (
                _mm_loadu_si128(rows.as_ptr().cast::<__m128i>()),
                _mm_loadu_si128(block.as_ptr().cast::<__m128i>()),
                _mm_loadu_si128(super::HIGH_NIBBLE_BITS.as_ptr().cast::<__m128i>()),
            )
        };
        let low = _mm_set1_epi8(15);
        let row = _mm_shuffle_epi8(rows, _mm_and_si128(bytes, low));
        let bit = _mm_shuffle_epi8(bits, _mm_and_si128(_mm_srli_epi16(bytes, 4), low));
        let outside = _mm_cmpeq_epi8(_mm_and_si128(row, bit), _mm_setzero_si128());
        !(_mm_movemask_epi8(outside) as u32) & 0xFFFF
    }
}

#[cfg(not(any(
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
)))]
mod imp {
    pub use super::bytewise as members_mask;
}

/// The same mask a byte at a time.
#[cfg_attr(
    all(target_arch = "wasm32", target_feature = "simd128"),
    allow(dead_code)
)]
fn bytewise(rows: &[u8; 16], block: &[u8; 16]) -> u32 {
    block.iter().enumerate().fold(0, |mask, (i, &b)| {
        let member = rows[usize::from(b & 15)] & HIGH_NIBBLE_BITS[usize::from(b >> 4)] != 0;
        mask | (u32::from(member) << i)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte value at every lane, for classes with members in every
    /// row and column, against the table it was built from.
    #[test]
    fn agrees_with_the_table_for_every_byte_in_every_lane() {
        let classes: [fn(u8) -> bool; 5] = [
            |b| b.is_ascii_digit(),
            |b| b.is_ascii_alphanumeric() || b == b'_',
            |b| b.is_ascii() && !b.is_ascii_whitespace(),
            |b| b == b'"' || b == 0x7f || b == 0,
            |_| false,
        ];
        for class in classes {
            let mut ascii = [false; 128];
            for b in 0..128u8 {
                ascii[usize::from(b)] = class(b);
            }
            let rows = rows_of(&ascii);
            for lane in 0..16 {
                for b in 0..=255u8 {
                    // Members around the lane, so the count stops at it.
                    let filler = (0..128u8).find(|&m| class(m)).unwrap_or(0);
                    let mut block = [filler; 16];
                    block[lane] = b;
                    let member = b < 128 && class(b);
                    let expected: u32 = (0..16)
                        .map(|i| u32::from(if i == lane { member } else { class(filler) }) << i)
                        .sum();
                    assert_eq!(
                        imp::members_mask(&rows, &block),
                        expected,
                        "{b:#x} at {lane}"
                    );
                    assert_eq!(bytewise(&rows, &block), expected, "{b:#x} at {lane}");
                }
            }
        }
    }
}
