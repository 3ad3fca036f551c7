//! How many of sixteen bytes in a row belong to a class, in one step.
//!
//! Runs such as `\S+`, `\w+` or `[0-9]{1,3}` are where the matcher spends
//! much of its time, and a character at a time each one costs a load, a
//! branch and, in WebAssembly, a deadline check. The ASCII part of a class
//! fits in sixteen bytes of *rows*: bit `h` of `rows[l]` says whether byte
//! `h * 16 + l` is a member. In WebAssembly two table lookups by nibble (a
//! simd128 byte shuffle) then test sixteen bytes at once. Natively the
//! matcher keeps its one-character loop (see `runs.rs`), and only tests
//! come here, a byte at a time.

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

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod imp {
    pub(super) use super::bytewise as members_mask;
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
            // Members around the lane, so the count stops at it.
            let filler = (0..128u8).find(|&m| class(m)).unwrap_or(0);
            for lane in 0..16 {
                for b in 0..=255u8 {
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
