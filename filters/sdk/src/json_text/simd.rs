//! The block scans under `json_text`: one implementation per instruction
//! set, chosen when the crate is built, with the same functions in each.
//!
//! SSE2 is in every x86_64 CPU and the filters are built with simd128, so
//! both of the targets that matter get sixteen bytes per step; any other
//! target falls back to the word-at-a-time scan in `json_text`.

/// Sixteen bytes at a time, then one window ending at the last byte (at
/// least sixteen bytes from `pos`).
#[cfg(target_arch = "x86_64")]
mod imp {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };

    pub fn find_special<const NON_ASCII: bool>(bytes: &[u8], pos: usize) -> Option<usize> {
        super::find_in_blocks(bytes, pos, special_mask::<NON_ASCII>)
    }

    /// A bit per special byte (see [`crate::json_text::skip_plain_string_bytes`]) of
    /// a sixteen-byte block; with `NON_ASCII`, also per non-ASCII byte.
    /// (Without SIMD only the lowest bit is exact; see the fallback.)
    #[inline(always)]
    pub fn special_mask<const NON_ASCII: bool>(block: &[u8]) -> u32 {
        assert!(block.len() >= 16);
        // SAFETY: SSE2 is part of the x86_64 baseline, and `block` has
        // sixteen readable bytes; the load has no alignment requirement.
        unsafe {
            let chunk = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
            let control_max = _mm_set1_epi8(0x1f);
            // max(byte, 0x1f) == 0x1f exactly for the control bytes.
            let control = _mm_cmpeq_epi8(_mm_max_epu8(chunk, control_max), control_max);
            let quote = _mm_cmpeq_epi8(chunk, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(chunk, _mm_set1_epi8(b'\\' as i8));
            let special = _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control));
            // The mask of high bits is the mask of non-ASCII bytes.
            let non_ascii = if NON_ASCII {
                _mm_movemask_epi8(chunk)
            } else {
                0
            };
            (special | non_ascii) as u32
        }
    }

    /// A bit per quote and a bit per backslash of a sixteen-byte block.
    #[inline(always)]
    pub fn quote_and_backslash_masks(block: &[u8]) -> (u32, u32) {
        assert!(block.len() >= 16);
        // SAFETY: SSE2 is part of the x86_64 baseline, and `block` has
        // sixteen readable bytes; the load has no alignment requirement.
        unsafe {
            let chunk = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
            let quote = _mm_cmpeq_epi8(chunk, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(chunk, _mm_set1_epi8(b'\\' as i8));
            (
                _mm_movemask_epi8(quote) as u32,
                _mm_movemask_epi8(backslash) as u32,
            )
        }
    }

    /// A bit per quote, backslash and bracket of a sixteen-byte block.
    #[inline(always)]
    pub fn structure_mask(block: &[u8]) -> u32 {
        assert!(block.len() >= 16);
        // SAFETY: SSE2 is part of the x86_64 baseline, and `block` has
        // sixteen readable bytes; the load has no alignment requirement.
        unsafe {
            let chunk = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
            let quote = _mm_cmpeq_epi8(chunk, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(chunk, _mm_set1_epi8(b'\\' as i8));
            // `[` and `]` are `{` and `}` with the 0x20 bit clear.
            let folded = _mm_or_si128(chunk, _mm_set1_epi8(0x20));
            let open = _mm_cmpeq_epi8(folded, _mm_set1_epi8(b'{' as i8));
            let close = _mm_cmpeq_epi8(folded, _mm_set1_epi8(b'}' as i8));
            let any = _mm_or_si128(_mm_or_si128(quote, backslash), _mm_or_si128(open, close));
            _mm_movemask_epi8(any) as u32
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod imp {
    use std::arch::wasm32::{
        u8x16_bitmask, u8x16_eq, u8x16_lt, u8x16_splat, v128, v128_load, v128_or,
    };

    pub fn find_special<const NON_ASCII: bool>(bytes: &[u8], pos: usize) -> Option<usize> {
        super::find_in_blocks(bytes, pos, special_mask::<NON_ASCII>)
    }

    /// A bit per special byte (see [`crate::json_text::skip_plain_string_bytes`]) of
    /// a sixteen-byte block; with `NON_ASCII`, also per non-ASCII byte.
    #[inline(always)]
    pub fn special_mask<const NON_ASCII: bool>(block: &[u8]) -> u32 {
        assert!(block.len() >= 16);
        // SAFETY: `block` has sixteen readable bytes, and `v128_load` has no
        // alignment requirement.
        let chunk = unsafe { v128_load(block.as_ptr().cast::<v128>()) };
        let special = v128_or(
            v128_or(
                u8x16_eq(chunk, u8x16_splat(b'"')),
                u8x16_eq(chunk, u8x16_splat(b'\\')),
            ),
            u8x16_lt(chunk, u8x16_splat(0x20)),
        );
        // The mask of high bits is the mask of non-ASCII bytes.
        let non_ascii = if NON_ASCII { u8x16_bitmask(chunk) } else { 0 };
        u32::from(u8x16_bitmask(special) | non_ascii)
    }

    /// A bit per quote and a bit per backslash of a sixteen-byte block.
    #[inline(always)]
    pub fn quote_and_backslash_masks(block: &[u8]) -> (u32, u32) {
        assert!(block.len() >= 16);
        // SAFETY: `block` has sixteen readable bytes, and `v128_load` has no
        // alignment requirement.
        let chunk = unsafe { v128_load(block.as_ptr().cast::<v128>()) };
        (
            u32::from(u8x16_bitmask(u8x16_eq(chunk, u8x16_splat(b'"')))),
            u32::from(u8x16_bitmask(u8x16_eq(chunk, u8x16_splat(b'\\')))),
        )
    }

    /// A bit per quote, backslash and bracket of a sixteen-byte block.
    #[inline(always)]
    pub fn structure_mask(block: &[u8]) -> u32 {
        assert!(block.len() >= 16);
        // SAFETY: `block` has sixteen readable bytes, and `v128_load` has no
        // alignment requirement.
        let chunk = unsafe { v128_load(block.as_ptr().cast::<v128>()) };
        // `[` and `]` are `{` and `}` with the 0x20 bit clear.
        let folded = v128_or(chunk, u8x16_splat(0x20));
        let any = v128_or(
            v128_or(
                u8x16_eq(chunk, u8x16_splat(b'"')),
                u8x16_eq(chunk, u8x16_splat(b'\\')),
            ),
            v128_or(
                u8x16_eq(folded, u8x16_splat(b'{')),
                u8x16_eq(folded, u8x16_splat(b'}')),
            ),
        );
        u32::from(u8x16_bitmask(any))
    }
}

#[cfg(not(any(
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
)))]
mod imp {
    pub fn find_special<const NON_ASCII: bool>(bytes: &[u8], pos: usize) -> Option<usize> {
        crate::json_text::find_special_in_words::<NON_ASCII>(bytes, pos)
    }

    /// Without SIMD, only the lowest bit is set: the first special byte of
    /// the sixteen. Callers that read past the lowest bit are built only
    /// for targets with SIMD.
    pub fn special_mask<const NON_ASCII: bool>(block: &[u8]) -> u32 {
        crate::json_text::find_special_in_words::<NON_ASCII>(&block[..16], 0)
            .map_or(0, |at| 1 << at)
    }
}

/// Runs `mask_of` (a bit per special byte of a sixteen-byte block) over the
/// blocks from `pos`, then over the window ending at the last byte.
#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
))]
fn find_in_blocks(bytes: &[u8], mut pos: usize, mask_of: impl Fn(&[u8]) -> u32) -> Option<usize> {
    let end = bytes.len();
    let window = |at: usize| {
        let mask = mask_of(&bytes[at..at + 16]);
        (mask != 0).then(|| at + mask.trailing_zeros() as usize)
    };
    while pos + 16 <= end {
        if let Some(found) = window(pos) {
            return Some(found);
        }
        pos += 16;
    }
    if pos < end { window(end - 16) } else { None }
}

pub use imp::*;
