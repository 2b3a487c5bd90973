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

use crate::core::error::{Error, Result};
use crate::core::sampler;
use arc_swap::ArcSwap;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{
    AtomicU64,
    Ordering::{Acquire, Relaxed, Release},
};
use std::sync::Arc;

/// The ArgumentError for a mapping field of the wrong type or value; `shown` is the value as
/// the caller sees it (Ruby's `inspect`).
pub fn field_error(field: &str, shown: &str) -> Error {
    let rule = match field {
        "event_name" => "must be a non-empty String or Symbol",
        "backends" => "must be a non-empty Array of :trace, :metrics, :logs",
        "sampling_rate" => "must be a Numeric between 0.0 and 1.0",
        "priority" => "must be one of :low, :normal, :high, :critical",
        "metadata" => "must be a Hash",
        _ => "is invalid",
    };
    Error::argument(format!("{field} {rule}, got: {shown}"))
}

/// A destination for events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Tracing spans.
    Trace,
    /// Metrics (the MetricsBackend).
    Metrics,
    /// Structured logs.
    Logs,
}

/// Message of the backend-type error, as Tasker words it.
pub fn unknown_backend(shown: &str) -> Error {
    Error::argument(format!("Unknown backend type: {shown}. Valid backends: :trace, :metrics, :logs"))
}

impl Backend {
    /// The backends in their canonical order.
    pub const ALL: [Backend; 3] = [Backend::Trace, Backend::Metrics, Backend::Logs];

    /// Bit in a [`Backends`] mask.
    pub const fn bit(self) -> u8 {
        match self {
            Backend::Trace => 1,
            Backend::Metrics => 2,
            Backend::Logs => 4,
        }
    }

    /// `trace`, `metrics` or `logs`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Backend::Trace => "trace",
            Backend::Metrics => "metrics",
            Backend::Logs => "logs",
        }
    }

    /// The exact names a mapping accepts.
    pub fn from_mapping_name(name: &str) -> Option<Self> {
        Backend::ALL.into_iter().find(|b| b.as_str() == name)
    }

    /// The looser names `events_for_backend` accepts (`traces`, `metric`, `log` too).
    pub fn from_query_name(name: &str) -> Option<Self> {
        match name {
            "trace" | "traces" => Some(Backend::Trace),
            "metric" | "metrics" => Some(Backend::Metrics),
            "log" | "logs" => Some(Backend::Logs),
            _ => None,
        }
    }
}

/// Set of backends as a bit mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Backends(u8);

impl Backends {
    /// Whether `b` is in the set.
    pub const fn contains(self, b: Backend) -> bool {
        self.0 & b.bit() != 0
    }

    /// The raw mask (trace 1, metrics 2, logs 4).
    pub const fn bits(self) -> u8 {
        self.0
    }
}

/// How important an event is; kept for callers (Tasker uses it to order work).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Priority {
    /// Low.
    Low,
    /// Normal (default).
    Normal,
    /// High.
    High,
    /// Critical.
    Critical,
}

impl Priority {
    /// `low`, `normal`, `high` or `critical`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Critical => "critical",
        }
    }

    /// Parses a priority name.
    pub fn from_name(name: &str) -> Option<Self> {
        [Priority::Low, Priority::Normal, Priority::High, Priority::Critical].into_iter().find(|p| p.as_str() == name)
    }
}

/// Plain data attached to a mapping, owned by Rust so no Ruby object lives in the router.
#[derive(Debug, Clone, PartialEq)]
pub enum Meta {
    /// nil
    Nil,
    /// true / false
    Bool(bool),
    /// Integer
    Int(i64),
    /// Float
    Float(f64),
    /// String
    Str(String),
    /// Symbol
    Sym(String),
    /// Array
    Array(Vec<Meta>),
    /// Hash, in insertion order
    Hash(Vec<(Meta, Meta)>),
}

