//! Where series values live. A store hands out [`Cells`]: a fixed run of 64-bit atomics that a
//! series owns for its whole life. Metric kinds only do atomic operations on cells, so a store
//! that places cells in process memory ([`LocalStore`]) and one that places them in a shared
//! memory-mapped file (`crate::core::multiprocess`) are interchangeable without touching the
//! registry or the hot path.
//!
//! Cells can be moved to another store ([`Cells::relocate`]) — when a registry switches to
//! multi-process storage, and in a forked child, which must stop writing into its parent's file.
//! The memory a cell moved away from is kept alive for as long as the cells live, so a writer
//! that loaded the old address a moment earlier still writes into valid memory.

mod local;

pub use crate::core::cells::Cells;
pub use local::LocalStore;

use crate::core::desc::FamilyDesc;
use crate::core::error::Result;
use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// Allocates cells for families and series.
pub trait Store: Send + Sync + fmt::Debug {
    /// Tells the store about a family; returns the family's slot, through which its series are
    /// allocated and which holds the family's own counter of dropped updates.
    ///
    /// # Errors
    /// [`crate::core::Error::Store`] when the backing storage cannot grow.
    fn family(&self, desc: &FamilyDesc) -> Result<FamilySlot>;

    /// Returns `init.len()` cells initialised to `init` for the series `key` of `family`.
    ///
    /// # Errors
    /// [`crate::core::Error::Store`] when the backing storage cannot grow.
    fn allocate(&self, family: &FamilySlot, key: &[u8], init: &[u64]) -> Result<Cells>;

    /// The series owning `cells` left its family: a shared store stops exporting it. Handles
    /// still held keep working.
    fn retire(&self, _cells: &Cells) {}

    /// The series owning `cells` came back into its family (an expired series written through
    /// a held handle): a shared store exports it again.
    fn revive(&self, _cells: &Cells) {}

    /// The family owning `slot` was unregistered.
    fn retire_family(&self, slot: &FamilySlot) {
        self.retire(&slot.dropped);
    }

    /// The store as `Any`, so one that needs to recognise itself (the multi-process store) can
    /// `Arc::downcast` it: a checked, safe downcast, whatever another implementation does.
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

/// A family as a store knows it: the store's own reference (a file offset for a shared store)
/// and one cell counting updates dropped because the family was full.
#[derive(Debug)]
pub struct FamilySlot {
    id: AtomicU64,
    /// One cell: updates dropped because the family was full.
    pub dropped: Cells,
}

impl FamilySlot {
    /// A slot with the store's reference `id`.
    pub fn new(id: u64, dropped: Cells) -> Self {
        FamilySlot { id: AtomicU64::new(id), dropped }
    }

    /// The store's reference to the family.
    pub fn id(&self) -> u64 {
        self.id.load(Relaxed)
    }

    /// Moves the slot to `other`, a slot of the same family in another store, keeping `dropped`
    /// when `keep` is set.
    pub fn relocate(&self, other: FamilySlot, keep: bool) {
        if keep {
            other.dropped.as_slice()[0].store(self.dropped.as_slice()[0].load(Relaxed), Relaxed);
        }
        self.id.store(other.id(), Relaxed);
        self.dropped.relocate(other.dropped);
    }
}

#[cfg(test)]
pub(crate) mod contract {
    //! The contract every [`Store`] must meet, run against each implementation.
    use super::*;
    use crate::core::metric::MetricKind;

    pub(crate) fn check(store: &dyn Store) {
        let desc = FamilyDesc::new("m", "h", MetricKind::Counter, &["k"], None).unwrap();
        let fam = store.family(&desc).unwrap();
        assert_eq!(fam.dropped.values(), vec![0]);
        let a = store.allocate(&fam, b"a\xff", &[1, 2, 3]).unwrap();
        let b = store.allocate(&fam, b"b\xff", &[7]).unwrap();
        assert_eq!(a.len(), 3);
        assert_eq!(a.values(), vec![1, 2, 3]);
        a.as_slice()[0].fetch_add(10, Relaxed);
        assert_eq!(a.as_slice()[0].load(Relaxed), 11);
        assert_eq!(b.as_slice()[0].load(Relaxed), 7, "allocations must not overlap");

        let shared = Arc::new(store.allocate(&fam, b"c\xff", &[0]).unwrap());
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

        // Relocation keeps the handle working and the old memory alive.
        let moved = store.allocate(&fam, b"a\xff", &a.values()).unwrap();
        a.relocate(moved);
        a.as_slice()[1].fetch_add(1, Relaxed);
        assert_eq!(a.values(), vec![11, 3, 3]);
        store.retire(&b);
        store.retire_family(&fam);
    }
}
