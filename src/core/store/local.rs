//! In-process storage: each series' cells are one heap allocation.

use super::{Cells, FamilySlot, Store};
use crate::core::desc::FamilyDesc;
use crate::core::error::Result;
use std::any::Any;
use std::sync::Arc;

/// Cells in this process's heap; the default store.
#[derive(Debug, Default, Clone, Copy)]
pub struct LocalStore;

impl Store for LocalStore {
    fn family(&self, _desc: &FamilyDesc) -> Result<FamilySlot> {
        Ok(FamilySlot::new(0, Cells::local(&[0])))
    }

    fn allocate(&self, _family: &FamilySlot, _key: &[u8], init: &[u64]) -> Result<Cells> {
        Ok(Cells::local(init))
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
