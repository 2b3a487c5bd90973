//! One labelled time series: its key, rendered labels, cells, exemplars and lifecycle state.

use super::{Family, Number, Update};
use crate::core::cells::Cells;
use crate::core::error::{Error, Result};
use crate::core::exemplar::{Exemplar, Exemplars};
use crate::core::labels::KEY_SEPARATOR;
use crate::core::metric::{counter, gauge, Buckets, Sample};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use std::time::SystemTime;

/// What a series needs to update itself.
#[derive(Debug, Clone)]
pub(super) enum SeriesKind {
    Counter,
    Gauge,
    Histogram(Buckets),
}

/// One labelled time series: its key, its rendered label pairs and its cells.
#[derive(Debug)]
pub struct Series {
    pub(super) key: Box<[u8]>,
    pub(super) rendered: Arc<str>,
    pub(super) created: SystemTime,
    pub(super) kind: SeriesKind,
    pub(super) cells: Cells,
    pub(super) exemplars: Exemplars,
    /// Milliseconds since [`clock_origin`] of the last update, kept only for expiring families.
    pub(super) touched: Option<AtomicU64>,
    /// [`LIVE`], [`REMOVED`] (taken out of its family by `remove` or `clear`) or [`EXPIRED`]
    /// (taken out for want of updates: the next update through a held handle brings it back).
    pub(super) state: AtomicU8,
    /// Still in the family's creation-order list (a taken-out series stays there until the list
    /// is compacted).
    pub(super) listed: std::sync::atomic::AtomicBool,
    /// For an expired series to find its way back.
    pub(super) family: Weak<Family>,
    pub(super) me: Weak<Series>,
}

/// A series in its family.
pub(super) const LIVE: u8 = 0;
/// A series `remove` or `clear` took out: held handles keep working, unexported.
pub(super) const REMOVED: u8 = 1;
/// A series expiry took out: an update through a held handle puts it back.
pub(super) const EXPIRED: u8 = 2;

impl Series {
    /// Applies an update.
    ///
    /// # Errors
    /// As [`Update::check`].
    #[inline]
    pub fn apply(&self, update: Update) -> Result<()> {
        match update {
            Update::Increment(n) => self.increment(n),
            Update::Decrement(v) => self.decrement(v).map(drop),
            Update::Set(v) => self.set(v).map(drop),
            Update::Observe(v) => self.observe(v).map(drop),
        }
    }

    /// Adds `by`: counters refuse negatives, gauges add, histograms refuse.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for NaN, infinities, negative counter increments.
    #[inline]
    pub fn increment(&self, by: Number) -> Result<()> {
        self.touch();
        match (&self.kind, by) {
            (SeriesKind::Counter, Number::Int(n)) if n >= 0 => {
                counter::inc_int(&self.cells, n as u64);
                Ok(())
            }
            (SeriesKind::Counter, Number::Int(n)) => {
                Err(Error::InvalidValue { arg: "by", value: n.to_string(), reason: "counters can only increase" })
            }
            (SeriesKind::Counter, Number::Float(f)) => counter::inc_float(&self.cells, f),
            (SeriesKind::Gauge, n) => gauge::add(&self.cells, n.as_f64()).map(drop),
            (SeriesKind::Histogram(_), _) => Err(Error::argument("histograms take observe, not increment")),
        }
    }

    /// Subtracts `by` from a gauge.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for NaN and infinities; an error for other kinds.
    #[inline]
    pub fn decrement(&self, by: f64) -> Result<f64> {
        self.touch();
        match self.kind {
            SeriesKind::Gauge => gauge::add(&self.cells, -crate::core::metric::check_finite("by", by)?),
            _ => Err(Error::argument("only gauges can be decremented")),
        }
    }

    /// Sets a gauge.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for NaN and infinities; an error for other kinds.
    #[inline]
    pub fn set(&self, v: f64) -> Result<f64> {
        self.touch();
        match self.kind {
            SeriesKind::Gauge => gauge::set(&self.cells, v),
            _ => Err(Error::argument("only gauges can be set")),
        }
    }

    /// Records an observation in a histogram.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for NaN and infinities; an error for other kinds.
    #[inline]
    pub fn observe(&self, v: f64) -> Result<f64> {
        self.touch();
        match &self.kind {
            SeriesKind::Histogram(b) => b.observe(&self.cells, v),
            _ => Err(Error::argument("only histograms can observe")),
        }
    }

    /// Current value.
    pub fn read(&self) -> Sample {
        match &self.kind {
            SeriesKind::Counter => counter::read(&self.cells),
            SeriesKind::Gauge => gauge::read(&self.cells),
            SeriesKind::Histogram(b) => b.read(&self.cells),
        }
    }

    /// Keeps `exemplar` as the latest for what `update` touched: the counter, or the bucket the
    /// observation fell in. Gauges have none (OpenMetrics has no gauge exemplars).
    pub fn store_exemplar(&self, update: Update, exemplar: Exemplar) {
        match (&self.kind, update) {
            (SeriesKind::Counter, Update::Increment(_)) => self.exemplars.store(1, 0, exemplar),
            (SeriesKind::Histogram(b), Update::Observe(v)) => self.exemplars.store(b.bounds().len() + 1, b.index(v), exemplar),
            _ => {}
        }
    }

    /// The latest exemplars (one per counter or per bucket); empty when none was recorded.
    pub fn exemplars(&self) -> Vec<Option<Arc<Exemplar>>> {
        self.exemplars.load()
    }

    /// Back to the initial state (zero; empty histogram).
    pub fn reset(&self) {
        self.exemplars.clear();
        match &self.kind {
            SeriesKind::Counter => counter::reset(&self.cells),
            SeriesKind::Gauge => drop(gauge::set(&self.cells, 0.0)),
            SeriesKind::Histogram(b) => b.reset(&self.cells),
        }
    }

    /// Label values in declared order.
    pub fn label_values(&self) -> Vec<&str> {
        if self.key.is_empty() {
            return Vec::new();
        }
        let body = &self.key[..self.key.len() - 1];
        // Keys are validated UTF-8 per value when the series is created.
        body.split(|b| *b == KEY_SEPARATOR).map(|v| std::str::from_utf8(v).unwrap_or_default()).collect()
    }

    /// `a="x",b="y"`, rendered and escaped once at creation.
    pub fn rendered_labels(&self) -> &Arc<str> {
        &self.rendered
    }

    /// When the series was created.
    pub fn created(&self) -> SystemTime {
        self.created
    }

    /// The raw key.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// Whether the series was taken out of its family (removed, cleared or expired).
    #[inline]
    pub fn is_removed(&self) -> bool {
        self.state.load(Relaxed) != LIVE
    }
}
