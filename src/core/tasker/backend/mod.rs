//! Tasker's `MetricsBackend`: metrics got-or-created by name and labels in the shared registry,
//! and the metrics derived from events (§5.1 of the contract). Each event name is turned once into
//! a cached [`Plan`] (which families it updates), so deriving a known event allocates nothing.

mod keys;
mod last_event;
mod payload;
#[cfg(test)]
mod tests;

pub use keys::{pairs_key, series_key, stable_key};
use last_event::{with_last, LastEvent};
use payload::Values;
pub use payload::{Payload, DERIVED_LABELS, LABEL_KEYS, NUMBER_KEYS};

use crate::core::error::{Error, Result};
use crate::core::labels::{self, KeyBuf};
use crate::core::metric::histogram::DEFAULT_BUCKETS;
use crate::core::metric::native::NativeConfig;
use crate::core::metric::{Buckets, MetricKind};
use crate::core::registry::{Family, FamilyDesc, Number, Registry, Series, Update};
use crate::core::tasker::derived_labels::Shape;
use crate::core::tasker::router::{Backend, EventRouter, Route};
use crate::core::tasker::{self};
use dashmap::DashMap;
use std::collections::HashMap;
use std::sync::Arc;

pub use crate::core::tasker::EVENTS_TOTAL;

/// Which families an event updates.
#[derive(Debug)]
struct Plan {
    generation: u64,
    counter: Option<Arc<Family>>,
    duration: Option<Arc<Family>>,
    /// How `counter` and `duration` take their labels (see [`Shape`]).
    shapes: (Shape, Shape),
    workflow: Option<(Arc<Family>, Arc<Family>)>,
    health: Option<(Arc<Family>, Arc<Family>)>,
    /// `tasker_events_total` and this event's key in it; the series is created by the first
    /// event that is recorded, so a refused event leaves nothing behind.
    events: (Arc<Family>, Box<[u8]>),
}

/// The process-wide metrics backend over a registry.
#[derive(Debug)]
pub struct MetricsBackend {
    registry: Arc<Registry>,
    plans: DashMap<Box<str>, Arc<Plan>, ahash::RandomState>,
    /// Buckets of derived histograms by name, read only when a plan is built.
    derived_buckets: parking_lot::RwLock<HashMap<String, Buckets>>,
    /// Native buckets for every derived histogram (`native_histograms`), if set.
    derived_native: parking_lot::RwLock<Option<NativeConfig>>,
}

static GLOBAL: once_cell::sync::Lazy<MetricsBackend> = once_cell::sync::Lazy::new(|| MetricsBackend::new(Arc::clone(Registry::global())));

impl MetricsBackend {
    /// A backend writing into `registry`.
    pub fn new(registry: Arc<Registry>) -> Self {
        MetricsBackend {
            registry,
            plans: DashMap::with_hasher(ahash::RandomState::new()),
            derived_buckets: Default::default(),
            derived_native: Default::default(),
        }
    }

