//! A hash that is the same in every process, build and platform.
//!
//! Stateful filters keep hashes in their snapshots (templates' ids, anomaly's
//! seen values and checksum), so the hash must not change between the run
//! that saved a state and the one that restores it. std's default hasher is
//! seeded per process; FNV-1a is fixed, simple to recompute in any language,
//! and fast on the short keys filters hash.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a, 64 bits, over `bytes`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hasher = Fnv1a::default();
    hasher.write(bytes);
    hasher.finish()
}

/// Bytes [`seal`] adds: the FNV-1a of what it seals, little-endian.
pub const SEAL_BYTES: usize = 8;

/// Appends the FNV-1a of `bytes` to them, little-endian: the checksum a
/// stateful filter's snapshot ends in, so that a damaged one is refused
/// rather than read as another state.
pub fn seal(bytes: &mut Vec<u8>) {
    let checksum = fnv1a(bytes);
    bytes.extend(checksum.to_le_bytes());
}

/// What [`seal`] sealed in `sealed`, if its checksum holds.
pub fn unseal(sealed: &[u8]) -> Option<&[u8]> {
    let (covered, stored) = sealed.split_at_checked(sealed.len().checked_sub(SEAL_BYTES)?)?;
    let stored = u64::from_le_bytes(stored.try_into().ok()?);
    (fnv1a(covered) == stored).then_some(covered)
}

/// FNV-1a as a [`Hasher`], for maps whose iteration or hashes must not
/// depend on the process.
#[derive(Clone, Copy)]
pub struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(OFFSET_BASIS)
    }
}

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(PRIME);
        }
    }
}

/// A `HashMap` hashed with [`Fnv1a`].
pub type Fnv1aMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv1a>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unseal_takes_back_what_seal_sealed_and_nothing_damaged() {
        let mut sealed = b"state".to_vec();
        seal(&mut sealed);
        assert_eq!(sealed.len(), 5 + SEAL_BYTES);
        assert_eq!(unseal(&sealed), Some(&b"state"[..]));
        sealed[1] ^= 1;
        assert_eq!(unseal(&sealed), None);
        assert_eq!(unseal(&sealed[..SEAL_BYTES - 1]), None);
    }

    #[test]
    fn matches_the_published_fnv1a_values() {
        // Test vectors from the FNV reference (draft-eastlake-fnv).
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn writes_in_pieces_hash_as_one() {
        let mut hasher = Fnv1a::default();
        hasher.write(b"foo");
        hasher.write(b"bar");
        assert_eq!(hasher.finish(), fnv1a(b"foobar"));
    }
}
