//! In-process storage: each series' cells are one heap allocation.

use super::{Cells, SeriesDesc, Store};
use crate::core::error::Result;
use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// Cells in this process's heap; the default store.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalStore;

impl Store for LocalStore {
    fn allocate(&self, _desc: SeriesDesc<'_>, init: &[u64]) -> Result<Cells> {
        let block: Box<[AtomicU64]> = init.iter().map(|v| AtomicU64::new(*v)).collect();
        let ptr = NonNull::new(block.as_ptr() as *mut AtomicU64).unwrap_or(NonNull::dangling());
        let len = block.len();
        // SAFETY: the boxed slice never moves (it is only ever behind this Arc) and lives as long as
        // the owner does.
        Ok(unsafe { Cells::from_raw(ptr, len, Arc::new(block)) })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn meets_the_store_contract() {
        super::super::contract::check(&super::LocalStore);
    }
}
