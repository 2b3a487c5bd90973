//! The one error type of the core. Every variant carries the offending argument and value so the
//! message a Ruby user reads names both. This module knows nothing of Ruby: `src/ruby/errors.rs`
//! maps [`ErrorKind`] to Ruby exception classes.

use std::fmt;

/// How the boundary should surface an [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A value of the right type but not acceptable (`ArgumentError`).
    Argument,
    /// A value of the wrong type (`TypeError`).
    Type,
    /// A metric would exceed its series limit (`TaskerMetrics::CardinalityError`).
    Cardinality,
    /// The value store failed (`TaskerMetrics::StoreError`).
    Store,
}

/// Everything the core can refuse. Messages are user-facing and name the argument and the value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A metric name that does not match `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    #[error("invalid metric name {0:?}: must match [a-zA-Z_:][a-zA-Z0-9_:]*")]
    InvalidMetricName(String),
    /// A label name that breaks a Prometheus rule; the second field says which.
    #[error("invalid label name {0:?}: {1}")]
    InvalidLabelName(String, &'static str),
    /// The label set given to an update does not match the declared label names.
    #[error("invalid labels for metric {metric:?}: {problem} (expected {expected})")]
    LabelMismatch {
        /// The metric being updated.
        metric: String,
        /// What was wrong, e.g. `missing label "status"`.
        problem: String,
        /// The declared label names, comma separated, or `no labels`.
        expected: String,
    },
    /// A label value that is not valid UTF-8 (or not a supported type, reported by the glue).
    #[error("invalid value for label {label:?}: {reason}")]
    InvalidLabelValue {
        /// The label name.
        label: String,
        /// What was wrong with the value.
        reason: String,
    },
    /// A numeric argument outside what the operation accepts (NaN, infinite, negative increment).
    #[error("invalid {arg}: {value} ({reason})")]
    InvalidValue {
        /// The argument name, e.g. `by`.
        arg: &'static str,
        /// The value as the user gave it.
        value: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// Histogram buckets that are empty, unsorted, duplicated or not finite.
    #[error("invalid buckets {buckets}: {reason}")]
    InvalidBuckets {
        /// The buckets as given.
        buckets: String,
        /// Why they are refused.
        reason: &'static str,
    },
    /// A name already registered with another type, labels or buckets.
    #[error("metric {name:?} is already registered as {existing}, cannot register it as {requested}")]
    AlreadyRegistered {
        /// The metric name.
        name: String,
        /// What exists.
        existing: String,
        /// What was asked for.
        requested: String,
    },
    /// A message fixed by an external contract (Tasker's), kept verbatim.
    #[error("{1}")]
    Contract(ErrorKind, String),
    /// A metric would exceed its series limit.
    #[error("metric {metric:?} reached its limit of {limit} series; new label sets are dropped")]
    Cardinality {
        /// The metric name.
        metric: String,
        /// The configured limit.
        limit: usize,
    },
    /// The value store failed.
    #[error("metrics store error: {0}")]
    Store(String),
}

impl Error {
    /// How the boundary should raise this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Contract(kind, _) => *kind,
            Error::Cardinality { .. } => ErrorKind::Cardinality,
            Error::Store(_) => ErrorKind::Store,
            _ => ErrorKind::Argument,
        }
    }

    /// An `ArgumentError` with a verbatim message.
    pub fn argument(msg: impl fmt::Display) -> Self {
        Error::Contract(ErrorKind::Argument, msg.to_string())
    }

    /// A `TypeError` with a verbatim message.
    pub fn type_error(msg: impl fmt::Display) -> Self {
        Error::Contract(ErrorKind::Type, msg.to_string())
    }
}

/// Result alias for the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_argument_and_the_value() {
        let e = Error::InvalidMetricName("1abc".into());
        assert_eq!(e.to_string(), "invalid metric name \"1abc\": must match [a-zA-Z_:][a-zA-Z0-9_:]*");
        assert_eq!(e.kind(), ErrorKind::Argument);
        let e = Error::InvalidValue { arg: "by", value: "-1".into(), reason: "counters only go up" };
        assert_eq!(e.to_string(), "invalid by: -1 (counters only go up)");
        assert_eq!(Error::type_error("x").kind(), ErrorKind::Type);
        assert_eq!(Error::Store("disk".into()).kind(), ErrorKind::Store);
    }
}
