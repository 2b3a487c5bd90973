//! One mapping: which backends an event goes to, at what sampling rate and priority, with its
//! metadata; and the contract's messages for a bad field.

use crate::core::error::{Error, Result};
use crate::core::tasker::sampler;
use std::fmt::Write as _;

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
pub struct Backends(pub(super) u8);

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
    pub(super) event_name: String,
    pub(super) backends: Vec<Backend>,
    pub(super) mask: Backends,
    pub(super) enabled: bool,
    pub(super) sampling_rate: f64,
    pub(super) priority: Priority,
    pub(super) metadata: Meta,
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
