//! Tasker's `MetricsBackend`: metrics got-or-created by name and labels in the shared registry,
//! and the metrics derived from events (§5.1 of the contract). Each event name is turned once into
//! a cached [`Plan`] (which families it updates), so deriving a known event allocates nothing.

use crate::core::derived_labels::Shape;
use crate::core::error::{Error, Result};
use crate::core::labels::{self, KeyBuf, KEY_SEPARATOR};
use crate::core::metric::{Buckets, MetricKind};
use crate::core::registry::{Family, FamilyDesc, Number, Registry, Series, Update};
use crate::core::router::{Backend, EventRouter, Route};
use crate::core::tasker::{self, Amount};
use dashmap::DashMap;
use std::collections::HashMap;
use std::sync::Arc;

pub use crate::core::tasker::EVENTS_TOTAL;

/// The payload fields derivation reads, already converted by the caller.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Payload<'a> {
    /// Label values, in label-name order: `handler` (from `:handler_class`), `namespace`, `status`.
    pub labels: [Option<&'a [u8]>; 3],
    /// `:duration`.
    pub duration: Option<Amount>,
    /// `:execution_duration`, used when `:duration` is absent.
    pub execution_duration: Option<Amount>,
    /// `:active_task_count`.
    pub active_task_count: Option<Amount>,
    /// `:iteration_duration`.
    pub iteration_duration: Option<Amount>,
    /// `:healthy_task_count`.
    pub healthy_task_count: Option<Amount>,
    /// `:failed_task_count`.
    pub failed_task_count: Option<Amount>,
}

/// Payload keys that become labels, with their label names, in label-name order.
pub const LABEL_KEYS: [(&str, &str); 3] = [("handler_class", "handler"), ("namespace", "namespace"), ("status", "status")];

/// The label names derivation fills, in [`Payload::labels`] order.
pub const DERIVED_LABELS: [&str; 3] = [LABEL_KEYS[0].1, LABEL_KEYS[1].1, LABEL_KEYS[2].1];

/// Payload keys read as numbers.
pub const NUMBER_KEYS: [&str; 6] =
    ["duration", "execution_duration", "active_task_count", "iteration_duration", "healthy_task_count", "failed_task_count"];

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

/// What a thread remembers of its previous event, so a stream of events with the same name and
/// labels (one handler's steps, say) skips the router's map, the plan lookup, building the
/// labels' key and the series lookups. Holding the registry keeps its address from being reused
/// by another backend's registry.
#[derive(Debug, Default)]
struct LastEvent {
    event: String,
    /// The router's version and the event's route under it.
    route: Option<(u64, Option<Route>)>,
    /// The name of the mapping `event` was routed by, when that is not `event` itself (Tasker's
    /// subscriber turns `_` into `.`): what gets derived and recorded.
    mapped: Option<Box<str>>,
    registry: Option<Arc<Registry>>,
    plan: Option<Arc<Plan>>,
    /// The payload label values `counter` and `duration` belong to.
    labels: [Option<Vec<u8>>; 3],
    counter: Option<Arc<Series>>,
    duration: Option<Arc<Series>>,
    events: Option<Arc<Series>>,
}

thread_local! {
    static LAST: std::cell::RefCell<LastEvent> = std::cell::RefCell::new(LastEvent::default());
}

impl LastEvent {
    /// Forgets everything when `event` is not the remembered one.
    #[inline]
    fn switch_to(&mut self, event: &str) {
        if self.event != event {
            *self = LastEvent { event: event.to_owned(), ..Default::default() };
        }
    }

    /// The event's route, remembered while the router's version stays the same.
    #[inline]
    fn route(&mut self, router: &EventRouter) -> Option<Route> {
        let version = router.version();
        match self.route {
            Some((v, route)) if v == version => route,
            _ => self.resolve(router, version),
        }
    }