/// The fields of a mapping before validation. `backends` and `priority` hold names as given.
#[derive(Debug, Clone, PartialEq)]
pub struct MappingSpec {
    /// Event name (String or Symbol text).
    pub event_name: String,
    /// Backend names, as given.
    pub backends: Vec<String>,
    /// Whether the mapping is on.
    pub enabled: bool,
    /// Probability of routing, 0.0..=1.0.
    pub sampling_rate: f64,
    /// Priority name.
    pub priority: String,
    /// Attached data (a Hash).
    pub metadata: Meta,
}

impl MappingSpec {
    /// A spec with Tasker's defaults: `[:trace]`, enabled, rate 1.0, `:normal`, `{}`.
    pub fn new(event_name: impl Into<String>) -> Self {
        MappingSpec {
            event_name: event_name.into(),
            backends: vec!["trace".into()],
            enabled: true,
            sampling_rate: 1.0,
            priority: "normal".into(),
            metadata: Meta::Hash(Vec::new()),
        }
    }
}

/// An immutable, validated mapping of one event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventMapping {
    event_name: String,
    backends: Vec<Backend>,
    mask: Backends,
    enabled: bool,
    sampling_rate: f64,
    priority: Priority,
    metadata: Meta,
}

impl EventMapping {
    /// Validates a spec.
    ///
    /// # Errors
    /// `ArgumentError` naming the field and the bad value.
    pub fn new(spec: MappingSpec) -> Result<Self> {
        if spec.event_name.trim().is_empty() {
            return Err(field_error("event_name", &format!("{:?}", spec.event_name)));
        }
        if spec.backends.is_empty() {
            return Err(field_error("backends", "[]"));
        }
        let mut backends = Vec::with_capacity(spec.backends.len());
        let mut mask = 0u8;
        for name in &spec.backends {
            let b = Backend::from_mapping_name(name)
                .ok_or_else(|| Error::argument(format!("Invalid backend: :{name}. Valid backends: :trace, :metrics, :logs")))?;
            if mask & b.bit() == 0 {
                backends.push(b);
                mask |= b.bit();
            }
        }
        if !(0.0..=1.0).contains(&spec.sampling_rate) {
            return Err(field_error("sampling_rate", &crate::core::metric::format_f64(spec.sampling_rate)));
        }
        let priority = Priority::from_name(&spec.priority)
            .ok_or_else(|| Error::argument(format!("priority must be one of :low, :normal, :high, :critical, got: :{}", spec.priority)))?;
        if !matches!(spec.metadata, Meta::Hash(_)) {
            return Err(field_error("metadata", "a non-Hash"));
        }
        Ok(EventMapping {
            event_name: spec.event_name,
            backends,
            mask: Backends(mask),
            enabled: spec.enabled,
            sampling_rate: spec.sampling_rate,
            priority,
            metadata: spec.metadata,
        })
    }

    /// The event name.
    pub fn event_name(&self) -> &str {
        &self.event_name
    }
    /// Backends in the order given, without duplicates.
    pub fn backends(&self) -> &[Backend] {
        &self.backends
    }
    /// The backends as a mask.
    pub fn mask(&self) -> Backends {
        self.mask
    }
    /// Whether the mapping is on.
    pub fn enabled(&self) -> bool {
        self.enabled
    }
    /// Sampling probability.
    pub fn sampling_rate(&self) -> f64 {
        self.sampling_rate
    }
    /// Priority.
    pub fn priority(&self) -> Priority {
        self.priority
    }
    /// Attached data.
    pub fn metadata(&self) -> &Meta {
        &self.metadata
    }

    /// Whether `b` is one of the mapping's backends (ignores enabled and sampling).
    pub fn routes_to(&self, b: Backend) -> bool {
        self.mask.contains(b)
    }

    /// Tasker's `should_sample?`: always at 1.0, never at 0.0, else one draw.
    pub fn should_sample(&self) -> bool {
        sampler::sample(self.sampling_rate)
    }

    /// Tasker's `active?`: enabled and sampled (one draw).
    pub fn is_active(&self) -> bool {
        self.enabled && self.should_sample()
    }

