//! [`Cells`]: the fixed run of 64-bit atomics a series owns for its whole life. Metric kinds
//! only do atomic operations on cells; stores (`crate::core::store`) decide where the memory
//! lives and may move it ([`Cells::relocate`]). The memory a cell moved away from is kept alive
//! for as long as the cells live, so a writer that loaded the old address a moment earlier still
//! writes into valid memory.

use parking_lot::Mutex;
use std::any::Any;
use std::fmt;
use std::sync::atomic::{
    AtomicPtr, AtomicU64,
    Ordering::{Acquire, Relaxed, Release},
};
use std::sync::Arc;

/// What keeps a run of cells' memory alive.
pub type Owner = Arc<dyn Any + Send + Sync>;

/// A store told when cells it handed out are dropped, so it can reuse their memory.
pub trait Recycle: Send + Sync {
    /// The cells at `addr`, the store's `record`, are gone: nothing in this process refers to
    /// them any more.
    fn recycle(&self, record: u64, addr: usize);
}

/// The memories cells have had, and who to tell when they are dropped.
struct Keep {
    owners: Vec<Owner>,
    recycler: Option<Arc<dyn Recycle>>,
}

/// A run of atomic cells owned by one series. Cheap to read and write from any thread.
///
/// Ordering: every operation on a cell is `Relaxed`; cells are independent counters and readers
/// tolerate seeing one cell's update before another's (see the histogram for how count and
/// buckets stay consistent anyway). The pointer to the cells is published with Release and read
/// with Acquire (see [`Cells::relocate`]).
pub struct Cells {
    ptr: AtomicPtr<AtomicU64>,
    len: usize,
    /// The store's reference to these cells (a record offset in a shared store).
    record: AtomicU64,
    /// Everything keeping the current and any earlier memory alive (only grows: see the
    /// module), and the current store's recycler.
    keep: Mutex<Keep>,
}

impl Cells {
    /// Wraps `len` atomics at `ptr` kept alive by `owner`; `record` is the store's reference.
    ///
    /// # Safety
    /// `ptr` must point to `len` initialised, properly aligned `AtomicU64` that stay valid and are
    /// not moved for as long as `owner` lives.
    pub unsafe fn from_raw(ptr: *mut AtomicU64, len: usize, record: u64, owner: Owner) -> Self {
        Cells {
            ptr: AtomicPtr::new(ptr),
            len,
            record: AtomicU64::new(record),
            keep: Mutex::new(Keep { owners: vec![owner], recycler: None }),
        }
    }

    /// Tells `recycler` when these cells are dropped (while they still point where they do now).
    pub fn recycled_by(self, recycler: Arc<dyn Recycle>) -> Self {
        self.keep.lock().recycler = Some(recycler);
        self
    }

    /// Cells in this process's heap, outside any store's books (also what [`LocalStore`] hands
    /// out).
    ///
    /// [`LocalStore`]: crate::core::store::LocalStore
    pub fn local(init: &[u64]) -> Self {
        // The Arc is built first and the pointer taken from it: a pointer taken from a Box that
        // is then moved into an Arc would not be valid under Stacked Borrows.
        let block: Arc<[AtomicU64]> = init.iter().map(|v| AtomicU64::new(*v)).collect();
        let ptr = if block.is_empty() { std::ptr::NonNull::dangling().as_ptr() } else { block.as_ptr() as *mut AtomicU64 };
        let len = block.len();
        // SAFETY: the slice is never moved out of its Arc allocation and lives as long as the
        // owner (a clone of that Arc) does.
        unsafe { Cells::from_raw(ptr, len, 0, Arc::new(block)) }
    }

    /// The cells as a slice of atomics.
    ///
    /// Acquire pairs with the Release in [`Cells::relocate`]: a reader that sees the new memory
    /// (a GVL-free render during enable or disable, say) also sees the values written into it
    /// before it was published. On x86-64 and ARM64 an Acquire load costs what a plain load does.
    #[inline]
    pub fn as_slice(&self) -> &[AtomicU64] {
        // SAFETY: `from_raw`'s contract, and every memory the pointer ever held stays owned by
        // `self.keep` for as long as `self` lives.
        unsafe { std::slice::from_raw_parts(self.ptr.load(Acquire), self.len) }
    }

    /// Current values.
    pub fn values(&self) -> Vec<u64> {
        self.as_slice().iter().map(|c| c.load(Relaxed)).collect()
    }

    /// Points these cells at `other`'s memory (which should already hold the values wanted).
    /// Writers racing with the move may land in the old memory and be lost; callers move cells
    /// only when no other thread writes (a forked child, or under Ruby's GVL).
    ///
    /// # Panics
    /// When `other` has a different length: a bug in the caller.
    pub fn relocate(&self, other: Cells) {
        assert_eq!(self.len, other.len, "cells relocated to a run of another length");
        let mut keep = self.keep.lock();
        let mut theirs = other.keep.lock();
        keep.owners.append(&mut theirs.owners);
        // The old memory stays this series' (a late writer may still land there); the new
        // memory is recycled when the series goes.
        keep.recycler = theirs.recycler.take();
        drop(theirs);
        self.record.store(other.record.load(Relaxed), Relaxed);
        // Release: the memory's initial values (written before `other` was made) happen-before
        // any Acquire load that sees the new pointer.
        self.ptr.store(other.ptr.load(Acquire), Release);
    }

    /// The store's reference to these cells.
    pub fn record(&self) -> u64 {
        self.record.load(Relaxed)
    }

    /// The address of the first cell, for a store to tell its own cells from another's.
    pub fn addr(&self) -> usize {
        self.ptr.load(Relaxed) as usize
    }

    /// Number of cells.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no cells.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for Cells {
    fn drop(&mut self) {
        if let Some(recycler) = self.keep.get_mut().recycler.take() {
            recycler.recycle(self.record.load(Relaxed), self.ptr.load(Relaxed) as usize);
        }
    }
}

impl fmt::Debug for Cells {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cells").field("len", &self.len).finish()
    }
}
