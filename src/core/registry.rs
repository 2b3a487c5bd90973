//! Families and series. A [`Registry`] maps names to [`Family`]s; a family maps series keys (label
//! values) to [`Series`], each owning cells from the registry's [`Store`]. A hit on an existing
//! series is one sharded map read with a fast hash of the key bytes; creating a series (the cold
//! path) validates the label values, renders its label pairs once and allocates its cells.
//! This module knows nothing of Ruby or of output formats.

pub use crate::core::desc::{FamilyDesc, GaugeMode};
use crate::core::error::{Error, Result};
use crate::core::exemplar::{Exemplar, Exemplars};
use crate::core::labels::{self, LabelNames, KEY_SEPARATOR};
use crate::core::metric::{counter, gauge, Buckets, MetricKind, Sample};
use crate::core::store::{Cells, FamilySlot, LocalStore, Store};
use dashmap::DashMap;
use parking_lot::RwLock;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{
    AtomicU64, AtomicU8, AtomicUsize,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};
use std::sync::{Arc, Weak};
use std::time::SystemTime;

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

/// What a series needs to update itself.
#[derive(Debug, Clone)]
enum SeriesKind {
    Counter,
    Gauge,
    Histogram(Buckets),
}

/// One labelled time series: its key, its rendered label pairs and its cells.
#[derive(Debug)]
pub struct Series {
    key: Box<[u8]>,
    rendered: Arc<str>,
    created: SystemTime,
    kind: SeriesKind,
    cells: Cells,
    exemplars: Exemplars,
    /// Milliseconds since [`clock_origin`] of the last update, kept only for expiring families.
    touched: Option<AtomicU64>,
    /// [`LIVE`], [`REMOVED`] (taken out of its family by `remove` or `clear`) or [`EXPIRED`]
    /// (taken out for want of updates: the next update through a held handle brings it back).
    state: AtomicU8,
    /// Still in the family's creation-order list (a taken-out series stays there until the list
    /// is compacted).
    listed: std::sync::atomic::AtomicBool,
    /// For an expired series to find its way back.
    family: Weak<Family>,
    me: Weak<Series>,
}

/// A series in its family.
const LIVE: u8 = 0;
/// A series `remove` or `clear` took out: held handles keep working, unexported.
const REMOVED: u8 = 1;
/// A series expiry took out: an update through a held handle puts it back.
const EXPIRED: u8 = 2;

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

static CLOCK_ORIGIN: once_cell::sync::Lazy<std::time::Instant> = once_cell::sync::Lazy::new(std::time::Instant::now);