    /// Deterministic: enabled, rate above zero, and `b` included.
    pub fn is_routable_to(&self, b: Backend) -> bool {
        self.enabled && self.sampling_rate > 0.0 && self.routes_to(b)
    }

    /// `task.completed → trace, metrics (75.0% sampled)`.
    pub fn description(&self) -> String {
        let mut s = format!("{} \u{2192} ", self.event_name);
        for (i, b) in self.backends.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            s.push_str(b.as_str());
        }
        let _ = write!(s, " ({:.1}% sampled)", self.sampling_rate * 100.0);
        s
    }
}

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

use Backend::{Logs as L, Metrics as M, Trace as T};
use Priority::{Critical, High, Low, Normal};

/// Tasker's 22 default mappings, exactly, then the rest of its lifecycle catalogue.
pub const DEFAULT_MAPPINGS: &[(&str, &[Backend], f64, Priority)] = &[
    ("task.initialize_requested", &[T, M], 1.0, Normal),
    ("task.start_requested", &[T, M], 1.0, Normal),
    ("task.completed", &[T, M], 1.0, Normal),
    ("task.failed", &[T, M], 1.0, Normal),
    ("step.execution_requested", &[T, M], 1.0, Normal),
    ("step.completed", &[T, M], 1.0, Normal),
    ("step.failed", &[T, M], 1.0, Normal),
    ("step.retry_requested", &[T, M], 1.0, Normal),
    ("workflow.viable_steps_discovered", &[T, M], 1.0, Normal),
    ("observability.task.enqueue", &[M], 1.0, High),
    ("observability.task.finalize", &[T], 1.0, Normal),
    ("observability.step.backoff", &[T, M], 1.0, Normal),
    ("observability.step.find_viable", &[T], 1.0, Normal),
    ("observability.step.handle", &[T], 1.0, Normal),
    ("observability.step.skip", &[T, M], 1.0, Normal),
    ("observability.step.max_retries_reached", &[T, M], 1.0, High),
    ("step.before_handle", &[T], 1.0, Normal),
    ("database.query_executed", &[T, M], 0.1, Normal),
    ("dependency.resolved", &[T], 1.0, Normal),
    ("batch.step_execution", &[T, M], 1.0, Normal),
    ("memory.spike_detected", &[M], 1.0, Critical),
    ("performance.slow_operation", &[T, M], 1.0, High),
    // The rest of Tasker's lifecycle catalogue, which its router left unmapped.
    ("task.retry_requested", &[T, M], 1.0, Normal),
    ("task.cancelled", &[T, M], 1.0, Normal),
    ("task.resolved_manually", &[T, M], 1.0, Normal),
    ("task.before_transition", &[T], 1.0, Low),
    ("step.initialize_requested", &[T], 1.0, Normal),
    ("step.handle", &[T], 1.0, Normal),
    ("step.cancelled", &[T, M], 1.0, Normal),
    ("step.resolved_manually", &[T, M], 1.0, Normal),
    ("step.before_transition", &[T], 1.0, Low),
    ("workflow.task_started", &[T, M], 1.0, Normal),
    ("workflow.task_completed", &[T, M], 1.0, Normal),
    ("workflow.task_failed", &[T, M], 1.0, High),
    ("workflow.step_completed", &[T, M], 1.0, Normal),
    ("workflow.step_failed", &[T, M], 1.0, High),
    ("workflow.no_viable_steps", &[T, M], 1.0, Normal),
    ("workflow.orchestration_requested", &[T], 1.0, Normal),
    ("workflow.task_finalization_started", &[T], 1.0, Normal),
    ("workflow.task_finalization_completed", &[T, M], 1.0, Normal),
    ("workflow.task_reenqueue_started", &[T], 1.0, Normal),
    ("workflow.task_reenqueue_requested", &[T, M], 1.0, Normal),
    ("workflow.task_reenqueue_failed", &[T, M], 1.0, High),
    ("workflow.task_reenqueue_delayed", &[T, M], 1.0, Normal),
    ("workflow.task_state_unclear", &[T, M, L], 1.0, High),
    ("workflow.step_execution_failed", &[T, M], 1.0, High),
    ("workflow.viable_steps_batch_ready", &[T], 1.0, Normal),
    ("workflow.steps_execution_started", &[T], 1.0, Normal),
    ("workflow.steps_execution_completed", &[T, M], 1.0, Normal),
    ("observability.task.handle", &[T], 1.0, Normal),
];