    /// The backend over the default registry.
    pub fn global() -> &'static MetricsBackend {
        &GLOBAL
    }

    /// The registry it writes into.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The family `name` of `kind`, registered (with any labels allowed and Tasker's HELP text)
    /// when new. An existing histogram is returned whatever its buckets.
    ///
    /// # Errors
    /// When `name` is not a valid metric name or exists with another type.
    pub fn family(&self, name: &str, kind: MetricKind, buckets: Option<Buckets>) -> Result<Arc<Family>> {
        if let Some(existing) = self.registry.get(name) {
            let desc = existing.desc();
            if desc.kind == kind {
                return Ok(existing);
            }
            return Err(Error::argument(format!(
                "metric {name:?} is already registered as a {}, cannot use it as a {}",
                desc.kind.as_str(),
                kind.as_str()
            )));
        }
        self.registry.register(FamilyDesc::dynamic(name, &tasker::help_for(name, kind), kind, buckets)?)
    }

    /// Sets the buckets of the histograms derivation creates, by name (`step_duration_seconds`);
    /// others keep the defaults.
    ///
    /// # Errors
    /// A name that is not a derived histogram's (`<entity>_duration_seconds`), or one already
    /// registered with other buckets; then nothing changes.
    pub fn set_derived_buckets(&self, buckets: HashMap<String, Buckets>) -> Result<()> {
        for (name, b) in &buckets {
            crate::core::labels::validate_metric_name(name)?;
            if !name.ends_with("_duration_seconds") || name.len() == "_duration_seconds".len() {
                return Err(Error::argument(format!(
                    "derived_buckets names a derived histogram, <entity>_duration_seconds (step_duration_seconds, ...), got: {name:?}"
                )));
            }
            if let Some(existing) = self.registry.get(name).and_then(|f| f.desc().buckets.clone()) {
                if existing.bounds() != b.bounds() {
                    return Err(Error::argument(format!(
                        "derived_buckets for {name:?} come too late: it already exists with buckets {:?}",
                        existing.bounds()
                    )));
                }
            }
        }
        *self.derived_buckets.write() = buckets;
        self.plans.clear();
        Ok(())
    }

    /// Gives every derived histogram native buckets with these settings (`None`: classic only).
    ///
    /// # Errors
    /// When a derived histogram already exists with other native settings; then nothing changes.
    pub fn set_derived_native(&self, native: Option<NativeConfig>) -> Result<()> {
        for family in self.registry.families() {
            let desc = family.desc();
            let derived = desc.dynamic && desc.kind == MetricKind::Histogram && desc.name.ends_with("_duration_seconds");
            let current = desc.buckets.as_ref().and_then(Buckets::native);
            if derived && current != native.as_ref() {
                return Err(Error::argument(format!(
                    "native_histograms come too late: {:?} already exists {}",
                    desc.name,
                    if current.is_some() { "with other native settings" } else { "without native buckets" }
                )));
            }
        }
        *self.derived_native.write() = native;
        self.plans.clear();
        Ok(())
    }

    fn buckets_for(&self, name: &str) -> Option<Buckets> {
        let classic = self.derived_buckets.read().get(name).cloned();
        match self.derived_native.read().clone() {
            None => classic,
            // The default bounds are valid: `ok()` never drops them.
            Some(native) => classic.or_else(|| Buckets::new(&DEFAULT_BUCKETS).ok()).map(|b| b.with_native(native)),
        }
    }

    /// The series of `family` for `(name, value)` label pairs in any order, created if needed:
    /// dynamic families take any names, fixed ones exactly their declared names.
    ///
    /// # Errors
    /// Label problems (unknown, repeated or missing names, values that are too long or not
    /// UTF-8), or a full family.
    pub fn series(&self, family: &Family, pairs: &mut [(&[u8], &[u8])]) -> Result<Arc<Series>> {
        let desc = family.desc();
        if desc.dynamic {
            return family.series(pairs_key(pairs)?.as_bytes());
        }
        let given: Vec<String> = pairs.iter().map(|(k, _)| String::from_utf8_lossy(k).into_owned()).collect();
        let mut key = KeyBuf::new();
        for (label, slot) in desc.labels.iter().zip(labels::match_names(&desc.name, &desc.labels, &given)?) {
            match slot {
                Some(i) => key.push(pairs[i].1),
                None => return Err(labels::missing(&desc.name, &desc.labels, label)),
            }
        }
        family.series(key.checked(&desc.labels)?)
    }

    /// Derives and records the metrics of one event (does not consult the router).
    ///
    /// # Errors
    /// Family type conflicts, or payload values the metrics refuse (e.g. a negative duration).
    pub fn handle_event(&self, event: &str, payload: &Payload<'_>) -> Result<()> {
        with_last(|last| {
            last.switch_to(event);
            if last.mapped.is_some() {
                // Routed under another name before; here `event` is what the caller derives.
                *last = LastEvent { event: event.to_owned(), ..Default::default() };
            }
            self.derive(last, payload)
        })
    }

    /// [`MetricsBackend::handle_event`] of `last.event`, with this thread's memory of its
    /// previous event.
    fn derive(&self, last: &mut LastEvent, payload: &Payload<'_>) -> Result<()> {
        let plan = match last.plan_for(self) {
            Some(plan) => plan,
            None => {
                let plan = self.plan(last.derived_name())?;
                last.remember_plan(self, Arc::clone(&plan));
                plan
            }
        };
        let values = Values::checked(&plan, payload)?;
        if last.series_for(&payload.labels, plan.counter.is_some(), values.duration.is_some()) {
            // The same labels as this thread's previous event: its series, without the maps.
            if let Some(counter) = &last.counter {
                counter.increment(Number::Int(1))?;
            }
            if let (Some(series), Some(d)) = (&last.duration, values.duration) {
                series.observe(d)?;
            }
        } else {
            self.derive_labelled(last, &plan, &payload.labels, values.duration)?;
        }
        if let Some((active, iteration)) = &plan.workflow {
            if let Some(v) = values.active {
                active.update(b"", Update::Set(v)).map(drop)?;
            }
            if let Some(v) = values.iteration {
                iteration.update(b"", Update::Observe(v)).map(drop)?;
            }
        }
        if let Some((healthy, failed)) = &plan.health {
            if let Some(v) = values.healthy {
                healthy.update(b"", Update::Set(v)).map(drop)?;
            }
            if let Some(v) = values.failed {
                failed.update(b"", Update::Set(v)).map(drop)?;
            }
        }
        last.events_series(&plan)?.increment(Number::Int(1))
    }

    /// The counter and duration of a plan for these label values, through the maps; remembers
    /// the series for the next event with the same labels.
    fn derive_labelled(&self, last: &mut LastEvent, plan: &Plan, labels: &[Option<&[u8]>; 3], duration: Option<f64>) -> Result<()> {
        // Both keys are built before either update, so a refused label leaves nothing behind.
        let key = |family: &Option<Arc<Family>>, shape: &Shape| family.as_ref().map(|f| shape.key(f, &DERIVED_LABELS, labels)).transpose();
        let (counter_key, duration_key) = (key(&plan.counter, &plan.shapes.0)?, key(&plan.duration, &plan.shapes.1)?);
        if let (Some(counter), Some(k)) = (&plan.counter, &counter_key) {
            counter.update(k.as_bytes(), Update::Increment(Number::Int(1))).map(drop)?;
        }
        if let (Some(hist), Some(k), Some(d)) = (&plan.duration, &duration_key, duration) {
            hist.update(k.as_bytes(), Update::Observe(d)).map(drop)?;
        }
        last.remember_labels(labels);
        last.counter = plan.counter.as_ref().zip(counter_key.as_ref()).and_then(|(f, k)| f.find(k.as_bytes()));
        last.duration = plan.duration.as_ref().zip(duration_key.as_ref()).and_then(|(f, k)| f.find(k.as_bytes()));
        Ok(())
    }

    /// The updates [`MetricsBackend::handle_event`] makes for `event`, in order, without making
    /// them: for a backend whose `counter`/`gauge`/`histogram` were replaced, so derivation goes
    /// through them. Registers the families it names, as deriving would.
    ///
    /// # Errors
    /// As [`MetricsBackend::handle_event`]; then nothing is listed.
    pub fn derivation(&self, event: &str, payload: &Payload<'_>) -> Result<Vec<Derived>> {
        let plan = self.plan(event)?;
        let values = Values::checked(&plan, payload)?;
        let mut labels = Vec::new();
        for ((_, label), value) in LABEL_KEYS.iter().zip(&payload.labels) {
            if let Some(v) = value {
                let text = std::str::from_utf8(v).map_err(|_| Error::argument("payload label values must be valid UTF-8"))?;
                labels.push((*label, text.to_owned()));
            }
        }
        let mut out = Vec::new();
        let mut push = |family: &Family, labels: Vec<(&'static str, String)>, update| {
            out.push(Derived { kind: family.desc().kind, name: family.desc().name.clone(), labels, update });
        };
        if let Some(counter) = &plan.counter {
            push(counter, labels.clone(), DerivedUpdate::Increment);
        }
        if let (Some(hist), Some(d)) = (&plan.duration, values.duration) {
            push(hist, labels, DerivedUpdate::Observe(d));
        }
        for (family, value, update) in [
            (plan.workflow.as_ref().map(|w| &w.0), values.active, DerivedUpdate::Set as fn(f64) -> DerivedUpdate),
            (plan.workflow.as_ref().map(|w| &w.1), values.iteration, DerivedUpdate::Observe),
            (plan.health.as_ref().map(|h| &h.0), values.healthy, DerivedUpdate::Set),
            (plan.health.as_ref().map(|h| &h.1), values.failed, DerivedUpdate::Set),
        ] {
            if let (Some(family), Some(v)) = (family, value) {
                push(family, Vec::new(), update(v));
            }
        }
        push(&plan.events.0, vec![("event", event.to_owned())], DerivedUpdate::Increment);
        Ok(out)
    }

    /// `TaskerMetrics.record`: one routing decision (one sampling draw), then derivation when the
    /// event routes to metrics. Returns whether metrics were recorded.
    ///
    /// # Errors
    /// As [`MetricsBackend::handle_event`].
    #[inline]
    pub fn record(&self, router: &EventRouter, event: &str, payload: &Payload<'_>) -> Result<bool> {
        with_last(|last| {
            last.switch_to(event);
            match last.route(router).and_then(Route::draw) {
                Some(backends) if backends.contains(Backend::Metrics) => self.derive(last, payload).map(|()| true),
                _ => Ok(false),
            }
        })
    }

    #[inline]
    fn plan(&self, event: &str) -> Result<Arc<Plan>> {
        let generation = self.registry.generation();
        if let Some(plan) = self.plans.get(event) {
            if plan.generation == generation {
                return Ok(Arc::clone(&plan));
            }
        }
        let plan = Arc::new(self.build_plan(event, generation)?);
        self.plans.insert(event.into(), Arc::clone(&plan));
        Ok(plan)
    }

    #[cold]
    fn build_plan(&self, event: &str, generation: u64) -> Result<Plan> {
        let entity = event.split('.').next().unwrap_or(event);
        let suffix = ["started", "completed", "failed", "cancelled"].into_iter().find(|s| event.ends_with(&format!(".{s}")));
        let counter = suffix.map(|s| self.family(&format!("{entity}_{s}_total"), MetricKind::Counter, None)).transpose()?;
        let histogram = |name: &str| self.family(name, MetricKind::Histogram, self.buckets_for(name));
        let duration = match suffix {
            Some("completed" | "failed") => Some(histogram(&format!("{entity}_duration_seconds"))?),
            _ => None,
        };
        let workflow = if event.contains("workflow.iteration") {
            Some((self.family("workflow_active_tasks", MetricKind::Gauge, None)?, histogram("workflow_iteration_duration_seconds")?))
        } else {
            None
        };
        let health = if event.contains("system.health") {
            Some((
                self.family("system_healthy_tasks", MetricKind::Gauge, None)?,
                self.family("system_failed_tasks", MetricKind::Gauge, None)?,
            ))
        } else {
            None
        };
        // Families the app registered ahead must have a shape derivation can fill: the counter
        // and duration by handler, namespace and status, events by event, the gauges and the
        // iteration histogram without labels.
        let shape = |family: &Option<Arc<Family>>| family.as_ref().map_or(Ok(Shape::Dynamic), |f| Shape::of(f, &DERIVED_LABELS));
        let shapes = (shape(&counter)?, shape(&duration)?);
        for family in workflow.iter().chain(&health).flat_map(|(a, b)| [a, b]) {
            Shape::of(family, &[])?;
        }
        let events_family = self.family(EVENTS_TOTAL, MetricKind::Counter, None)?;
        let events_key = Shape::of(&events_family, &["event"])?.key(&events_family, &["event"], &[Some(event.as_bytes())])?;
        let events = (events_family, events_key.as_bytes().into());
        Ok(Plan { generation, counter, duration, shapes, workflow, health, events })
    }

    /// Every series of every family, with Tasker's key `name{k="v",...}` (label names sorted).
    pub fn all_series(&self) -> Vec<(String, Arc<Family>, Arc<Series>)> {
        let mut out = Vec::new();
        for family in self.registry.families() {
            for series in family.all_series() {
                out.push((series_key(&family, &series), Arc::clone(&family), series));
            }
        }
        out
    }

    /// Removes every metric; returns how many series there were.
    pub fn clear(&self) -> usize {
        let n = self.registry.families().iter().map(|f| f.len()).sum();
        self.registry.clear();
        self.plans.clear();
        n
    }
}

// A full family counts its own drops (tasker_metrics_series_dropped_total); deriving carries
// on with the other metrics, so the update outcomes above are not inspected.

/// One update derivation makes, for a caller that applies it through its own methods.
#[derive(Debug, Clone, PartialEq)]
pub struct Derived {
    /// The metric's type.
    pub kind: MetricKind,
    /// The metric's name.
    pub name: String,
    /// Its labels, by label name.
    pub labels: Vec<(&'static str, String)>,
    /// What to do to it.
    pub update: DerivedUpdate,
}

/// The operation of a [`Derived`] update.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DerivedUpdate {
    /// A counter's `increment` by 1.
    Increment,
    /// A histogram's `observe`.
    Observe(f64),
    /// A gauge's `set`.
    Set(f64),
}