/// Monotonic milliseconds since the first use, for expiry.
#[inline]
fn now_ms() -> u64 {
    CLOCK_ORIGIN.elapsed().as_millis() as u64
}

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

    /// Only expiring families keep a time; an update through a handle of a series that expired
    /// meanwhile puts it back in its family, so held handles never write into the void.
    #[inline]
    fn touch(&self) {
        if let Some(t) = &self.touched {
            t.store(now_ms(), Relaxed);
            if self.state.load(Acquire) == EXPIRED {
                self.revive();
            }
        }
    }

    #[cold]
    fn revive(&self) {
        if let (Some(family), Some(me)) = (self.family.upgrade(), self.me.upgrade()) {
            family.relist(me);
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

type SeriesMap = DashMap<Box<[u8]>, Arc<Series>, ahash::RandomState>;

/// A metric: description plus its series.
#[derive(Debug)]
pub struct Family {
    desc: FamilyDesc,
    series: SeriesMap,
    store: RwLock<Arc<dyn Store>>,
    /// The store's view of the family, and its count of updates dropped because it was full.
    slot: FamilySlot,
    /// Series in creation order, for the exposition: walked without sorting or visiting the
    /// map's shards. Removed series are marked and dropped from it in batches.
    order: RwLock<Vec<Arc<Series>>>,
    /// Removed series still in `order`.
    tombstones: AtomicUsize,
    /// Series held, counted apart from the map so the limit holds under racing creators.
    count: AtomicUsize,
    limit: usize,
    expires_after_ms: Option<u64>,
    me: Weak<Family>,
}

impl Family {
    fn new(desc: FamilyDesc, store: Arc<dyn Store>) -> Result<Arc<Self>> {
        let limit = desc.max_series.unwrap_or_else(default_max_series);
        let expires_after_ms = desc.expires_after.or_else(default_expires_after).map(|s| (s * 1000.0).ceil() as u64);
        let slot = store.family(&desc)?;
        Ok(Arc::new_cyclic(|me| Family {
            me: me.clone(),
            desc,
            series: DashMap::with_hasher(ahash::RandomState::new()),
            store: RwLock::new(store),
            slot,
            order: RwLock::new(Vec::new()),
            tombstones: AtomicUsize::new(0),
            count: AtomicUsize::new(0),
            limit,
            expires_after_ms,
        }))
    }

    /// The most series this family holds.
    pub fn max_series(&self) -> usize {
        self.limit
    }

    /// Updates dropped because the family was full.
    pub fn dropped(&self) -> u64 {
        self.slot.dropped.as_slice()[0].load(Relaxed)
    }

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
        removed
    }

    /// The family's description.
    pub fn desc(&self) -> &FamilyDesc {
        &self.desc
    }

    /// Runs `f` on the series for `key`, creating it first if needed. A hit neither allocates
    /// nor clones.
    ///
    /// # Errors
    /// Label problems when the series has to be created; whatever `f` returns.
    #[inline]
    pub fn with_series<R>(&self, key: &[u8], f: impl FnOnce(&Series) -> Result<R>) -> Result<R> {
        if let Some(series) = self.series.get(key) {
            return f(&series);
        }
        let series = self.create(key)?;
        f(&series)
    }

    /// Validates `update`, then applies it to the series for `key` (created if needed). A refused
    /// update creates nothing.
    ///
    /// # Errors
    /// As [`Update::check`], and label problems when the series has to be created.
    #[inline]
    pub fn update(&self, key: &[u8], update: Update) -> Result<Outcome> {
        let update = update.check(self.desc.kind)?;
        self.dropping(self.with_series(key, |s| s.apply(update)))
    }

    /// Turns a full family's refusal into a counted drop.
    #[inline]
    fn dropping(&self, result: Result<()>) -> Result<Outcome> {
        match result {
            Ok(()) => Ok(Outcome::Applied),
            Err(Error::Cardinality { .. }) => Ok(Outcome::Dropped { first: self.slot.dropped.as_slice()[0].fetch_add(1, Relaxed) == 0 }),
            Err(e) => Err(e),
        }
    }

    /// [`Family::update`] that also keeps an exemplar for the update.
    ///
    /// # Errors
    /// As [`Family::update`]; exemplars on gauges are refused.
    pub fn update_with_exemplar(&self, key: &[u8], update: Update, exemplar: Exemplar) -> Result<Outcome> {
        if self.desc.kind == MetricKind::Gauge {
            return Err(Error::argument("gauges take no exemplars"));
        }
        let update = update.check(self.desc.kind)?;
        self.dropping(self.with_series(key, |s| {
            s.apply(update)?;
            s.store_exemplar(update, exemplar);
            Ok(())
        }))
    }

    /// The series for `key`, created if needed (a handle callers can keep).
    ///
    /// # Errors
    /// Label problems when the series has to be created.
    pub fn series(&self, key: &[u8]) -> Result<Arc<Series>> {
        if let Some(series) = self.series.get(key) {
            return Ok(Arc::clone(&series));
        }
        self.create(key)
    }

    /// The value for `key` without creating the series: zero when it does not exist yet.
    ///
    /// # Errors
    /// Label problems with `key`.
    pub fn read(&self, key: &[u8]) -> Result<Sample> {
        if let Some(series) = self.series.get(key) {
            return Ok(series.read());
        }
        self.validate_key(key)?;
        Ok(match (&self.desc.kind, &self.desc.buckets) {
            (MetricKind::Counter, _) => Sample::Counter { int: 0, float: None },
            (MetricKind::Histogram, Some(b)) => Sample::Histogram { counts: vec![0; b.bounds().len() + 1], sum: 0.0 },
            _ => Sample::Gauge(0.0),
        })
    }

    /// Checks a key against the family's label schema; returns its rendered label pairs.
    fn validate_key(&self, key: &[u8]) -> Result<String> {
        if self.desc.dynamic {
            Ok(labels::render_named_pairs(labels::decode_pairs(key)?))
        } else {
            let values = labels::decode_key(&self.desc.name, &self.desc.labels, key)?;
            Ok(labels::render_pairs(&self.desc.labels, &values))
        }
    }

    /// The series for `key` if it exists.
    pub fn find(&self, key: &[u8]) -> Option<Arc<Series>> {
        self.series.get(key).map(|s| Arc::clone(&s))
    }

    #[cold]
    fn create(&self, key: &[u8]) -> Result<Arc<Series>> {
        let rendered: Arc<str> = self.validate_key(key)?.into();
        // Taken before the map's shard lock, in the same order as `relocate`.
        let store = self.store.read();
        let entry = self.series.entry(key.into()).or_try_insert_with(|| {
            // Reserve a slot first: the limit then holds however many threads create at once.
            if self.count.fetch_add(1, Relaxed) >= self.limit {
                self.count.fetch_sub(1, Relaxed);
                return Err(Error::Cardinality { metric: self.desc.name.clone(), limit: self.limit });
            }
            let (kind, init) = self.initial()?;
            let cells = store.allocate(&self.slot, key, &init).inspect_err(|_| {
                self.count.fetch_sub(1, Relaxed);
            })?;
            let series = Arc::new_cyclic(|me| Series {
                key: key.into(),
                rendered,
                created: SystemTime::now(),
                kind,
                cells,
                exemplars: Exemplars::default(),
                touched: self.expires_after_ms.map(|_| AtomicU64::new(now_ms())),
                state: AtomicU8::new(LIVE),
                listed: std::sync::atomic::AtomicBool::new(true),
                family: self.me.clone(),
                me: me.clone(),
            });
            self.order.write().push(Arc::clone(&series));
            Ok(series)
        })?;
        Ok(Arc::clone(&entry))
    }

    /// A new series' kind and initial cell values.
    fn initial(&self) -> Result<(SeriesKind, Vec<u64>)> {
        Ok(match (&self.desc.kind, &self.desc.buckets) {
            (MetricKind::Counter, _) => (SeriesKind::Counter, counter::INIT.to_vec()),
            (MetricKind::Gauge, _) if self.desc.aggregation == GaugeMode::MostRecent => (SeriesKind::Gauge, gauge::INIT_STAMPED.to_vec()),
            (MetricKind::Gauge, _) => (SeriesKind::Gauge, gauge::INIT.to_vec()),
            (MetricKind::Histogram, Some(b)) => (SeriesKind::Histogram(b.clone()), b.init()),
            (MetricKind::Histogram, None) => return Err(Error::argument("histogram without buckets")),
        })
    }

    /// Moves the family and every series to `store`. Values move with them, except in a forked
    /// child (`fork`), where counters, histograms and summed gauges start from zero because the
    /// parent's copy still counts them. Writers racing with the move may be lost: call it only
    /// when no other thread writes.
    ///
    /// # Errors
    /// Store errors; the family may then be partly moved (each series stays usable).
    pub fn relocate(&self, store: Arc<dyn Store>, fork: bool) -> Result<()> {
        let mut current = self.store.write();
        self.slot.relocate(store.family(&self.desc)?, !fork);
        let (_, zero) = self.initial()?;
        let keep = !fork || (self.desc.kind == MetricKind::Gauge && self.desc.aggregation.inherits_on_fork());
        for entry in self.series.iter() {
            let cells = &entry.value().cells;
            let init = if keep { cells.values() } else { zero.clone() };
            cells.relocate(store.allocate(&self.slot, entry.key(), &init)?);
        }
        *current = store;
        Ok(())
    }

    /// Tells the store the family and its series are gone.
    fn retire(&self) {
        let store = self.store.read();
        for entry in self.series.iter() {
            store.retire(&entry.value().cells);
        }
        store.retire_family(&self.slot);
    }

    /// A series' labels as `(name, value)` pairs, whatever the family's label schema.
    pub fn label_pairs<'a>(&'a self, series: &'a Series) -> Vec<(&'a str, &'a str)> {
        if self.desc.dynamic {
            labels::decode_pairs(&series.key).unwrap_or_default()
        } else {
            self.desc.labels.iter().zip(series.label_values()).collect()
        }
    }

    /// A series outside any registry (Tasker's stand-alone metric objects): same rules, never
    /// exported.
    ///
    /// # Errors
    /// Store errors only.
    pub fn detached(desc: FamilyDesc) -> Result<(Arc<Family>, Arc<Series>)> {
        let family = Family::new(FamilyDesc { dynamic: true, labels: LabelNames::default(), ..desc }, Arc::new(LocalStore))?;
        let series = family.series(b"")?;
        Ok((family, series))
    }

    /// Calls `f` with every series in creation order, without cloning handles (under the
    /// order list's read lock: `f` must be quick and must not create series).
    pub fn visit_series(&self, mut f: impl FnMut(&Series)) {
        if self.tombstones.load(Relaxed) > 64 && self.tombstones.load(Relaxed) * 2 > self.order.read().len() {
            self.compact_order();
        }
        for series in self.order.read().iter() {
            if !series.is_removed() {
                f(series);
            }
        }
    }

    /// Drops removed series from the creation-order list.
    fn compact_order(&self) {
        let mut order = self.order.write();
        let before = order.len();
        order.retain(|s| {
            let keep = !s.is_removed();
            if !keep {
                s.listed.store(false, Relaxed);
            }
            keep
        });
        self.tombstones.fetch_sub(before - order.len(), Relaxed);
    }

    /// Puts an expired series back (its handle was written to): into the map when no new series
    /// took its key meanwhile (then that handle's updates stay its own), the store exporting it
    /// again, the order list holding it once.
    fn relist(&self, series: Arc<Series>) {
        let store = self.store.read();
        let mut order = self.order.write();
        if let dashmap::mapref::entry::Entry::Vacant(slot) = self.series.entry(series.key.clone()) {
            if series.state.compare_exchange(EXPIRED, LIVE, AcqRel, Acquire).is_ok() {
                store.revive(&series.cells);
                self.count.fetch_add(1, Relaxed);
                if series.listed.swap(true, Relaxed) {
                    self.tombstones.fetch_sub(1, Relaxed);
                } else {
                    order.push(Arc::clone(&series));
                }
                slot.insert(series);
            }
        }
    }

    /// A series leaves the family (`state`: why): the store stops exporting it, the order list
    /// skips it.
    fn forget(&self, store: &Arc<dyn Store>, series: &Series, state: u8) {
        store.retire(&series.cells);
        self.unlist(series, state);
    }

    /// A series leaves the family's books (its cells stay with the store).
    fn unlist(&self, series: &Series, state: u8) {
        series.state.store(state, Release);
        self.tombstones.fetch_add(1, Relaxed);
        self.count.fetch_sub(1, Relaxed);
    }

    /// All series in creation order.
    pub fn all_series(&self) -> Vec<Arc<Series>> {
        self.order.read().iter().filter(|s| !s.is_removed()).cloned().collect()
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// True when no series exists yet.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Removes the series for `key`; returns whether it existed. Handles held elsewhere keep
    /// working but are no longer exported.
    pub fn remove(&self, key: &[u8]) -> bool {
        match self.series.remove(key) {
            Some((_, series)) => {
                self.forget(&self.store.read(), &series, REMOVED);
                true
            }
            None => false,
        }
    }

    /// Removes every series; returns how many.
    pub fn clear(&self) -> usize {
        let mut n = 0;
        let store = self.store.read();
        self.series.retain(|_, s| {
            self.forget(&store, s, REMOVED);
            n += 1;
            false
        });
        self.compact_order();
        n
    }
}

#[derive(Debug, Default)]
struct Families {
    by_name: BTreeMap<Box<str>, Arc<Family>>,
    exposed: HashMap<String, Box<str>>,
}

/// A set of metric families, exported together.
#[derive(Debug)]
pub struct Registry {
    families: RwLock<Families>,
    store: RwLock<Arc<dyn Store>>,
    generation: AtomicU64,
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new(Arc::new(LocalStore))
    }
}

