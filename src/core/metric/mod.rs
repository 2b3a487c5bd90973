//! The three metric kinds as operations on a series' [`Cells`](crate::core::cells::Cells).
//! Each kind says how many cells it needs, how to update them, and how to read a [`Sample`].
//! Nothing here knows about names, labels or formats.

pub mod counter;
pub mod gauge;
pub mod histogram;
pub mod native;
pub mod sparse;

pub use histogram::Buckets;

use crate::core::error::{Error, Result};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The type of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricKind {
    /// Monotonic counter.
    Counter,
    /// Value that goes up and down.
    Gauge,
    /// Observations counted into fixed buckets.
    Histogram,
}

impl MetricKind {
    /// `counter`, `gauge` or `histogram`, as in `# TYPE` lines.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

/// A point-in-time reading of one series.
#[derive(Debug, Clone, PartialEq)]
pub enum Sample {
    /// Integer part (exact) and Float part, `None` while only integers were added.
    Counter {
        /// Sum of integer increments.
        int: u64,
        /// Sum of float increments, if any was made.
        float: Option<f64>,
    },
    /// Current value.
    Gauge(f64),
    /// Per-bucket (non-cumulative) counts, the last one being `+Inf`, the sum, and the native
    /// buckets if the histogram has them.
    Histogram {
        /// Non-cumulative counts per bucket, `+Inf` last.
        counts: Vec<u64>,
        /// Sum of observations.
        sum: f64,
        /// Native buckets (boxed: most histograms have none).
        native: Option<Box<sparse::NativeSample>>,
    },
}

impl Sample {
    /// The value of a counter or gauge as f64, or the count of a histogram.
    pub fn as_f64(&self) -> f64 {
        match self {
            Sample::Counter { int, float } => *int as f64 + float.unwrap_or(0.0),
            Sample::Gauge(v) => *v,
            Sample::Histogram { counts, .. } => counts.iter().sum::<u64>() as f64,
        }
    }
}

/// Refuses NaN and infinities for argument `arg`.
///
/// # Errors
/// [`Error::InvalidValue`] naming `arg` and the value.
pub fn check_finite(arg: &'static str, v: f64) -> Result<f64> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(Error::InvalidValue { arg, value: format_f64(v), reason: "must be a finite number" })
    }
}

/// `NaN`, `Infinity`, `-Infinity` or the shortest round-trip form, for messages.
pub fn format_f64(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
    } else {
        ryu::Buffer::new().format_finite(v).to_owned()
    }
}

/// Adds `v` to an f64 stored as bits; lock-free CAS loop. Returns the new value.
#[inline]
pub(crate) fn add_f64(cell: &AtomicU64, v: f64) -> f64 {
    let mut cur = cell.load(Relaxed);
    loop {
        let new = f64::from_bits(cur) + v;
        match cell.compare_exchange_weak(cur, new.to_bits(), Relaxed, Relaxed) {
            Ok(_) => return new,
            Err(actual) => cur = actual,
        }
    }
}

/// Nanoseconds since the Unix epoch (0 if the clock is before it).
pub fn unix_ns() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finite_check_names_argument() {
        assert_eq!(check_finite("by", 1.5).unwrap(), 1.5);
        assert_eq!(check_finite("value", f64::NAN).unwrap_err().to_string(), "invalid value: NaN (must be a finite number)");
        assert!(check_finite("by", f64::INFINITY).unwrap_err().to_string().contains("Infinity"));
    }

    #[test]
    fn add_f64_accumulates() {
        let cell = AtomicU64::new(0f64.to_bits());
        add_f64(&cell, 0.25);
        assert_eq!(add_f64(&cell, 0.5), 0.75);
    }
}