/// How many of [`DEFAULT_MAPPINGS`] are Tasker's own table.
pub const TASKER_DEFAULTS: usize = 22;

fn default_state() -> RouterState {
    let mut state = RouterState::default();
    for (name, backends, rate, priority) in DEFAULT_MAPPINGS {
        let mask = backends.iter().fold(0, |m, b| m | b.bit());
        let inserted = state.insert(Arc::new(EventMapping {
            event_name: (*name).to_owned(),
            backends: backends.to_vec(),
            mask: Backends(mask),
            enabled: true,
            sampling_rate: *rate,
            priority: *priority,
            metadata: Meta::Hash(Vec::new()),
        }));
        debug_assert!(inserted.is_ok(), "the defaults are unambiguous");
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, backends: &[&str]) -> MappingSpec {
        MappingSpec { backends: backends.iter().map(|b| (*b).to_owned()).collect(), ..MappingSpec::new(name) }
    }

    #[test]
    fn validation_messages() {
        let err = |s: MappingSpec| EventMapping::new(s).unwrap_err().to_string();
        assert_eq!(err(spec("", &["trace"])), "event_name must be a non-empty String or Symbol, got: \"\"");
        assert_eq!(err(spec("x", &[])), "backends must be a non-empty Array of :trace, :metrics, :logs, got: []");
        assert_eq!(err(spec("x", &["email"])), "Invalid backend: :email. Valid backends: :trace, :metrics, :logs");
        assert_eq!(
            err(MappingSpec { sampling_rate: 1.5, ..spec("x", &["trace"]) }),
            "sampling_rate must be a Numeric between 0.0 and 1.0, got: 1.5"
        );
        assert_eq!(
            err(MappingSpec { priority: "urgent".into(), ..spec("x", &["trace"]) }),
            "priority must be one of :low, :normal, :high, :critical, got: :urgent"
        );
        assert_eq!(err(MappingSpec { metadata: Meta::Nil, ..spec("x", &["trace"]) }), "metadata must be a Hash, got: a non-Hash");
    }

    #[test]
    fn description_and_predicates() {
        let m = EventMapping::new(MappingSpec { sampling_rate: 0.75, ..spec("task.completed", &["trace", "metrics", "trace"]) }).unwrap();
        assert_eq!(m.description(), "task.completed \u{2192} trace, metrics (75.0% sampled)");
        assert_eq!(m.backends(), &[Backend::Trace, Backend::Metrics]);
        assert!(m.routes_to(Backend::Metrics) && !m.routes_to(Backend::Logs));
        let off = EventMapping::new(MappingSpec { sampling_rate: 0.0, ..spec("x", &["metrics"]) }).unwrap();
        assert!(!off.is_routable_to(Backend::Metrics));
        assert!(!off.should_sample());
    }

    #[test]
    fn defaults_and_stats() {
        let r = EventRouter::with_defaults();
        assert_eq!(r.stats().total_mappings, DEFAULT_MAPPINGS.len());
        assert!(DEFAULT_MAPPINGS.len() - 8 >= 25);
        let m = r.mapping_for("database.query_executed").unwrap();
        assert_eq!(m.sampling_rate(), 0.1);
        assert!(r.routes_to("database.query_executed", Backend::Metrics), "deterministic despite sampling");
        assert!(!r.routes_to("nope", Backend::Trace));
        assert_eq!(r.stats().high_priority, DEFAULT_MAPPINGS.iter().filter(|d| matches!(d.3, High | Critical)).count());
    }

    #[test]
    fn remapping_keeps_position_and_updates_backend_lists() {
        let r = EventRouter::with_defaults();
        assert!(r.events_for(Backend::Metrics).contains(&"task.completed".to_owned()));
        r.map(EventMapping::new(spec("task.completed", &["logs"])).unwrap()).unwrap();
        assert!(!r.events_for(Backend::Metrics).contains(&"task.completed".to_owned()));
        assert_eq!(r.snapshot().mappings()[2].event_name(), "task.completed");
        r.reset();
        assert!(r.routes_to("task.completed", Backend::Metrics));
    }

    #[test]
    fn one_draw_per_decision() {
        let r = EventRouter::with_defaults();
        r.map(EventMapping::new(MappingSpec { sampling_rate: 0.1, ..spec("x", &["metrics"]) }).unwrap()).unwrap();
        let n = 100_000;
        let routed = (0..n).filter(|_| r.decide("x").is_some()).count();
        assert!((routed as i64 - 10_000).abs() < 600, "{routed}");
        assert_eq!(r.decide("unmapped"), None);
    }

    #[test]
    fn readers_never_see_a_missing_mapping_while_writers_remap() {
        let r = EventRouter::with_defaults();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..20_000 {
                        assert!(r.mapping_for("task.completed").is_some());
                    }
                });
            }
            s.spawn(|| {
                for i in 0..2_000 {
                    r.map(EventMapping::new(spec("task.completed", if i % 2 == 0 { &["logs"] } else { &["metrics"] })).unwrap()).unwrap();
                    r.map(EventMapping::new(spec(&format!("custom.{i}"), &["trace"])).unwrap()).unwrap();
                }
            });
        });
        assert_eq!(r.stats().total_mappings, DEFAULT_MAPPINGS.len() + 2_000);
    }

    #[test]
    fn names_as_taskers_subscriber_passes_them_find_their_mapping() {
        let r = EventRouter::with_defaults();
        let m = r.mapping_for("task.start.requested").expect("dots for underscores");
        assert_eq!(m.event_name(), "task.start_requested");
        assert!(r.routes_to("workflow.task.reenqueue.failed", Backend::Metrics));
        let (_, mapped) = r.resolve("step.retry.requested").unwrap();
        assert_eq!(mapped.as_deref(), Some("step.retry_requested"));
        assert_eq!(r.resolve("task.completed").unwrap().1, None, "an exact hit names no other mapping");
        // Only that direction: an underscore asked for never finds a mapping with a dot.
        r.map(EventMapping::new(spec("test.event", &["trace"])).unwrap()).unwrap();
        assert!(r.mapping_for("test_event").is_none());
        // An exact mapping wins over the reading.
        r.map(EventMapping::new(spec("task.start.requested", &["logs"])).unwrap()).unwrap();
        assert_eq!(r.mapping_for("task.start.requested").unwrap().backends(), &[Backend::Logs]);
        assert_eq!(r.mapping_for("task.start_requested").unwrap().backends(), &[Backend::Trace, Backend::Metrics]);
    }

    #[test]
    fn mappings_that_would_answer_the_same_dotted_name_are_refused() {
        let r = EventRouter::with_defaults();
        r.map(EventMapping::new(spec("order.paid_late", &["metrics"])).unwrap()).unwrap();
        let err = r.map(EventMapping::new(spec("order_paid.late", &["metrics"])).unwrap()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "event_name \"order_paid.late\" is ambiguous with the mapped \"order.paid_late\": Tasker's subscriber passes both on as \"order.paid.late\""
        );
        assert!(r.mapping_for("order_paid.late").is_none(), "refused, nothing changed");
        let all = vec![EventMapping::new(spec("a.b_c", &["trace"])).unwrap(), EventMapping::new(spec("a_b.c", &["trace"])).unwrap()];
        assert!(r.map_all(all).is_err());
        assert!(r.mapping_for("a.b_c").is_none(), "a refused bulk change registers none");
        r.map(EventMapping::new(spec("order.paid_late", &["logs"])).unwrap()).expect("re-mapping the same name is no conflict");
    }
}
