//! Where series values live. A store hands out [`Cells`]: a fixed run of 64-bit atomics that a
//! series owns for its whole life. Metric kinds only do atomic operations on cells, so a store
//! that places cells in process memory ([`LocalStore`]) and one that places them in a shared
//! memory-mapped file are interchangeable without touching the registry or the hot path.
//! This module must not know metric semantics beyond how many cells a series needs.

mod local;

pub use local::LocalStore;

use crate::core::error::Result;
use std::any::Any;
use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// What a store is told about the series it allocates for, so a shared store can describe the
/// cells in its file for a reader in another process.
#[derive(Debug, Clone, Copy)]
pub struct SeriesDesc<'a> {
    /// Family name.
    pub family: &'a str,
    /// Series key (label values, see [`crate::core::labels`]).
    pub key: &'a [u8],
}

/// Allocates cells for series.
pub trait Store: Send + Sync + fmt::Debug {
    /// Returns `init.len()` cells initialised to `init`, valid as long as the [`Cells`] lives.
    ///
    /// # Errors
    /// [`crate::core::Error::Store`] when the backing storage cannot grow.
    fn allocate(&self, desc: SeriesDesc<'_>, init: &[u64]) -> Result<Cells>;
}

/// A run of atomic cells owned by one series. Cheap to read and write from any thread.
///
/// Ordering: every operation on a cell is `Relaxed`; cells are independent counters and readers
/// tolerate seeing one cell's update before another's (see the histogram for how count and
/// buckets stay consistent anyway).
pub struct Cells {
    ptr: NonNull<AtomicU64>,
    len: usize,
    _owner: Arc<dyn Any + Send + Sync>,
}

// SAFETY: the cells are atomics, shared access from any thread is what they are for, and the
// owner keeping the memory alive is itself Send + Sync.
unsafe impl Send for Cells {}
// SAFETY: as above; all access goes through `&AtomicU64`.
unsafe impl Sync for Cells {}

impl Cells {
    /// Wraps `len` atomics at `ptr` kept alive by `owner`.
    ///
    /// # Safety
    /// `ptr` must point to `len` initialised, properly aligned `AtomicU64` that stay valid and are
    /// not moved for as long as `owner` lives.
    pub unsafe fn from_raw(ptr: NonNull<AtomicU64>, len: usize, owner: Arc<dyn Any + Send + Sync>) -> Self {
        Cells { ptr, len, _owner: owner }
    }

    /// The cells as a slice of atomics.
    #[inline]
    pub fn as_slice(&self) -> &[AtomicU64] {
        // SAFETY: guaranteed by `from_raw`'s contract for as long as `self` (and so the owner) lives.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
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

impl fmt::Debug for Cells {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cells").field("len", &self.len).finish()
    }
}

#[cfg(test)]
pub(crate) mod contract {
    //! The contract every [`Store`] must meet, run against each implementation.
    use super::*;
    use std::sync::atomic::Ordering::Relaxed;

    pub(crate) fn check(store: &dyn Store) {
        let desc = SeriesDesc { family: "m", key: b"" };
        let a = store.allocate(desc, &[1, 2, 3]).unwrap();
        let b = store.allocate(desc, &[7]).unwrap();
        assert_eq!(a.len(), 3);
        assert_eq!(a.as_slice().iter().map(|c| c.load(Relaxed)).collect::<Vec<_>>(), vec![1, 2, 3]);
        a.as_slice()[0].fetch_add(10, Relaxed);
        assert_eq!(a.as_slice()[0].load(Relaxed), 11);
        assert_eq!(b.as_slice()[0].load(Relaxed), 7, "allocations must not overlap");

        let shared = Arc::new(store.allocate(desc, &[0]).unwrap());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let c = Arc::clone(&shared);
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        c.as_slice()[0].fetch_add(1, Relaxed);
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(shared.as_slice()[0].load(Relaxed), 80_000);
    }
}
