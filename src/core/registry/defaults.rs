//! Process-wide defaults new families take: the series limit and expiry.

use crate::core::error::{Error, Result};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
/// Name (without `_total`) of the counter the exposition adds for dropped updates; reserved.
pub const RESERVED_DROPPED: &str = "tasker_metrics_series_dropped";

/// Series limit a family gets when it names none.
pub const DEFAULT_MAX_SERIES: usize = 10_000;
static MAX_SERIES: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_SERIES);
/// Expiry, in milliseconds, a family gets when it names none; 0 is never.
static EXPIRES_AFTER_MS: AtomicU64 = AtomicU64::new(0);

/// The series limit families registered from now on get by default.
pub fn default_max_series() -> usize {
    MAX_SERIES.load(Relaxed)
}

/// Sets [`default_max_series`].
///
/// # Errors
/// An argument error for 0.
pub fn set_default_max_series(limit: usize) -> Result<()> {
    if limit == 0 {
        return Err(Error::argument("max_series must be at least 1, got 0"));
    }
    MAX_SERIES.store(limit, Relaxed);
    Ok(())
}

/// The expiry (seconds) families registered from now on get by default; `None` is never.
pub fn default_expires_after() -> Option<f64> {
    Some(EXPIRES_AFTER_MS.load(Relaxed)).filter(|ms| *ms > 0).map(|ms| ms as f64 / 1000.0)
}

/// Sets [`default_expires_after`]; `None` turns expiry off.
///
/// # Errors
/// An argument error for a value that is not finite and positive.
pub fn set_default_expires_after(seconds: Option<f64>) -> Result<()> {
    match seconds {
        None => EXPIRES_AFTER_MS.store(0, Relaxed),
        Some(s) if s.is_finite() && s > 0.0 => EXPIRES_AFTER_MS.store((s * 1000.0).ceil() as u64, Relaxed),
        Some(s) => {
            return Err(Error::argument(format!(
                "expires_after must be a positive number of seconds, got {}",
                crate::core::metric::format_f64(s)
            )))
        }
    }
    Ok(())
}