    #[cold]
    fn resolve(&mut self, router: &EventRouter, version: u64) -> Option<Route> {
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
    fn derived_name(&self) -> &str {
        self.mapped.as_deref().unwrap_or(&self.event)
    }

    /// The remembered plan, if it is `backend`'s and still current.
    fn plan_for(&self, backend: &MetricsBackend) -> Option<Arc<Plan>> {
        let same = self.registry.as_ref().is_some_and(|r| Arc::ptr_eq(r, &backend.registry));
        self.plan.as_ref().filter(|p| same && p.generation == backend.registry.generation()).cloned()
    }

    fn remember_plan(&mut self, backend: &MetricsBackend, plan: Arc<Plan>) {
        self.registry = Some(Arc::clone(&backend.registry));
        self.plan = Some(plan);
        self.labels = Default::default();
        self.counter = None;
        self.duration = None;
        self.events = None;
    }

    /// Whether the remembered series are for these label values and all still in their families.
    fn series_for(&self, labels: &[Option<&[u8]>; 3], counter: bool, duration: bool) -> bool {
        let live = |s: &Option<Arc<Series>>, wanted: bool| !wanted || s.as_ref().is_some_and(|s| !s.is_removed());
        self.plan.is_some()
            && self.labels.iter().zip(labels).all(|(kept, given)| kept.as_deref() == *given)
            && live(&self.counter, counter)
            && live(&self.duration, duration)
    }

    fn remember_labels(&mut self, labels: &[Option<&[u8]>; 3]) {
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
    fn events_series(&mut self, plan: &Plan) -> Result<Arc<Series>> {
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
fn with_last<R>(f: impl FnOnce(&mut LastEvent) -> R) -> R {
    LAST.with(|cell| match cell.try_borrow_mut() {
        Ok(mut last) => f(&mut last),
        Err(_) => f(&mut LastEvent::default()),
    })
}

/// The process-wide metrics backend over a registry.
#[derive(Debug)]
pub struct MetricsBackend {
    registry: Arc<Registry>,
    plans: DashMap<Box<str>, Arc<Plan>, ahash::RandomState>,
    /// Buckets of derived histograms by name, read only when a plan is built.
    derived_buckets: parking_lot::RwLock<HashMap<String, Buckets>>,
}

static GLOBAL: once_cell::sync::Lazy<MetricsBackend> = once_cell::sync::Lazy::new(|| MetricsBackend::new(Arc::clone(Registry::global())));

impl MetricsBackend {
    /// A backend writing into `registry`.
    pub fn new(registry: Arc<Registry>) -> Self {
        MetricsBackend { registry, plans: DashMap::with_hasher(ahash::RandomState::new()), derived_buckets: Default::default() }
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

    fn buckets_for(&self, name: &str) -> Option<Buckets> {
        self.derived_buckets.read().get(name).cloned()
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

/// The numbers an event's plan uses, each checked (present: a finite number) before anything
/// is updated, so a refused event leaves no partial trace.
#[derive(Debug, Clone, Copy, Default)]
struct Values {
    duration: Option<f64>,
    active: Option<f64>,
    iteration: Option<f64>,
    healthy: Option<f64>,
    failed: Option<f64>,
}

impl Values {
    // Inlined: out of line, building the struct cost the hot path ~40 instructions per event.
    #[inline(always)]
    fn checked(plan: &Plan, payload: &Payload<'_>) -> Result<Self> {
        let mut v = Values::default();
        if plan.duration.is_some() {
            v.duration = check_amount(payload.duration.as_ref().or(payload.execution_duration.as_ref()), "Observed value")?;
        }
        if plan.workflow.is_some() {
            v.active = check_amount(payload.active_task_count.as_ref(), "Gauge value")?;
            v.iteration = check_amount(payload.iteration_duration.as_ref(), "Observed value")?;
        }
        if plan.health.is_some() {
            v.healthy = check_amount(payload.healthy_task_count.as_ref(), "Gauge value")?;
            v.failed = check_amount(payload.failed_task_count.as_ref(), "Gauge value")?;
        }
        Ok(v)
    }
}

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

/// A present amount must be a finite number.
fn check_amount(amount: Option<&Amount>, what: &str) -> Result<Option<f64>> {
    match amount {
        None => Ok(None),
        Some(Amount::Num(n)) => crate::core::metric::check_finite("value", n.as_f64()).map(Some),
        Some(Amount::NotNumeric(class)) => Err(Error::argument(format!("{what} must be numeric, got: {class}"))),
    }
}

/// Tasker's stable series key: `name` or `name{a="x",b="y"}` with label names sorted.
pub fn series_key(family: &Family, series: &Series) -> String {
    stable_key(&family.desc().name, family.label_pairs(series))
}

/// The stable key of a name and `(label, value)` pairs in any order.
pub fn stable_key(name: &str, mut pairs: Vec<(&str, &str)>) -> String {
    if pairs.is_empty() {
        return name.to_owned();
    }
    pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
    format!("{name}{{{}}}", crate::core::labels::render_named_pairs(pairs))
}

/// Encodes `(name, value)` label pairs (any order) as a dynamic-label key.
///
/// # Errors
/// A name given twice.
pub fn pairs_key(pairs: &mut [(&[u8], &[u8])]) -> Result<KeyBuf> {
    let mut key = KeyBuf::new();
    crate::core::labels::push_pairs(&mut key, pairs)?;
    if key.as_bytes().iter().filter(|b| **b == KEY_SEPARATOR).count() != pairs.len() * 2 {
        return Err(Error::argument("label names and values must be valid UTF-8"));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::metric::Sample;
    use crate::core::router::{EventMapping, MappingSpec};

    fn backend() -> MetricsBackend {
        MetricsBackend::new(Arc::new(Registry::default()))
    }

    fn value(b: &MetricsBackend, key: &str) -> Option<Sample> {
        b.all_series().into_iter().find(|(k, _, _)| k == key).map(|(_, _, s)| s.read())
    }

    fn num(v: f64) -> Option<Amount> {
        Some(Amount::Num(Number::Float(v)))
    }

    #[test]
    fn suffix_rules_with_labels_and_durations() {
        let b = backend();
        let p = Payload { labels: [Some(b"Charge"), None, Some(b"ok")], duration: num(0.5), ..Payload::default() };
        b.handle_event("task.completed", &p).unwrap();
        b.handle_event("task.completed", &Payload { execution_duration: num(2.0), ..p.clone() }).unwrap();
        b.handle_event("step.failed", &Payload::default()).unwrap();
        b.handle_event("task.started", &Payload::default()).unwrap();
        b.handle_event("task.cancelled", &Payload::default()).unwrap();
        b.handle_event("task.retry_requested", &Payload::default()).unwrap();
        assert_eq!(value(&b, r#"task_completed_total{handler="Charge",status="ok"}"#), Some(Sample::Counter { int: 2, float: None }));
        assert_eq!(value(&b, r#"task_duration_seconds{handler="Charge",status="ok"}"#).unwrap().as_f64(), 2.0);
        assert_eq!(value(&b, "step_failed_total").unwrap().as_f64(), 1.0);
        assert!(value(&b, "step_duration_seconds").is_none(), "no duration, no observation");
        assert_eq!(value(&b, "task_started_total").unwrap().as_f64(), 1.0);
        assert_eq!(value(&b, "task_cancelled_total").unwrap().as_f64(), 1.0);
        assert_eq!(value(&b, r#"tasker_events_total{event="task.completed"}"#).unwrap().as_f64(), 2.0);
        assert_eq!(value(&b, r#"tasker_events_total{event="task.retry_requested"}"#).unwrap().as_f64(), 1.0);
    }

    #[test]
    fn workflow_and_health_gauges() {
        let b = backend();
        b.handle_event(
            "workflow.iteration.done",
            &Payload { active_task_count: num(7.0), iteration_duration: num(0.25), ..Payload::default() },
        )
        .unwrap();
        b.handle_event(
            "system.health.check",
            &Payload { healthy_task_count: num(10.0), failed_task_count: num(2.0), ..Payload::default() },
        )
        .unwrap();
        assert_eq!(value(&b, "workflow_active_tasks"), Some(Sample::Gauge(7.0)));
        assert_eq!(value(&b, "workflow_iteration_duration_seconds").unwrap().as_f64(), 1.0);
        assert_eq!(value(&b, "system_healthy_tasks"), Some(Sample::Gauge(10.0)));
        assert_eq!(value(&b, "system_failed_tasks"), Some(Sample::Gauge(2.0)));
    }

    #[test]
    fn failures_are_errors_and_type_conflicts_are_named() {
        let b = backend();
        let bad = Payload { duration: Some(Amount::NotNumeric("String".into())), ..Payload::default() };
        assert_eq!(b.handle_event("task.completed", &bad).unwrap_err().to_string(), "Observed value must be numeric, got: String");
        b.registry().register(FamilyDesc::new("step_completed_total", "x", MetricKind::Gauge, &[] as &[&str], None).unwrap()).unwrap();
        let err = b.handle_event("step.completed", &Payload::default()).unwrap_err();
        assert_eq!(err.to_string(), "metric \"step_completed_total\" is already registered as a gauge, cannot use it as a counter");
    }

    #[test]
    fn a_refused_event_changes_nothing() {
        let b = backend();
        let bad = Payload { labels: [None, None, Some(b"ok")], duration: num(f64::NAN), ..Payload::default() };
        assert!(b.handle_event("task.completed", &bad).is_err());
        assert!(b.all_series().is_empty(), "{:?}", b.all_series().iter().map(|s| s.0.clone()).collect::<Vec<_>>());
    }

    #[test]
    fn plans_follow_registry_changes() {
        let b = backend();
        b.handle_event("task.completed", &Payload::default()).unwrap();
        assert_eq!(b.clear(), 2);
        b.handle_event("task.completed", &Payload::default()).unwrap();
        assert_eq!(value(&b, "task_completed_total").unwrap().as_f64(), 1.0);
    }

    #[test]
    fn record_samples_once() {
        let b = backend();
        let router = EventRouter::with_defaults();
        let spec = MappingSpec { backends: vec!["metrics".into()], sampling_rate: 0.1, ..MappingSpec::new("sampled.completed") };
        router.map(EventMapping::new(spec).unwrap()).unwrap();
        let recorded = (0..100_000).filter(|_| b.record(&router, "sampled.completed", &Payload::default()).unwrap()).count();
        assert!((recorded as i64 - 10_000).abs() < 600, "{recorded}");
        assert_eq!(value(&b, "sampled_completed_total").unwrap().as_f64(), recorded as f64, "once, not squared");
        assert!(!b.record(&router, "unmapped.completed", &Payload::default()).unwrap());
        assert!(!b.record(&router, "observability.task.finalize", &Payload::default()).unwrap(), "trace only");
    }

    #[test]
    fn record_derives_under_the_mapped_name_of_a_dotted_event() {
        let b = backend();
        let router = EventRouter::with_defaults();
        for _ in 0..2 {
            assert!(b.record(&router, "task.start.requested", &Payload::default()).unwrap());
        }
        assert!(b.record(&router, "workflow.task.completed", &Payload::default()).unwrap());
        assert_eq!(value(&b, r#"tasker_events_total{event="task.start_requested"}"#).unwrap().as_f64(), 2.0);
        assert_eq!(value(&b, r#"tasker_events_total{event="workflow.task_completed"}"#).unwrap().as_f64(), 1.0);
        assert!(value(&b, "workflow_completed_total").is_none(), "derived from the mapped name, not the dotted one");
        // The same thread then deriving the dotted name itself (no router) derives that name.
        b.handle_event("task.start.requested", &Payload::default()).unwrap();
        assert_eq!(value(&b, r#"tasker_events_total{event="task.start.requested"}"#).unwrap().as_f64(), 1.0);
        // And a re-mapping that makes the dotted name exact is seen at once.
        router
            .map(EventMapping::new(MappingSpec { backends: vec!["metrics".into()], ..MappingSpec::new("task.start.requested") }).unwrap())
            .unwrap();
        assert!(b.record(&router, "task.start.requested", &Payload::default()).unwrap());
        assert_eq!(value(&b, r#"tasker_events_total{event="task.start.requested"}"#).unwrap().as_f64(), 2.0);
    }

    #[test]
    fn families_registered_ahead_get_their_labels_by_name_or_refuse_changing_nothing() {
        let b = backend();
        let reg = b.registry();
        let buckets = crate::core::metric::Buckets::new(&[0.5, 5.0]).unwrap();
        reg.register(FamilyDesc::new("step_duration_seconds", "s", MetricKind::Histogram, &["status", "handler"], Some(buckets)).unwrap())
            .unwrap();
        reg.register(FamilyDesc::new("step_completed_total", "c", MetricKind::Counter, &["handler", "status"], None).unwrap()).unwrap();
        // The namespace has no place in the declared labels: left out, as the app chose.
        let p = Payload { labels: [Some(b"Ship"), Some(b"orders"), Some(b"complete")], duration: num(1.0), ..Payload::default() };
        b.handle_event("step.completed", &p).unwrap();
        b.handle_event("step.completed", &Payload { labels: [Some(b"Ship"), None, Some(b"complete")], ..p.clone() }).unwrap();
        assert_eq!(value(&b, r#"step_completed_total{handler="Ship",status="complete"}"#).unwrap().as_f64(), 2.0);
        assert_eq!(value(&b, r#"step_duration_seconds{handler="Ship",status="complete"}"#).unwrap().as_f64(), 2.0);
        assert!(b.all_series().iter().all(|(k, _, _)| !k.contains("status=\"status\"") && !k.contains("handler=\"complete\"")));
        b.handle_event("step.completed", &Payload { labels: [None, None, Some(b"retry")], ..Payload::default() }).unwrap();
        assert!(value(&b, r#"step_completed_total{handler="",status="retry"}"#).is_some(), "an absent label is empty");
        reg.register(FamilyDesc::new("task_completed_total", "t", MetricKind::Counter, &["region"], None).unwrap()).unwrap();
        let before = b.all_series().len();
        let err = b.handle_event("task.completed", &Payload::default()).unwrap_err();
        assert!(err.to_string().contains("carry only [:handler, :namespace, :status]"), "{err}");
        assert_eq!(b.all_series().len(), before, "the refused event counted nothing, tasker_events_total included");
    }

    #[test]
    fn derived_histograms_take_the_configured_buckets() {
        let b = backend();
        let mut buckets = HashMap::new();
        buckets.insert("step_duration_seconds".to_owned(), Buckets::new(&[0.5, 5.0]).unwrap());
        b.set_derived_buckets(buckets).unwrap();
        b.handle_event("step.completed", &Payload { duration: num(1.0), ..Payload::default() }).unwrap();
        b.handle_event("task.completed", &Payload { duration: num(1.0), ..Payload::default() }).unwrap();
        let bounds = |name: &str| b.registry().get(name).unwrap().desc().buckets.clone().unwrap().bounds().to_vec();
        assert_eq!(bounds("step_duration_seconds"), [0.5, 5.0]);
        assert_eq!(bounds("task_duration_seconds"), crate::core::metric::histogram::DEFAULT_BUCKETS.to_vec());
        let one = |name: &str, v: &[f64]| HashMap::from([(name.to_owned(), Buckets::new(v).unwrap())]);
        assert_eq!(
            b.set_derived_buckets(one("step_duration_seconds", &[1.0])).unwrap_err().to_string(),
            "derived_buckets for \"step_duration_seconds\" come too late: it already exists with buckets [0.5, 5.0]"
        );
        assert!(b.set_derived_buckets(one("queue_size", &[1.0])).unwrap_err().to_string().contains("<entity>_duration_seconds"));
        assert!(b.set_derived_buckets(one("step_duration_seconds", &[0.5, 5.0])).is_ok(), "the same buckets again are fine");
    }

    #[test]
    fn derivation_lists_what_handle_event_does() {
        let b = backend();
        let p =
            Payload { labels: [Some(b"Ship"), None, Some(b"ok")], duration: num(0.5), active_task_count: num(3.0), ..Payload::default() };
        let listed = b.derivation("task.completed", &p).unwrap();
        let labels = vec![("handler", "Ship".to_owned()), ("status", "ok".to_owned())];
        let derived = |kind, name: &str, labels, update| Derived { kind, name: name.to_owned(), labels, update };
        assert_eq!(
            listed,
            vec![
                derived(MetricKind::Counter, "task_completed_total", labels.clone(), DerivedUpdate::Increment),
                derived(MetricKind::Histogram, "task_duration_seconds", labels, DerivedUpdate::Observe(0.5)),
                derived(MetricKind::Counter, EVENTS_TOTAL, vec![("event", "task.completed".to_owned())], DerivedUpdate::Increment),
            ]
        );
        let w = b.derivation("workflow.iteration", &Payload { active_task_count: num(3.0), ..Payload::default() }).unwrap();
        assert_eq!(
            w[0],
            Derived { kind: MetricKind::Gauge, name: "workflow_active_tasks".into(), labels: vec![], update: DerivedUpdate::Set(3.0) }
        );
        let bad = Payload { duration: Some(Amount::NotNumeric("String".into())), ..Payload::default() };
        assert_eq!(b.derivation("task.failed", &bad).unwrap_err().to_string(), "Observed value must be numeric, got: String");
        assert!(b.all_series().is_empty(), "listing updates nothing");
    }

    /// A thread remembers its last event's route, series and labels; each must give way when
    /// what it stands for changes.
    #[test]
    fn remembered_routes_and_series_follow_changes() {
        let b = backend();
        let router = EventRouter::with_defaults();
        let spec = |enabled| MappingSpec { backends: vec!["metrics".into()], enabled, ..MappingSpec::new("job.completed") };
        router.map(EventMapping::new(spec(true)).unwrap()).unwrap();
        let labelled = |status: &'static str| Payload { labels: [None, None, Some(status.as_bytes())], ..Payload::default() };
        assert!(b.record(&router, "job.completed", &labelled("ok")).unwrap());
        assert!(b.record(&router, "job.completed", &labelled("ok")).unwrap());
        assert!(b.record(&router, "job.completed", &labelled("error")).unwrap());
        router.map(EventMapping::new(spec(false)).unwrap()).unwrap();
        assert!(!b.record(&router, "job.completed", &labelled("error")).unwrap(), "a disabled mapping is seen at once");
        router.map(EventMapping::new(spec(true)).unwrap()).unwrap();
        assert!(b.record(&router, "job.completed", &labelled("error")).unwrap());
        assert_eq!(value(&b, "job_completed_total{status=\"ok\"}").unwrap().as_f64(), 2.0);
        assert_eq!(value(&b, "job_completed_total{status=\"error\"}").unwrap().as_f64(), 2.0);
        // Another router (a new version) and another event name each start afresh.
        let other = EventRouter::with_defaults();
        assert!(!b.record(&other, "job.completed", &labelled("error")).unwrap(), "not mapped there");
        assert!(b.record(&router, "job.completed", &labelled("error")).unwrap());
        assert!(b.record(&router, "task.completed", &labelled("error")).unwrap());
        assert_eq!(value(&b, "job_completed_total{status=\"error\"}").unwrap().as_f64(), 3.0);
        assert_eq!(value(&b, "task_completed_total{status=\"error\"}").unwrap().as_f64(), 1.0);
    }
}
