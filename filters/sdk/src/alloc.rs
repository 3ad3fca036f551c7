//! The guest's allocator: a free list per size class in front of the
//! standard library's.
//!
//! In WebAssembly the standard library allocates with dlmalloc, whose every
//! malloc and free walks bins and splits or merges chunks, and in wasmtime
//! each of its small functions also pays the deadline's read on entry. Filters
//! allocate and free many small blocks per event (keys, values, buffers
//! that grow), so in a profile of `mutate` the allocator's code was about a
//! sixth of the module's time. Here a block of up to `LARGEST_CLASS` bytes
//! comes from the free list of its size class, or is cut from a slab; a
//! freed block goes back on its list. That is a few loads and stores, and
//! `dealloc` needs no header because Rust passes the size back.
//!
//! Blocks are never merged or returned to dlmalloc: memory kept for one size
//! class stays with it. A filter's peak use per class is what it keeps, which
//! the instance's memory cap bounds like any other use.
//!
//! Only for `wasm32` without threads: one instance runs one call at a time,
//! so the lists need no lock.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::ptr;

use crate::size_classes::{LARGEST_CLASS, SMALL_CLASSES, SMALL_STEP, class_bytes, class_of};

const CLASSES: usize = SMALL_CLASSES + 4;
/// Slabs are cut into blocks on demand; what is left of one when a block no
/// longer fits is abandoned (at most a sixteenth of it, for the largest
/// class).
const SLAB_BYTES: usize = 64 * 1024;

struct Lists {
    /// Head of each class's free list; a free block's first word links to
    /// the next.
    free: [*mut u8; CLASSES],
    slab_next: *mut u8,
    slab_end: *mut u8,
}

pub(crate) struct SizeClasses {
    lists: UnsafeCell<Lists>,
}

// SAFETY: the global allocator is installed only for wasm32 without the
// atomics feature, where there is one thread and the allocator is never
// re-entered. (Native builds compile this module only for its tests, which
// use an instance of their own on one thread.)
#[cfg(target_arch = "wasm32")]
unsafe impl Sync for SizeClasses {}

impl SizeClasses {
    pub(crate) const fn new() -> SizeClasses {
        SizeClasses {
            lists: UnsafeCell::new(Lists {
                free: [ptr::null_mut(); CLASSES],
                slab_next: ptr::null_mut(),
                slab_end: ptr::null_mut(),
            }),
        }
    }

    #[inline(always)]
    fn serves(layout: Layout) -> bool {
        layout.size() != 0 && layout.size() <= LARGEST_CLASS && layout.align() <= SMALL_STEP
    }

    /// Cuts a block of `class` from the slab, starting a new slab if needed.
    #[cold]
    unsafe fn carve(&self, class: usize) -> *mut u8 {
        let lists = unsafe { &mut *self.lists.get() };
        let bytes = class_bytes(class);
        if (lists.slab_end as usize) - (lists.slab_next as usize) < bytes {
            let slab =
                unsafe { System.alloc(Layout::from_size_align_unchecked(SLAB_BYTES, SMALL_STEP)) };
            if slab.is_null() {
                return slab;
            }
            lists.slab_next = slab;
            lists.slab_end = unsafe { slab.add(SLAB_BYTES) };
        }
        let block = lists.slab_next;
        lists.slab_next = unsafe { block.add(bytes) };
        block
    }
}

