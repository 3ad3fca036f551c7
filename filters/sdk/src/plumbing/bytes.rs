//! Appending a short run of bytes without a call into the runtime.
//!
//! In WebAssembly a copy of a length known only at run time compiles to
//! `memory.copy`, which wasmtime carries out in the host: a call out of the
//! module, bounds checks, then `memmove`. Filters append short runs all the
//! time (a key, a captured value, the text between two escapes), and for
//! those the call costs more than the copy. Up to 32 bytes are copied here
//! as two overlapping fixed-size moves, which compile to plain loads and
//! stores; longer runs still go to `memory.copy`, where it pays off.

/// `out.extend_from_slice(bytes)`, without `memory.copy` for short runs.
#[inline]
pub fn append(out: &mut Vec<u8>, bytes: &[u8]) {
    // Natively `memcpy` is a plain call that handles short runs well.
    if bytes.len() > SHORT || !cfg!(target_arch = "wasm32") {
        out.extend_from_slice(bytes);
    } else {
        append_short(out, bytes);
    }
}

/// The longest run [`append_short`] takes.
const SHORT: usize = 32;

/// Appends at most [`SHORT`] bytes with fixed-size moves.
#[inline]
fn append_short(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = bytes.len();
    assert!(len <= SHORT);
    out.reserve(len);
    // SAFETY: `reserve` left room for `len` more bytes after `out.len()`.
    // Each move reads within `bytes` and writes within that room (the two
    // moves of a size class overlap when `len` is below twice the size), and
    // every byte up to the new length is written before `set_len`.
    unsafe {
        let src = bytes.as_ptr();
        let dst = out.as_mut_ptr().add(out.len());
        match len {
            16.. => {
                move_fixed::<16>(src, dst);
                move_fixed::<16>(src.add(len - 16), dst.add(len - 16));
            }
            8.. => {
                move_fixed::<8>(src, dst);
                move_fixed::<8>(src.add(len - 8), dst.add(len - 8));
            }
            4.. => {
                move_fixed::<4>(src, dst);
                move_fixed::<4>(src.add(len - 4), dst.add(len - 4));
            }
            1.. => {
                *dst = *src;
                *dst.add(len / 2) = *src.add(len / 2);
                *dst.add(len - 1) = *src.add(len - 1);
            }
            0 => {}
        }
        out.set_len(out.len() + len);
    }
}

/// Copies `N` bytes, unaligned.
///
/// # Safety
/// `src` must be readable and `dst` writable for `N` bytes.
#[inline(always)]
unsafe fn move_fixed<const N: usize>(src: *const u8, dst: *mut u8) {
    // SAFETY: as the caller promises.
    unsafe {
        dst.cast::<[u8; N]>()
            .write_unaligned(src.cast::<[u8; N]>().read_unaligned())
    }
}

#[cfg(test)]
mod tests {
    type Append = fn(&mut Vec<u8>, &[u8]);

    /// Both paths, whichever this target takes: every length from five
    /// offsets, onto a vector with no spare room.
    #[test]
    fn appends_every_length_onto_every_fill() {
        let source: Vec<u8> = (0..80u8).map(|i| i.wrapping_mul(37)).collect();
        for start in 0..5 {
            for len in 0..=source.len() - start {
                let bytes = &source[start..start + len];
                let appenders: &[Append] = if len <= super::SHORT {
                    &[super::append, super::append_short]
                } else {
                    &[super::append]
                };
                for append in appenders {
                    let mut out = b"head".to_vec();
                    out.shrink_to_fit();
                    append(&mut out, bytes);
                    assert_eq!(&out[..4], b"head");
                    assert_eq!(&out[4..], bytes, "{len} bytes from {start}");
                }
            }
        }
    }
}
