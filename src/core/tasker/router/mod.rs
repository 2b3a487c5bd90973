//! Event routing, Tasker's `EventMapping` and `EventRouter`: which events go to traces, metrics
//! and logs, at what sampling rate and priority. The router's state is an immutable snapshot
//! swapped atomically on every change (copy-on-write), so readers never block and never see a
//! half-applied change; writers serialise on a mutex. Predicates are deterministic; the one
//! sampling draw per event happens in [`EventRouter::decide`].
//!
//! Tasker's own subscriber turns every `_` of an event name into `.` before it asks the router
//! (`task.start_requested` arrives as `task.start.requested`). So a name with no exact mapping
//! is looked up once more among the mappings' names with their `_` read as `.`; the answer is
//! the mapping, whose name is what gets recorded. An exact mapping always wins, and two mappings
//! that would answer the same such name are refused when mapped.
//!
//! Messages here are Tasker's contract and are asserted verbatim by the specs.

mod defaults;
mod mapping;
#[cfg(test)]
mod tests;

use defaults::default_state;
pub use defaults::{DEFAULT_MAPPINGS, TASKER_DEFAULTS};
pub use mapping::{field_error, unknown_backend, Backend, Backends, EventMapping, MappingSpec, Meta, Priority};

use crate::core::error::{Error, Result};
use crate::core::tasker::sampler;
use arc_swap::ArcSwap;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{
    AtomicU64,
    Ordering::{Acquire, Relaxed, Release},
};
use std::sync::Arc;

/// Counts over the current mappings, Tasker's `routing_stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RoutingStats {
    /// All mappings.
    pub total_mappings: usize,
    /// Mappings that include trace.
    pub trace_events: usize,
    /// Mappings that include metrics.
    pub metrics_events: usize,
    /// Mappings that include logs.
    pub log_events: usize,
    /// Enabled mappings.
    pub enabled_mappings: usize,
    /// `:high` and `:critical` mappings.
    pub high_priority: usize,
    /// Mappings with a rate below 1.0.
    pub sampled_mappings: usize,
}

/// One immutable view of the router.
#[derive(Debug, Clone, Default)]
pub struct RouterState {
    order: Vec<Arc<EventMapping>>,
    index: HashMap<String, usize, ahash::RandomState>,
    /// Mappings whose names hold a `_`, by the name with every `_` read as `.`.
    dotted: HashMap<String, usize, ahash::RandomState>,
}

/// `name` with every `_` read as `.`, when it has one: how Tasker's subscriber passes it on.
fn dotted(name: &str) -> Option<String> {
    name.contains('_').then(|| name.replace('_', "."))
}

impl RouterState {
    /// The mapping of `name`: the exact one, else the one whose name reads as `name` once its
    /// `_` are `.` (see the module doc).
    #[inline]
    pub fn get(&self, name: &str) -> Option<&Arc<EventMapping>> {
        match self.index.get(name) {
            Some(i) => Some(&self.order[*i]),
            None => self.get_dotted(name),
        }
    }

    #[cold]
    fn get_dotted(&self, name: &str) -> Option<&Arc<EventMapping>> {
        self.dotted.get(name).map(|i| &self.order[*i])
    }

    /// Refuses a mapping another mapping would shadow for Tasker's subscriber.
    fn check_unambiguous(&self, mapping: &EventMapping) -> Result<()> {
        let Some(key) = dotted(mapping.event_name()) else { return Ok(()) };
        match self.dotted.get(&key).map(|i| self.order[*i].event_name()) {
            Some(other) if other != mapping.event_name() => Err(Error::argument(format!(
                "event_name {:?} is ambiguous with the mapped {other:?}: Tasker's subscriber passes both on as {key:?}",
                mapping.event_name()
            ))),
            _ => Ok(()),
        }
    }

    /// Mappings in registration order.
    pub fn mappings(&self) -> &[Arc<EventMapping>] {
        &self.order
    }

    fn insert(&mut self, mapping: Arc<EventMapping>) -> Result<()> {
        self.check_unambiguous(&mapping)?;
        match self.index.get(mapping.event_name()) {
            Some(&i) => self.order[i] = mapping,
            None => {
                if let Some(key) = dotted(mapping.event_name()) {
                    self.dotted.insert(key, self.order.len());
                }
                self.index.insert(mapping.event_name().to_owned(), self.order.len());
                self.order.push(mapping);
            }
        }
        Ok(())
    }
}

/// Process-wide event router (Tasker's singleton).
#[derive(Debug)]
pub struct EventRouter {
    state: ArcSwap<RouterState>,
    writer: Mutex<()>,
    /// Changes with every change of `state` and differs between routers, so a route remembered
    /// with it stays valid while it is unchanged.
    version: AtomicU64,
}

static VERSIONS: AtomicU64 = AtomicU64::new(1);

fn next_version() -> u64 {
    VERSIONS.fetch_add(1, Relaxed)
}

/// What an event's routing decision depends on; [`Route::draw`] makes the decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Route {
    enabled: bool,
    sampling_rate: f64,
    mask: Backends,
}

