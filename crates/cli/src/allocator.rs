//! The process's allocator: mimalloc (v2) for allocations under 256 KiB, the system's for
//! larger ones, with mimalloc told to commit its arenas as they are used.
//!
//! Measured reasons (bench/RESULTS.md, "One box"):
//! - a copy of small objects spent a quarter of its CPU in glibc's malloc and free (the SDKs
//!   allocate many small pieces per request); with mimalloc, `cp` of 100,000 objects S3 -> S3
//!   takes ~40% less CPU;
//! - with its defaults mimalloc commits its arenas eagerly and keeps freed memory for 10 ms:
//!   streaming an 80 MiB object S3 -> Azure in 5 MiB blocks under a 10 MiB budget then peaked
//!   43 MB over the process's baseline (glibc: 17 MB; the test's bound: 31.5 MB). Both options
//!   off: 27-36 MB. Blocks of 256 KiB and more from the system allocator as well (glibc gives
//!   such blocks back to the kernel when freed): 19-23 MB, with the purge delay at 0 or at its
//!   default; so only eager commit stays off (on, it adds ~16 MiB to every process), and the
//!   delay keeps its 10 ms: at 0, `cp` of 100,000 objects took ~8% more CPU (15.8 s vs 14.5 s);
//! - mimalloc keeps memory per thread, so the runtime's blocking pool is kept small (see
//!   `BLOCKING_THREADS` in main.rs): with tokio's 512 threads a `sync` of 1,000,000 local files
//!   peaked at 271 MiB (glibc: 64 MiB); with 16, at 59 MiB ("Session 14").
//!
//! Written by hand because no crate routes allocations by size, and the `ctor` crate cannot
//! order its constructor before mimalloc's (see [`SET_ALLOCATOR_OPTION`]).

use libmimalloc_sys::{mi_option_set, mi_option_t};
use mimalloc::MiMalloc;
use std::alloc::{GlobalAlloc, Layout, System};

/// Allocations from this size on go to the system allocator.
const LARGE: usize = 256 * 1024;

/// `mi_option_arena_eager_commit` in mimalloc v2's `mi_option_e` (libmimalloc-sys has no name
/// for it).
const ARENA_EAGER_COMMIT: mi_option_t = 4;

/// mimalloc below [`LARGE`] bytes, the system allocator from there on.
pub struct SplitBySize;

fn is_large(size: usize) -> bool {
    size >= LARGE
}

// SAFETY: every block is freed or resized by the allocator that made it: which one made it
// is a function of its layout's size, which the caller passes back unchanged (GlobalAlloc's
// contract); a resize that crosses LARGE moves the bytes to a block of the other allocator.
unsafe impl GlobalAlloc for SplitBySize {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_large(layout.size()) {
            unsafe { System.alloc(layout) }
        } else {
            unsafe { MiMalloc.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_large(layout.size()) {
            unsafe { System.alloc_zeroed(layout) }
        } else {
            unsafe { MiMalloc.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_large(layout.size()) {
            unsafe { System.dealloc(ptr, layout) }
        } else {
            unsafe { MiMalloc.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        match (is_large(layout.size()), is_large(new_size)) {
            (true, true) => unsafe { System.realloc(ptr, layout, new_size) },
            (false, false) => unsafe { MiMalloc.realloc(ptr, layout, new_size) },
            _ => {
                // SAFETY: the caller guarantees that new_size, rounded up to the alignment,
                // fits in isize (GlobalAlloc::realloc's contract).
                let new_layout =
                    unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
                let moved = unsafe { self.alloc(new_layout) };
                if !moved.is_null() {
                    // SAFETY: both blocks are live, distinct, and at least this long.
                    unsafe {
                        std::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                }
                moved
            }
        }
    }
}

extern "C" fn set_allocator_option() {
    // SAFETY: mi_option_set stores a value in mimalloc's option table and allocates nothing;
    // the option exists in the v2 library this build links (the workspace pins `v2`).
    unsafe {
        mi_option_set(ARENA_EAGER_COMMIT, 0);
    }
}

/// Sets mimalloc's option before the first allocation, which creates its first arena (Rust's
/// runtime allocates before `main`): an ELF constructor of high priority. `.init_array.NNNNN`
/// entries run in order, before the unnumbered ones (mimalloc's own constructor among them)
/// and before Rust's runtime starts; set from `main`, the option came too late (a streamed
/// object peaked as with the defaults).
#[used]
#[unsafe(link_section = ".init_array.00100")]
static SET_ALLOCATOR_OPTION: extern "C" fn() = set_allocator_option;

#[cfg(test)]
mod tests {
    use super::*;

    /// A block keeps its bytes through resizes within and across the two allocators.
    #[test]
    fn resizes_keep_the_bytes_across_the_split() {
        let mut bytes: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let expected = bytes.clone();
        for size in [LARGE - 1, LARGE, 4 * LARGE] {
            bytes.reserve_exact(size - bytes.len());
            assert_eq!(&bytes[..1000], &expected[..], "grown to {size}");
        }
        bytes.truncate(1000);
        bytes.shrink_to_fit();
        assert_eq!(bytes, expected, "shrunk back under {LARGE}");
        let zeroed = vec![0u8; 2 * LARGE];
        assert!(zeroed.iter().all(|&b| b == 0));
    }

    /// The option was set before mimalloc read it.
    #[test]
    fn mimalloc_arena_eager_commit_is_off() {
        use libmimalloc_sys::mi_option_get;
        // SAFETY: reads mimalloc's option table.
        let eager = unsafe { mi_option_get(ARENA_EAGER_COMMIT) };
        assert_eq!(eager, 0);
    }
}
