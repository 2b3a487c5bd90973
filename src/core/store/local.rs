//! In-process storage: each series' cells are one heap allocation.

use super::{Cells, FamilySlot, Store};
use crate::core::desc::FamilyDesc;
use crate::core::error::Result;
use std::any::Any;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// Cells in this process's heap; the default store.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalStore;

impl LocalStore {
    pub(super) fn cells(init: &[u64]) -> Cells {
        // The Arc is built first and the pointer taken from it: a pointer taken from a Box that
        // is then moved into an Arc would not be valid under Stacked Borrows.
        let block: Arc<[AtomicU64]> = init.iter().map(|v| AtomicU64::new(*v)).collect();
        let ptr = if block.is_empty() { std::ptr::NonNull::dangling().as_ptr() } else { block.as_ptr() as *mut AtomicU64 };
        let len = block.len();
        // SAFETY: the slice is never moved out of its Arc allocation and lives as long as the
        // owner (a clone of that Arc) does.
        unsafe { Cells::from_raw(ptr, len, 0, Arc::new(block)) }
    }
}

impl Store for LocalStore {
    fn family(&self, _desc: &FamilyDesc) -> Result<FamilySlot> {
        Ok(FamilySlot::new(0, Self::cells(&[0])))
    }

    fn allocate(&self, _family: &FamilySlot, _key: &[u8], init: &[u64]) -> Result<Cells> {
        Ok(Self::cells(init))
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn meets_the_store_contract() {
        super::super::contract::check(&super::LocalStore);
    }
}