impl Route {
    /// The one sampling draw: the backends if the mapping is enabled and sampled.
    #[inline]
    pub fn draw(self) -> Option<Backends> {
        (self.enabled && sampler::sample(self.sampling_rate)).then_some(self.mask)
    }
}

static GLOBAL: once_cell::sync::Lazy<EventRouter> = once_cell::sync::Lazy::new(EventRouter::with_defaults);

impl EventRouter {
    /// A router holding the default mappings.
    pub fn with_defaults() -> Self {
        EventRouter { state: ArcSwap::from_pointee(default_state()), writer: Mutex::new(()), version: AtomicU64::new(next_version()) }
    }

    /// The process-wide router.
    pub fn global() -> &'static EventRouter {
        &GLOBAL
    }

    /// The current snapshot; cheap, lock-free.
    #[inline]
    pub fn snapshot(&self) -> arc_swap::Guard<Arc<RouterState>> {
        self.state.load()
    }

    /// Registers (or replaces, keeping its position) a mapping.
    ///
    /// # Errors
    /// A name that is ambiguous with another mapping's for Tasker's subscriber; nothing changes.
    pub fn map(&self, mapping: EventMapping) -> Result<Arc<EventMapping>> {
        let mapping = Arc::new(mapping);
        self.store_all(std::slice::from_ref(&mapping))?;
        Ok(mapping)
    }

    /// Registers several mappings in one atomic change.
    ///
    /// # Errors
    /// As [`EventRouter::map`]; then none is registered.
    pub fn map_all(&self, mappings: Vec<EventMapping>) -> Result<Vec<Arc<EventMapping>>> {
        let out: Vec<Arc<EventMapping>> = mappings.into_iter().map(Arc::new).collect();
        self.store_all(&out)?;
        Ok(out)
    }

    /// One copy-on-write step: readers see all of `mappings` or none.
    fn store_all(&self, mappings: &[Arc<EventMapping>]) -> Result<()> {
        let _guard = self.writer.lock();
        let mut next = RouterState::clone(&self.state.load());
        for m in mappings {
            next.insert(Arc::clone(m))?;
        }
        self.state.store(Arc::new(next));
        self.version.store(next_version(), Release);
        Ok(())
    }

    /// Back to the default mappings.
    pub fn reset(&self) {
        let _guard = self.writer.lock();
        self.state.store(Arc::new(default_state()));
        self.version.store(next_version(), Release);
    }

    /// The mapping of `name` (exactly, or as Tasker's subscriber passes it on).
    pub fn mapping_for(&self, name: &str) -> Option<Arc<EventMapping>> {
        self.snapshot().get(name).cloned()
    }

    /// Deterministic predicate: mapped, enabled, rate > 0 and `b` included.
    pub fn routes_to(&self, name: &str, b: Backend) -> bool {
        self.snapshot().get(name).is_some_and(|m| m.is_routable_to(b))
    }

    /// Names of the events routed to `b` (enabled or not), in registration order.
    pub fn events_for(&self, b: Backend) -> Vec<String> {
        self.snapshot().order.iter().filter(|m| m.routes_to(b)).map(|m| m.event_name().to_owned()).collect()
    }

    /// The one sampling draw for an event: its backends if it is mapped, enabled and sampled.
    #[inline]
    pub fn decide(&self, name: &str) -> Option<Backends> {
        self.route(name)?.draw()
    }

    /// The route of a mapped event, without drawing.
    #[inline]
    pub fn route(&self, name: &str) -> Option<Route> {
        self.resolve(name).map(|(route, _)| route)
    }

    /// The route of a mapped event, and the mapping's name when it is not `name` itself (a name
    /// as Tasker's subscriber passes it on).
    #[inline]
    pub fn resolve(&self, name: &str) -> Option<(Route, Option<Box<str>>)> {
        let state = self.snapshot();
        let m = state.get(name)?;
        let mapped = (m.event_name() != name).then(|| m.event_name().into());
        Some((Route { enabled: m.enabled, sampling_rate: m.sampling_rate, mask: m.mask }, mapped))
    }

    /// Read this before [`EventRouter::route`]: while it is unchanged, so is the route.
    #[inline]
    pub fn version(&self) -> u64 {
        self.version.load(Acquire)
    }

    /// Tasker's `routing_stats`.
    pub fn stats(&self) -> RoutingStats {
        let state = self.snapshot();
        let mut s = RoutingStats { total_mappings: state.order.len(), ..RoutingStats::default() };
        for m in &state.order {
            s.trace_events += usize::from(m.routes_to(Backend::Trace));
            s.metrics_events += usize::from(m.routes_to(Backend::Metrics));
            s.log_events += usize::from(m.routes_to(Backend::Logs));
            s.enabled_mappings += usize::from(m.enabled);
            s.high_priority += usize::from(matches!(m.priority, Priority::High | Priority::Critical));
            s.sampled_mappings += usize::from(m.sampling_rate < 1.0);
        }
        s
    }
}
