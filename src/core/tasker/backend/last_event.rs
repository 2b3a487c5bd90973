//! The per-thread memory of the previous event, which lets a stream of like events skip every
//! lookup.

use super::{MetricsBackend, Plan};
use crate::core::error::Result;
use crate::core::registry::{Registry, Series};
use crate::core::tasker::router::{EventRouter, Route};
use std::sync::Arc;

/// What a thread remembers of its previous event, so a stream of events with the same name and
/// labels (one handler's steps, say) skips the router's map, the plan lookup, building the
/// labels' key and the series lookups. Holding the registry keeps its address from being reused
/// by another backend's registry.
#[derive(Debug, Default)]
pub(super) struct LastEvent {
    pub(super) event: String,
    /// The router's version and the event's route under it.
    pub(super) route: Option<(u64, Option<Route>)>,
    /// The name of the mapping `event` was routed by, when that is not `event` itself (Tasker's
    /// subscriber turns `_` into `.`): what gets derived and recorded.
    pub(super) mapped: Option<Box<str>>,
    pub(super) registry: Option<Arc<Registry>>,
    pub(super) plan: Option<Arc<Plan>>,
    /// The payload label values `counter` and `duration` belong to.
    pub(super) labels: [Option<Vec<u8>>; 3],
    pub(super) counter: Option<Arc<Series>>,
    pub(super) duration: Option<Arc<Series>>,
    pub(super) events: Option<Arc<Series>>,
}

thread_local! {
    static LAST: std::cell::RefCell<LastEvent> = std::cell::RefCell::new(LastEvent::default());
}

impl LastEvent {
    /// Forgets everything when `event` is not the remembered one.
    #[inline]
    pub(super) fn switch_to(&mut self, event: &str) {
        if self.event != event {
            *self = LastEvent { event: event.to_owned(), ..Default::default() };
        }
    }

    /// The event's route, remembered while the router's version stays the same.
    #[inline]
    pub(super) fn route(&mut self, router: &EventRouter) -> Option<Route> {
        let version = router.version();
        match self.route {
            Some((v, route)) if v == version => route,
            _ => self.resolve(router, version),
        }
    }

    #[cold]
    pub(super) fn resolve(&mut self, router: &EventRouter, version: u64) -> Option<Route> {
        let resolved = router.resolve(&self.event);
        let route = resolved.as_ref().map(|(route, _)| *route);
        let mapped = resolved.and_then(|(_, mapped)| mapped);
        if mapped != self.mapped {
            // Another name to derive under: what was remembered for the old one is not for it.
            *self = LastEvent { event: std::mem::take(&mut self.event), mapped, ..Default::default() };
        }
        self.route = Some((version, route));
        route
    }

    /// The name metrics are derived under.
    pub(super) fn derived_name(&self) -> &str {
        self.mapped.as_deref().unwrap_or(&self.event)
    }

    /// The remembered plan, if it is `backend`'s and still current.
    pub(super) fn plan_for(&self, backend: &MetricsBackend) -> Option<Arc<Plan>> {
        let same = self.registry.as_ref().is_some_and(|r| Arc::ptr_eq(r, &backend.registry));
        self.plan.as_ref().filter(|p| same && p.generation == backend.registry.generation()).cloned()
    }

    pub(super) fn remember_plan(&mut self, backend: &MetricsBackend, plan: Arc<Plan>) {
        self.registry = Some(Arc::clone(&backend.registry));
        self.plan = Some(plan);
        self.labels = Default::default();
        self.counter = None;
        self.duration = None;
        self.events = None;
    }

    /// Whether the remembered series are for these label values and all still in their families.
    pub(super) fn series_for(&self, labels: &[Option<&[u8]>; 3], counter: bool, duration: bool) -> bool {
        let live = |s: &Option<Arc<Series>>, wanted: bool| !wanted || s.as_ref().is_some_and(|s| !s.is_removed());
        self.plan.is_some()
            && self.labels.iter().zip(labels).all(|(kept, given)| kept.as_deref() == *given)
            && live(&self.counter, counter)
            && live(&self.duration, duration)
    }

    pub(super) fn remember_labels(&mut self, labels: &[Option<&[u8]>; 3]) {
        for (kept, given) in self.labels.iter_mut().zip(labels) {
            match given {
                Some(v) => {
                    let kept = kept.get_or_insert_with(Vec::new);
                    kept.clear();
                    kept.extend_from_slice(v);
                }
                None => *kept = None,
            }
        }
    }

    /// The plan's `tasker_events_total` series, found again if it was removed.
    pub(super) fn events_series(&mut self, plan: &Plan) -> Result<Arc<Series>> {
        match &self.events {
            Some(s) if !s.is_removed() => Ok(Arc::clone(s)),
            _ => {
                let (family, key) = &plan.events;
                let series = family.series(key)?;
                self.events = Some(Arc::clone(&series));
                Ok(series)
            }
        }
    }
}

/// Runs `f` with this thread's [`LastEvent`], or with a blank one when a metric update re-entered
/// (e.g. from a Ruby callback) while it is borrowed.
#[inline]
pub(super) fn with_last<R>(f: impl FnOnce(&mut LastEvent) -> R) -> R {
    LAST.with(|cell| match cell.try_borrow_mut() {
        Ok(mut last) => f(&mut last),
        Err(_) => f(&mut LastEvent::default()),
    })
}
