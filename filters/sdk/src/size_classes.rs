//! The guest allocator's size classes (`alloc`), in a module of their own
//! so that a filter that budgets its memory (anomaly's `max_state_mib`) can
//! ask what a block of so many bytes really takes, from the same rule the
//! allocator cuts blocks by, rather than a copy of it.

/// Size classes: multiples of 16 up to 256 bytes, then 512 to 4096 by
/// doubling.
pub(crate) const SMALL_STEP: usize = 16;
pub(crate) const SMALL_CLASSES: usize = 16;
pub(crate) const LARGEST_CLASS: usize = 4096;

/// The class serving `size` bytes (`0 < size <= LARGEST_CLASS`).
#[inline(always)]
pub(crate) fn class_of(size: usize) -> usize {
    if size <= SMALL_STEP * SMALL_CLASSES {
        (size - 1) / SMALL_STEP
    } else {
        // 257..=512 → 16, ..=1024 → 17, ..=2048 → 18, ..=4096 → 19.
        let bits = usize::BITS - (size - 1).leading_zeros();
        SMALL_CLASSES + bits as usize - 9
    }
}

#[inline(always)]
pub(crate) fn class_bytes(class: usize) -> usize {
    if class < SMALL_CLASSES {
        (class + 1) * SMALL_STEP
    } else {
        512 << (class - SMALL_CLASSES)
    }
}

/// The bytes of the block the guest allocator gives a request of `size`
/// bytes, or `None` past its largest class (such a request goes to the
/// standard library's allocator) and for 0.
pub fn block_bytes(size: usize) -> Option<usize> {
    (1..=LARGEST_CLASS)
        .contains(&size)
        .then(|| class_bytes(class_of(size)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every size class there is: one more than the largest size's.
    const CLASSES: usize = SMALL_CLASSES + 4;

    #[test]
    fn every_size_gets_the_smallest_class_that_holds_it() {
        for size in 1..=LARGEST_CLASS {
            let class = class_of(size);
            assert!(class < CLASSES, "size {size}");
            assert!(class_bytes(class) >= size, "size {size} in class {class}");
            if class > 0 {
                assert!(
                    class_bytes(class - 1) < size,
                    "size {size} could use {}",
                    class - 1
                );
            }
        }
    }

    #[test]
    fn block_bytes_are_the_class_a_request_gets() {
        assert_eq!(block_bytes(0), None);
        assert_eq!(block_bytes(1), Some(16));
        assert_eq!(block_bytes(256), Some(256));
        assert_eq!(block_bytes(257), Some(512));
        assert_eq!(block_bytes(4096), Some(4096));
        assert_eq!(block_bytes(4097), None);
    }
}