unsafe impl GlobalAlloc for SizeClasses {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !Self::serves(layout) {
            return unsafe { System.alloc(layout) };
        }
        let class = class_of(layout.size());
        let lists = unsafe { &mut *self.lists.get() };
        let head = lists.free[class];
        if head.is_null() {
            return unsafe { self.carve(class) };
        }
        lists.free[class] = unsafe { *(head as *mut *mut u8) };
        head
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !Self::serves(layout) {
            // dlmalloc knows which of its memory is fresh from the host, and
            // so already zero.
            return unsafe { System.alloc_zeroed(layout) };
        }
        let block = unsafe { self.alloc(layout) };
        if !block.is_null() {
            unsafe { ptr::write_bytes(block, 0, layout.size()) };
        }
        block
    }

    #[inline]
    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        if !Self::serves(layout) {
            return unsafe { System.dealloc(block, layout) };
        }
        let class = class_of(layout.size());
        let lists = unsafe { &mut *self.lists.get() };
        unsafe { *(block as *mut *mut u8) = lists.free[class] };
        lists.free[class] = block;
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (Self::serves(layout), Self::serves(new_layout)) {
            (false, false) => return unsafe { System.realloc(block, layout, new_size) },
            (true, true) if class_of(layout.size()) == class_of(new_size) => return block,
            _ => {}
        }
        let moved = unsafe { self.alloc(new_layout) };
        if !moved.is_null() {
            unsafe {
                ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                self.dealloc(block, layout);
            }
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One block handed out, with the byte pattern written into it.
    struct Held {
        block: *mut u8,
        layout: Layout,
        fill: u8,
    }

    fn filled(allocator: &SizeClasses, size: usize, align: usize, fill: u8) -> Held {
        let layout = Layout::from_size_align(size, align).unwrap();
        let block = unsafe { allocator.alloc(layout) };
        assert!(!block.is_null());
        assert_eq!(block as usize % align, 0, "size {size} align {align}");
        unsafe { ptr::write_bytes(block, fill, size) };
        Held {
            block,
            layout,
            fill,
        }
    }

    fn intact(held: &Held) -> bool {
        let bytes = unsafe { std::slice::from_raw_parts(held.block, held.layout.size()) };
        bytes.iter().all(|&b| b == held.fill)
    }

    /// Blocks of every kind the allocator sees (small, at class edges,
    /// large, over-aligned), freed in a scrambled order and handed out
    /// again, grown and shrunk across classes: no block may overlap
    /// another, and growing or shrinking keeps the contents.
    #[test]
    fn blocks_never_overlap_and_keep_their_contents() {
        let allocator = SizeClasses::new();
        let sizes = [
            1, 8, 15, 16, 17, 100, 255, 256, 257, 511, 512, 513, 2048, 4096, 4097, 70_000,
        ];
        let mut held = Vec::new();
        for round in 0..3u8 {
            for (i, &size) in sizes.iter().enumerate() {
                for align in [1, 8, 16, 64] {
                    let fill = round
                        .wrapping_mul(31)
                        .wrapping_add(i as u8 * 7 + align as u8);
                    held.push(filled(&allocator, size, align, fill));
                }
            }
            // Free every third block, so lists are reused mid-way.
            let mut kept = Vec::new();
            for (i, h) in held.drain(..).enumerate() {
                if i % 3 == round as usize {
                    assert!(intact(&h));
                    unsafe { allocator.dealloc(h.block, h.layout) };
                } else {
                    kept.push(h);
                }
            }
            held = kept;
        }
        // Grow and shrink what is left: within a class, across classes,
        // and to and from sizes the standard allocator serves.
        for (i, h) in held.iter_mut().enumerate() {
            let new_size = [3, 40, 300, 5000][i % 4];
            let kept_bytes = h.layout.size().min(new_size);
            let moved = unsafe { allocator.realloc(h.block, h.layout, new_size) };
            assert!(!moved.is_null());
            let bytes = unsafe { std::slice::from_raw_parts(moved, kept_bytes) };
            assert!(bytes.iter().all(|&b| b == h.fill), "realloc lost bytes");
            h.block = moved;
            h.layout = Layout::from_size_align(new_size, h.layout.align()).unwrap();
            unsafe { ptr::write_bytes(moved, h.fill, new_size) };
        }
        let mut spans: Vec<(usize, usize)> = held
            .iter()
            .map(|h| (h.block as usize, h.block as usize + h.layout.size()))
            .collect();
        spans.sort();
        for pair in spans.windows(2) {
            assert!(pair[0].1 <= pair[1].0, "blocks overlap: {pair:?}");
        }
        for h in &held {
            assert!(intact(h), "a block was overwritten");
            unsafe { allocator.dealloc(h.block, h.layout) };
        }
    }

    #[test]
    fn a_freed_block_is_the_next_one_of_its_class_and_comes_back_zeroed_if_asked() {
        let allocator = SizeClasses::new();
        let layout = Layout::from_size_align(40, 8).unwrap();
        let first = unsafe { allocator.alloc(layout) };
        unsafe { ptr::write_bytes(first, 0xAB, 40) };
        unsafe { allocator.dealloc(first, layout) };
        let same_class = Layout::from_size_align(33, 8).unwrap();
        let again = unsafe { allocator.alloc_zeroed(same_class) };
        assert_eq!(again, first);
        let bytes = unsafe { std::slice::from_raw_parts(again, 33) };
        assert!(bytes.iter().all(|&b| b == 0));
    }
}
