//! What per-key state costs the instance, in bytes, so that `max_state_mib`
//! bounds its memory rather than a count of keys (which let 10,000 long
//! keys, or keys with many values, take an instance past its limit).
//!
//! A charge is an upper estimate of what a key's state takes in
//! WebAssembly, calibrated against the instance's measured memory (README,
//! "Memory bound"): the allocation a container gets from the SDK's
//! allocator (`filters/sdk/src/alloc.rs`: size classes up to 4096 bytes,
//! each keeping the blocks freed into it), twice over because a container
//! grown by doubling leaves the smaller blocks it grew through behind; and
//! the bytes it adds to the snapshot, [`SNAPSHOT_COPIES`] times over.
//!
//! Charges are counted from lengths and fixed numbers only, never from
//! capacities or `size_of`: an instance restored from a snapshot must charge
//! exactly what the one that took it did (a checkpoint replay has to evict
//! the same keys), and a native test must charge what WebAssembly does.

use wasmstash_sdk::size_classes::block_bytes;

/// A snapshot is held about this many times at once: the one being written,
/// the previous one (the SDK keeps it until the next replaces it), and the
/// holes earlier, smaller ones leave in memory as the state grows.
pub const SNAPSHOT_COPIES: usize = 4;

/// What a key's state is charged.
pub trait Weigh {
    /// The charge of a fresh state: its map slot (twice over, for the
    /// table's spare slots and the table it grew from) and its snapshot.
    const FIXED: usize;
    /// What it holds beyond that: values seen, open intervals, seeds.
    fn weight(&self) -> usize;
}

/// A map entry's charge besides its state's: the key's allocation, and the
/// key and its framing (length, `last_seen`) in the snapshot.
pub fn entry<S: Weigh>(key: &str) -> usize {
    S::FIXED + allocated(key.len()) + SNAPSHOT_COPIES * (key.len() + 8)
}

/// What the guest allocator hands out for `bytes`: its size class's block
/// (the SDK's `size_classes`), above the largest class `bytes` and a header.
pub fn allocated(bytes: usize) -> usize {
    match bytes {
        0 => 0,
        _ => block_bytes(bytes).unwrap_or((bytes + 8).next_multiple_of(8)),
    }
}

/// A grown container holding `bytes` now: its allocation, and as much
/// again for the ones it outgrew.
pub fn grown(bytes: usize) -> usize {
    2 * allocated(bytes)
}

/// Bytes of a hash table of `items` entries of `slot` bytes, as it stands
/// after growing one insert at a time: a power-of-two count of buckets, at
/// most 7/8 full (3 of 4, 7 of 8 when small), a control byte each and a
/// group's worth more.
pub fn table(items: usize, slot: usize) -> usize {
    if items == 0 {
        return 0;
    }
    let mut buckets = 4;
    while capacity(buckets) < items {
        buckets *= 2;
    }
    buckets * slot + buckets + 16
}

fn capacity(buckets: usize) -> usize {
    if buckets < 8 {
        buckets - 1
    } else {
        buckets / 8 * 7
    }
}

/// Bytes of a list of `items` elements of `size` bytes grown by pushing:
/// room for 4, then doubled as needed.
pub fn list(items: usize, size: usize) -> usize {
    if items == 0 {
        return 0;
    }
    items.next_power_of_two().max(4) * size
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_are_charged_as_they_grow() {
        assert_eq!(allocated(9), 16);
        assert_eq!(allocated(300), 512);
        assert_eq!(allocated(5000), 5008);
        assert_eq!(table(0, 16), 0);
        assert_eq!(table(3, 16), 4 * 17 + 16);
        assert_eq!(table(4, 16), 8 * 17 + 16);
        assert_eq!(table(20, 16), 32 * 17 + 16);
        assert_eq!(table(800, 16), 1024 * 17 + 16);
        assert_eq!(list(1, 8), 32);
        assert_eq!(list(20, 8), 256);
    }
}
