//! The values callers hand a series: a [`Number`], an [`Update`] checked against the metric kind,
//! and the [`Outcome`] of applying it.

use crate::core::error::{Error, Result};
use crate::core::metric::{counter, MetricKind};

/// A number as the caller gave it: integers stay exact in counters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// An integer that fits in i64.
    Int(i64),
    /// Anything else, as f64.
    Float(f64),
}

impl Number {
    /// As f64.
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

/// One change to a series, validated against the metric kind before any series is created, so a
/// refused update leaves nothing behind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Update {
    /// Counter or gauge increment.
    Increment(Number),
    /// Gauge decrement.
    Decrement(f64),
    /// Gauge set.
    Set(f64),
    /// Histogram observation.
    Observe(f64),
}

impl Update {
    /// Checks the update against `kind` and the value rules of that kind.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for NaN, infinities and negative counter increments; an argument
    /// error when the kind does not support the operation.
    pub fn check(self, kind: MetricKind) -> Result<Self> {
        use crate::core::metric::check_finite;
        match (kind, self) {
            (MetricKind::Counter, Update::Increment(Number::Int(n))) if n < 0 => {
                Err(Error::InvalidValue { arg: "by", value: n.to_string(), reason: "counters can only increase" })
            }
            (MetricKind::Counter, Update::Increment(Number::Int(_))) => Ok(self),
            (MetricKind::Counter, Update::Increment(Number::Float(f))) => counter::check_increment(f).map(|_| self),
            (MetricKind::Gauge, Update::Increment(n)) => check_finite("by", n.as_f64()).map(|_| self),
            (MetricKind::Gauge, Update::Decrement(v)) => check_finite("by", v).map(|_| self),
            (MetricKind::Gauge, Update::Set(v)) | (MetricKind::Histogram, Update::Observe(v)) => check_finite("value", v).map(|_| self),
            (kind, update) => Err(Error::argument(format!("a {} does not support {update:?}", kind.as_str()))),
        }
    }
}

/// What became of an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Outcome {
    /// The series was updated.
    Applied,
    /// The family was full; the new label set was dropped and counted. `first` is true for the
    /// family's first drop, for a one-time warning.
    Dropped {
        /// Whether this was the family's first drop.
        first: bool,
    },
}
