//! The allocator, with one addition: it remembers the size of an allocation that failed.
//!
//! When wasm linear memory cannot grow (the 4 GiB of 32-bit WebAssembly, or a browser's lower
//! cap), Rust's allocation-failure handler aborts the instance: a bare `unreachable` trap with no
//! panic message. The worker reads [`failed_allocation`] after such a trap to tell the page that
//! the engine ran out of memory, and how large the request was, rather than "it crashed".

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes of the last allocation that failed (0: none has).
static FAILED: AtomicUsize = AtomicUsize::new(0);

/// `System` (dlmalloc on wasm32), noting failures.
pub struct NotingAllocator;

fn noted(ptr: *mut u8, bytes: usize) -> *mut u8 {
    if ptr.is_null() {
        FAILED.store(bytes.max(1), Ordering::Relaxed);
    }
    ptr
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds GlobalAlloc's contract;
// the only addition is a relaxed store of a size when `System` returned null.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for NotingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout (GlobalAlloc::alloc's contract).
        noted(unsafe { System.alloc(layout) }, layout.size())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        noted(unsafe { System.alloc_zeroed(layout) }, layout.size())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, which is `System`, with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from `System` with `layout`; the caller upholds `new_size`'s rules.
        noted(unsafe { System.realloc(ptr, layout, new_size) }, new_size)
    }
}

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: NotingAllocator = NotingAllocator;

/// Bytes of the allocation that failed, if one has: the instance has trapped after it.
pub fn failed_allocation() -> Option<usize> {
    match FAILED.load(Ordering::Relaxed) {
        0 => None,
        n => Some(n),
    }
}
