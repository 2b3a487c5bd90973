//! Families and series. A [`Registry`] maps names to [`Family`]s; a family maps series keys (label
//! values) to [`Series`], each owning cells from the registry's [`Store`]. A hit on an existing
//! series is one sharded map read with a fast hash of the key bytes; creating a series (the cold
//! path) validates the label values, renders its label pairs once and allocates its cells.
//! This module knows nothing of Ruby or of output formats.

mod defaults;
mod expiry;
mod family;
mod series;
#[cfg(test)]
mod tests;
mod update;

#[cfg(test)]
pub(crate) use expiry::advance_clock;
pub use expiry::advance_process_clock;

pub use crate::core::desc::{FamilyDesc, GaugeMode};
pub use defaults::{
    default_expires_after, default_max_series, set_default_expires_after, set_default_max_series, DEFAULT_MAX_SERIES, RESERVED_DROPPED,
};
pub use family::{Family, Walk};
pub use series::Series;
use series::{SeriesKind, EXPIRED, LIVE, REMOVED};
pub use update::{Number, Outcome, Update};

use crate::core::error::{Error, Result};
use crate::core::store::{LocalStore, Store};
use parking_lot::RwLock;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

#[derive(Debug, Default)]
struct Families {
    by_name: BTreeMap<Box<str>, Arc<Family>>,
    exposed: HashMap<String, Box<str>>,
}

/// A set of metric families, exported together.
#[derive(Debug)]
pub struct Registry {
    families: RwLock<Families>,
    store: RwLock<Arc<dyn Store>>,
    generation: AtomicU64,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new(Arc::new(LocalStore))
    }
}

static GLOBAL: once_cell::sync::Lazy<Arc<Registry>> = once_cell::sync::Lazy::new(|| Arc::new(Registry::default()));

impl Registry {
    /// An empty registry whose series keep their values in `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Registry { families: RwLock::new(Families::default()), store: RwLock::new(store), generation: AtomicU64::new(0) }
    }

    /// Where new families and series keep their values.
    pub fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store.read())
    }

    /// Moves every family to `store` (see [`Family::relocate`]); families registered later use
    /// it too. Holds the registry's lock, so registrations wait for the move.
    ///
    /// # Errors
    /// Store errors; the registry then keeps the old store for new families.
    pub fn use_store(&self, store: Arc<dyn Store>, fork: bool) -> Result<()> {
        let families = self.families.write();
        let mut current = self.store.write();
        for family in families.by_name.values() {
            family.relocate(Arc::clone(&store), fork)?;
        }
        *current = store;
        Ok(())
    }

    /// The process-wide default registry.
    pub fn global() -> &'static Arc<Registry> {
        &GLOBAL
    }

    /// Registers a family, or returns the existing one when it has the same type, labels and
    /// buckets.
    ///
    /// # Errors
    /// [`Error::AlreadyRegistered`] when the name (or a sample name it would expose) is taken by a
    /// different family.
    pub fn register(&self, desc: FamilyDesc) -> Result<Arc<Family>> {
        if let Some(existing) = self.families.read().by_name.get(desc.name.as_str()) {
            return Self::reuse(existing, &desc);
        }
        let mut families = self.families.write();
        if let Some(existing) = families.by_name.get(desc.name.as_str()) {
            return Self::reuse(existing, &desc);
        }
        let exposed = desc.exposed_names();
        if exposed.iter().any(|n| n.starts_with(RESERVED_DROPPED)) {
            return Err(Error::argument(format!("metric name {:?} is reserved for tasker_metrics' own drop counter", desc.name)));
        }
        if let Some(owner) = exposed.iter().find_map(|n| families.exposed.get(n)) {
            let other = &families.by_name[owner].desc;
            return Err(Error::AlreadyRegistered {
                name: desc.name.clone(),
                existing: format!("{} {:?} (their exposition names overlap)", other.kind.as_str(), other.name),
                requested: desc.summary(),
            });
        }
        let name: Box<str> = desc.name.as_str().into();
        let family = Family::new(desc, Arc::clone(&self.store.read()))?;
        for n in exposed {
            families.exposed.insert(n, name.clone());
        }
        if family.desc.labels.is_empty() && !family.desc.dynamic {
            // An unlabelled metric is exported (as zero) from the moment it exists.
            family.series(b"")?;
        }
        families.by_name.insert(name, Arc::clone(&family));
        Ok(family)
    }

    fn reuse(existing: &Arc<Family>, desc: &FamilyDesc) -> Result<Arc<Family>> {
        let e = &existing.desc;
        if e.kind == desc.kind
            && e.labels == desc.labels
            && e.buckets == desc.buckets
            && e.dynamic == desc.dynamic
            && e.unit == desc.unit
            && e.aggregation == desc.aggregation
        {
            Ok(Arc::clone(existing))
        } else {
            Err(Error::AlreadyRegistered { name: desc.name.clone(), existing: e.summary(), requested: desc.summary() })
        }
    }

    /// The family called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Family>> {
        self.families.read().by_name.get(name).cloned()
    }

    /// Removes the family called `name`; returns whether it existed.
    pub fn unregister(&self, name: &str) -> bool {
        let mut families = self.families.write();
        match families.by_name.remove(name) {
            Some(family) => {
                family.retire();
                families.exposed.retain(|_, owner| &**owner != name);
                self.generation.fetch_add(1, Relaxed);
                true
            }
            None => false,
        }
    }

    /// Removes every family; returns how many.
    pub fn clear(&self) -> usize {
        let mut families = self.families.write();
        let n = families.by_name.len();
        families.by_name.values().for_each(|f| f.retire());
        *families = Families::default();
        self.generation.fetch_add(1, Relaxed);
        n
    }

    /// Changes whenever a family is removed, so callers caching families know to look again.
    pub fn generation(&self) -> u64 {
        self.generation.load(Relaxed)
    }

    /// All families, sorted by name.
    pub fn families(&self) -> Vec<Arc<Family>> {
        self.families.read().by_name.values().cloned().collect()
    }
}