static GLOBAL: once_cell::sync::Lazy<Arc<Registry>> = once_cell::sync::Lazy::new(|| Arc::new(Registry::default()));

impl Registry {
    /// An empty registry whose series keep their values in `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Registry { families: RwLock::new(Families::default()), store: RwLock::new(store), generation: AtomicU64::new(0) }
    }

    /// Where new families and series keep their values.
    pub fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.store.read())
    }

    /// Moves every family to `store` (see [`Family::relocate`]); families registered later use
    /// it too. Holds the registry's lock, so registrations wait for the move.
    ///
    /// # Errors
    /// Store errors; the registry then keeps the old store for new families.
    pub fn use_store(&self, store: Arc<dyn Store>, fork: bool) -> Result<()> {
        let families = self.families.write();
        let mut current = self.store.write();
        for family in families.by_name.values() {
            family.relocate(Arc::clone(&store), fork)?;
        }
        *current = store;
        Ok(())
    }

    /// The process-wide default registry.
    pub fn global() -> &'static Arc<Registry> {
        &GLOBAL
    }

    /// Registers a family, or returns the existing one when it has the same type, labels and
    /// buckets.
    ///
    /// # Errors
    /// [`Error::AlreadyRegistered`] when the name (or a sample name it would expose) is taken by a
    /// different family.
    pub fn register(&self, desc: FamilyDesc) -> Result<Arc<Family>> {
        if let Some(existing) = self.families.read().by_name.get(desc.name.as_str()) {
            return Self::reuse(existing, &desc);
        }
        let mut families = self.families.write();
        if let Some(existing) = families.by_name.get(desc.name.as_str()) {
            return Self::reuse(existing, &desc);
        }
        let exposed = desc.exposed_names();
        if exposed.iter().any(|n| n.starts_with(RESERVED_DROPPED)) {
            return Err(Error::argument(format!("metric name {:?} is reserved for tasker_metrics' own drop counter", desc.name)));
        }
        if let Some(owner) = exposed.iter().find_map(|n| families.exposed.get(n)) {
            let other = &families.by_name[owner].desc;
            return Err(Error::AlreadyRegistered {
                name: desc.name.clone(),
                existing: format!("{} {:?} (their exposition names overlap)", other.kind.as_str(), other.name),
                requested: desc.summary(),
            });
        }
        let name: Box<str> = desc.name.as_str().into();
        let family = Family::new(desc, Arc::clone(&self.store.read()))?;
        for n in exposed {
            families.exposed.insert(n, name.clone());
        }
        if family.desc.labels.is_empty() && !family.desc.dynamic {
            // An unlabelled metric is exported (as zero) from the moment it exists.
            family.series(b"")?;
        }
        families.by_name.insert(name, Arc::clone(&family));
        Ok(family)
    }

    fn reuse(existing: &Arc<Family>, desc: &FamilyDesc) -> Result<Arc<Family>> {
        let e = &existing.desc;
        if e.kind == desc.kind
            && e.labels == desc.labels
            && e.buckets == desc.buckets
            && e.dynamic == desc.dynamic
            && e.unit == desc.unit
            && e.aggregation == desc.aggregation
        {
            Ok(Arc::clone(existing))
        } else {
            Err(Error::AlreadyRegistered { name: desc.name.clone(), existing: e.summary(), requested: desc.summary() })
        }
    }

    /// The family called `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Family>> {
        self.families.read().by_name.get(name).cloned()
    }

    /// Removes the family called `name`; returns whether it existed.
    pub fn unregister(&self, name: &str) -> bool {
        let mut families = self.families.write();
        match families.by_name.remove(name) {
            Some(family) => {
                family.retire();
                families.exposed.retain(|_, owner| &**owner != name);
                self.generation.fetch_add(1, Relaxed);
                true
            }
            None => false,
        }
    }

    /// Removes every family; returns how many.
    pub fn clear(&self) -> usize {
        let mut families = self.families.write();
        let n = families.by_name.len();
        families.by_name.values().for_each(|f| f.retire());
        *families = Families::default();
        self.generation.fetch_add(1, Relaxed);
        n
    }

    /// Changes whenever a family is removed, so callers caching families know to look again.
    pub fn generation(&self) -> u64 {
        self.generation.load(Relaxed)
    }

    /// All families, sorted by name.
    pub fn families(&self) -> Vec<Arc<Family>> {
        self.families.read().by_name.values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::labels::encode_key;

    fn counter(reg: &Registry, name: &str, labels: &[&str]) -> Result<Arc<Family>> {
        reg.register(FamilyDesc::new(name, "help", MetricKind::Counter, labels, None)?)
    }

    #[test]
    fn get_or_create_series() {
        let reg = Registry::default();
        let fam = counter(&reg, "jobs_total", &["queue", "status"]).unwrap();
        let key = encode_key(&["default", "ok"]);
        fam.with_series(&key, |s| s.increment(Number::Int(2))).unwrap();
        fam.with_series(&key, |s| s.increment(Number::Int(3))).unwrap();
        assert_eq!(fam.find(&key).unwrap().read(), Sample::Counter { int: 5, float: None });
        assert_eq!(fam.len(), 1);
        assert_eq!(fam.find(&key).unwrap().label_values(), vec!["default", "ok"]);
        assert_eq!(&**fam.find(&key).unwrap().rendered_labels(), r#"queue="default",status="ok""#);
    }

    #[test]
    fn a_full_family_drops_new_label_sets_and_counts_them() {
        let reg = Registry::default();
        let desc = FamilyDesc::new("capped_total", "c", MetricKind::Counter, &["k"], None).unwrap().with_max_series(3).unwrap();
        let fam = reg.register(desc).unwrap();
        for i in 0..3 {
            assert_eq!(fam.update(&encode_key(&[format!("v{i}")]), Update::Increment(Number::Int(1))).unwrap(), Outcome::Applied);
        }
        assert_eq!(fam.update(&encode_key(&["new"]), Update::Increment(Number::Int(1))).unwrap(), Outcome::Dropped { first: true });
        assert_eq!(fam.update(&encode_key(&["newer"]), Update::Increment(Number::Int(1))).unwrap(), Outcome::Dropped { first: false });
        assert_eq!(
            fam.update(&encode_key(&["v0"]), Update::Increment(Number::Int(1))).unwrap(),
            Outcome::Applied,
            "existing series still count"
        );
        assert!(matches!(fam.series(&encode_key(&["x"])), Err(Error::Cardinality { limit: 3, .. })));
        assert_eq!((fam.len(), fam.dropped()), (3, 2));
        assert!(fam.remove(&encode_key(&["v1"])));
        assert_eq!(fam.update(&encode_key(&["new"]), Update::Increment(Number::Int(1))).unwrap(), Outcome::Applied, "room again");
        assert!(FamilyDesc::new("z", "", MetricKind::Gauge, &[] as &[&str], None).unwrap().with_max_series(0).is_err());
    }

    #[test]
    fn the_limit_holds_under_racing_creators() {
        let reg = Registry::default();
        let fam = reg
            .register(FamilyDesc::new("race_total", "r", MetricKind::Counter, &["k"], None).unwrap().with_max_series(100).unwrap())
            .unwrap();
        std::thread::scope(|s| {
            for t in 0..8 {
                let fam = &fam;
                s.spawn(move || {
                    for i in 0..1_000 {
                        let _ = fam.update(&encode_key(&[format!("{t}-{i}")]), Update::Increment(Number::Int(1))).unwrap();
                    }
                });
            }
        });
        assert_eq!(fam.len(), 100);
        assert_eq!(fam.dropped(), 8_000 - 100);
    }

    #[test]
    fn series_expire_after_a_quiet_period() {
        let reg = Registry::default();
        let desc = FamilyDesc::new("seen", "s", MetricKind::Gauge, &["k"], None).unwrap().with_expires_after(0.05).unwrap();
        let fam = reg.register(desc).unwrap();
        assert_eq!(fam.update(&encode_key(&["old"]), Update::Set(1.0)).unwrap(), Outcome::Applied);
        let held = fam.series(&encode_key(&["held"])).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(80));
        held.set(2.0).unwrap();
        assert_eq!(fam.expire_stale(), 1);
        assert!(fam.find(&encode_key(&["old"])).is_none());
        assert!(fam.find(&encode_key(&["held"])).is_some(), "an update through a handle keeps it alive");
        assert!(FamilyDesc::new("z", "", MetricKind::Gauge, &[] as &[&str], None).unwrap().with_expires_after(f64::NAN).is_err());
    }

    #[test]
    fn an_expired_series_written_through_its_handle_comes_back_once() {
        let reg = Registry::default();
        let desc = FamilyDesc::new("jobs_total", "j", MetricKind::Counter, &["k"], None).unwrap().with_expires_after(0.001).unwrap();
        let fam = reg.register(desc).unwrap();
        let held = fam.series(&encode_key(&["held"])).unwrap();
        held.increment(Number::Int(2)).unwrap();
        let removed = fam.series(&encode_key(&["removed"])).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(10));
        assert_eq!(fam.expire_stale(), 2);
        assert!(held.is_removed() && fam.all_series().is_empty());
        held.increment(Number::Int(3)).unwrap();
        assert!(!held.is_removed(), "the write brought it back");
        assert!(Arc::ptr_eq(&fam.find(&encode_key(&["held"])).unwrap(), &held));
        assert_eq!(fam.all_series().len(), 1, "listed once");
        assert_eq!(held.read().as_f64(), 5.0, "nothing written while it was out was lost");
        // Expired again, the order list compacted meanwhile, and back again: still listed once.
        std::thread::sleep(std::time::Duration::from_millis(10));
        assert_eq!(fam.expire_stale(), 1);
        fam.compact_order();
        held.increment(Number::Int(1)).unwrap();
        assert_eq!(fam.all_series().len(), 1);
        // remove and clear are final: a held handle keeps working, unexported.
        assert!(fam.remove(&encode_key(&["held"])));
        held.increment(Number::Int(1)).unwrap();
        assert!(held.is_removed() && fam.all_series().is_empty());
        // A key a new series took meanwhile stays the new one's.
        drop(removed);
        let again = fam.series(&encode_key(&["k2"])).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(10));
        fam.expire_stale();
        let newer = fam.series(&encode_key(&["k2"])).unwrap();
        again.increment(Number::Int(1)).unwrap();
        assert!(Arc::ptr_eq(&fam.find(&encode_key(&["k2"])).unwrap(), &newer));
    }

    #[test]
    fn refused_updates_create_nothing() {
        let reg = Registry::default();
        let fam = counter(&reg, "jobs_total", &["queue"]).unwrap();
        let key = encode_key(&["a"]);
        assert!(fam.update(&key, Update::Increment(Number::Int(-1))).is_err());
        assert!(fam.update(&key, Update::Increment(Number::Float(f64::NAN))).is_err());
        assert!(fam.update(&key, Update::Set(1.0)).is_err());
        assert!(fam.is_empty());
        assert_eq!(fam.update(&key, Update::Increment(Number::Int(2))).unwrap(), Outcome::Applied);
        assert_eq!(fam.read(&key).unwrap().as_f64(), 2.0);
    }

    #[test]
    fn bad_label_sets_create_nothing() {
        let reg = Registry::default();
        let fam = counter(&reg, "jobs_total", &["queue"]).unwrap();
        assert!(fam.with_series(&encode_key(&["a", "b"]), |s| s.increment(Number::Int(1))).is_err());
        assert!(fam.with_series(b"", |s| s.increment(Number::Int(1))).is_err());
        assert!(fam.with_series(&[0xC3, KEY_SEPARATOR], |s| s.increment(Number::Int(1))).is_err());
        assert!(fam.is_empty());
    }

    #[test]
    fn re_registration_rules() {
        let reg = Registry::default();
        let a = counter(&reg, "x_total", &["a"]).unwrap();
        let b = counter(&reg, "x_total", &["a"]).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let err = counter(&reg, "x_total", &["b"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "metric \"x_total\" is already registered as a counter with \"a\", cannot register it as a counter with \"b\""
        );
        let gauge = FamilyDesc::new("x_total", "h", MetricKind::Gauge, &["a"], None).unwrap();
        assert!(reg.register(gauge).is_err());
        // `x` as a counter would expose `x_total` too.
        assert!(counter(&reg, "x", &["a"]).is_err());
        assert!(reg.unregister("x_total"));
        assert!(counter(&reg, "x", &["a"]).is_ok());
        assert!(!reg.unregister("nope"));
    }

    #[test]
    fn unlabelled_families_start_at_zero() {
        let reg = Registry::default();
        let fam = counter(&reg, "boot_total", &[]).unwrap();
        assert_eq!(fam.len(), 1);
        assert_eq!(fam.read(b"").unwrap(), Sample::Counter { int: 0, float: None });
    }

    #[test]
    fn read_does_not_create() {
        let reg = Registry::default();
        let fam = counter(&reg, "x_total", &["a"]).unwrap();
        assert_eq!(fam.read(&encode_key(&["v"])).unwrap().as_f64(), 0.0);
        assert!(fam.read(b"").is_err());
        assert!(fam.is_empty());
    }

    #[test]
    fn dynamic_families_take_any_label_set() {
        let reg = Registry::default();
        let fam = reg.register(FamilyDesc::dynamic("task_completed_total", "T", MetricKind::Counter, None).unwrap()).unwrap();
        assert!(fam.is_empty(), "no implicit unlabelled series");
        let mut a = labels::KeyBuf::new();
        labels::push_pairs(&mut a, &mut [(b"status", b"ok"), (b"handler", b"H")]).unwrap();
        assert_eq!(fam.update(a.as_bytes(), Update::Increment(Number::Int(1))).unwrap(), Outcome::Applied);
        assert_eq!(fam.update(b"", Update::Increment(Number::Int(2))).unwrap(), Outcome::Applied);
        let all = fam.all_series();
        assert_eq!(fam.label_pairs(&all[0]), vec![("handler", "H"), ("status", "ok")]);
        assert_eq!(&**all[0].rendered_labels(), r#"handler="H",status="ok""#);
        assert!(fam.update(&encode_key(&["1x", "v"]), Update::Increment(Number::Int(1))).is_err());
        let fixed = FamilyDesc::new("task_completed_total", "T", MetricKind::Counter, &["a"], None).unwrap();
        assert!(reg.register(fixed).is_err());
        let g = reg.generation();
        reg.unregister("task_completed_total");
        assert!(reg.generation() > g);
    }

    #[test]
    fn detached_series_are_not_registered() {
        let (fam, s) = Family::detached(FamilyDesc::dynamic("any", "", MetricKind::Gauge, None).unwrap()).unwrap();
        s.set(2.0).unwrap();
        assert_eq!(fam.len(), 1);
    }

    #[test]
    fn descriptions_validate() {
        assert!(FamilyDesc::new("1x", "", MetricKind::Gauge, &[] as &[&str], None).is_err());
        assert!(FamilyDesc::new("h", "", MetricKind::Histogram, &["le"], None).is_err());
        assert!(FamilyDesc::new("g", "", MetricKind::Gauge, &["le"], None).is_ok());
        let b = Buckets::new(&[1.0]).unwrap();
        assert!(FamilyDesc::new("g", "", MetricKind::Gauge, &[] as &[&str], Some(b)).is_err());
    }

    #[test]
    fn kind_specific_operations() {
        let reg = Registry::default();
        let g = reg.register(FamilyDesc::new("g", "", MetricKind::Gauge, &[] as &[&str], None).unwrap()).unwrap();
        let s = g.series(b"").unwrap();
        s.increment(Number::Int(-3)).unwrap();
        assert_eq!(s.decrement(1.5).unwrap(), -4.5);
        assert!(s.observe(1.0).is_err());
        let c = counter(&reg, "c_total", &[]).unwrap().series(b"").unwrap();
        assert_eq!(c.increment(Number::Int(-1)).unwrap_err().to_string(), "invalid by: -1 (counters can only increase)");
        assert!(c.set(1.0).is_err());
        c.increment(Number::Float(0.5)).unwrap();
        assert_eq!(c.read().as_f64(), 0.5);
    }

    #[test]
    fn exact_totals_from_many_threads_creating_and_updating() {
        let reg = Arc::new(Registry::default());
        let fam = counter(&reg, "hits_total", &["worker"]).unwrap();
        let ts: Vec<_> = (0..8)
            .map(|t| {
                let fam = Arc::clone(&fam);
                std::thread::spawn(move || {
                    for i in 0..100_000 {
                        let key = encode_key(&[format!("w{}", (t + i) % 4)]);
                        fam.with_series(&key, |s| s.increment(Number::Int(1))).unwrap();
                    }
                })
            })
            .collect();
        ts.into_iter().for_each(|t| t.join().unwrap());
        let total: f64 = fam.all_series().iter().map(|s| s.read().as_f64()).sum();
        assert_eq!(total, 800_000.0);
        assert_eq!(fam.len(), 4);
    }
}
