//! Expiry: a monotonic clock, families dropping series nobody updated, and an update through
//! a held handle bringing its expired series back.

use super::{Family, Series, EXPIRED};
use crate::core::error::{Error, Result};
use crate::core::metric::MetricKind;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed};

static CLOCK_ORIGIN: once_cell::sync::Lazy<std::time::Instant> = once_cell::sync::Lazy::new(std::time::Instant::now);

/// How far the whole process's expiry clock was moved forward ([`advance_process_clock`]).
static PROCESS_SKEW_MS: AtomicU64 = AtomicU64::new(0);

/// Monotonic milliseconds since the first use, for expiry.
#[inline]
pub(super) fn now_ms() -> u64 {
    let now = CLOCK_ORIGIN.elapsed().as_millis() as u64 + PROCESS_SKEW_MS.load(Relaxed);
    #[cfg(test)]
    let now = now + TEST_SKEW_MS.with(std::cell::Cell::get);
    now
}

/// Moves the expiry clock of the whole process forward by `seconds` (never back, so it stays
/// monotonic): an application's tests can check what expires without sleeping
/// (`TaskerMetrics::Testing`).
///
/// # Errors
/// An argument error for a negative or non-finite step; nothing moves then.
pub fn advance_process_clock(seconds: f64) -> Result<()> {
    if !seconds.is_finite() {
        return Err(Error::argument(format!("seconds must be finite, got {seconds}")));
    }
    if seconds < 0.0 {
        return Err(Error::argument(format!("seconds must not be negative, got {seconds}")));
    }
    PROCESS_SKEW_MS.fetch_add((seconds * 1000.0).ceil() as u64, Relaxed);
    Ok(())
}

#[cfg(test)]
thread_local! {
    static TEST_SKEW_MS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Moves the expiry clock forward for the calling thread only, so expiry tests neither sleep
/// nor depend on how fast the machine runs them (tests run on parallel threads).
#[cfg(test)]
pub(crate) fn advance_clock(ms: u64) {
    TEST_SKEW_MS.with(|s| s.set(s.get() + ms));
}

impl Series {
    /// Only expiring families keep a time; an update through a handle of a series that expired
    /// meanwhile puts it back in its family, so held handles never write into the void.
    #[inline]
    pub(super) fn touch(&self) {
        if let Some(t) = &self.touched {
            t.store(now_ms(), Relaxed);
            if self.state.load(Acquire) == EXPIRED {
                self.revive();
            }
        }
    }

    #[cold]
    pub(super) fn revive(&self) {
        if let (Some(family), Some(me)) = (self.family.upgrade(), self.me.upgrade()) {
            family.relist(me);
        }
    }
}

impl Family {
    /// Removes series not updated for `expires_after`; returns how many. A no-op for families
    /// that do not expire.
    ///
    /// A shared store keeps an expired counter's or histogram's cells exported: other processes
    /// may still update the same series, and dropping this process's share from the merged total
    /// would look like a counter reset. Expired gauges leave the store too.
    pub fn expire_stale(&self) -> usize {
        let Some(after) = self.expires_after_ms else { return 0 };
        let cutoff = now_ms().saturating_sub(after);
        let store = self.store.read();
        let keep_share = self.desc.kind != MetricKind::Gauge;
        let mut removed = 0;
        self.series.retain(|_, s| {
            let keep = s.touched.as_ref().is_none_or(|t| t.load(Relaxed) >= cutoff);
            if !keep {
                if keep_share {
                    self.unlist(s, EXPIRED);
                } else {
                    self.forget(&store, s, EXPIRED);
                }
                removed += 1;
            }
            keep
        });
        drop(store);
        self.tidy_order();
        removed
    }
}
