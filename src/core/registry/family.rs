//! A metric: its description and its series, with the series limit, removal and relocation.

use super::defaults::{default_expires_after, default_max_series};
use super::expiry::now_ms;
use super::{Outcome, Series, SeriesKind, Update, EXPIRED, LIVE, REMOVED};
use crate::core::desc::{FamilyDesc, GaugeMode};
use crate::core::error::{Error, Result};
use crate::core::exemplar::{Exemplar, Exemplars};
use crate::core::labels::{self, LabelNames};
use crate::core::metric::{counter, gauge, MetricKind, Sample};
use crate::core::store::{FamilySlot, LocalStore, Store};
use dashmap::DashMap;
use parking_lot::RwLock;
use std::sync::atomic::{
    AtomicU64, AtomicU8, AtomicUsize,
    Ordering::{AcqRel, Acquire, Relaxed, Release, SeqCst},
};
use std::sync::{Arc, Weak};
use std::time::SystemTime;

pub(super) type SeriesMap = DashMap<Box<[u8]>, Arc<Series>, ahash::RandomState>;

/// A metric: description plus its series.
#[derive(Debug)]
pub struct Family {
    pub(super) desc: FamilyDesc,
    pub(super) series: SeriesMap,
    pub(super) store: RwLock<Arc<dyn Store>>,
    /// The store's view of the family, and its count of updates dropped because it was full.
    pub(super) slot: FamilySlot,
    /// Series in creation order, for the exposition: walked without sorting or visiting the
    /// map's shards. Removed series are marked and dropped from it in batches.
    pub(super) order: RwLock<Vec<Arc<Series>>>,
    /// Removed series still in `order`.
    pub(super) tombstones: AtomicUsize,
    /// Open [`Walk`]s, which read `order` by position: it is not compacted while there are any.
    pub(super) walks: AtomicUsize,
    /// Series held, counted apart from the map so the limit holds under racing creators.
    pub(super) count: AtomicUsize,
    pub(super) limit: usize,
    pub(super) expires_after_ms: Option<u64>,
    pub(super) me: Weak<Family>,
}

/// A family's series in creation order, as many as there were when the walk began (see
/// [`Family::walk`]). It reads the order list by position, a batch at a time, so it costs no
/// memory per series; while it lives, the list is only appended to (removed series are dropped
/// from it once no walk is open), so positions stay put.
pub struct Walk {
    family: Arc<Family>,
    at: usize,
    end: usize,
    batch: Vec<*const Series>,
}

// SAFETY: the pointers are to `Series` (Sync), which the family's order list keeps alive while
// the walk is open; nothing about them is tied to the thread that began the walk.
unsafe impl Send for Walk {}

impl Walk {
    /// Calls `f` with up to `max` more series (removed ones skipped); false when the walk is over.
    /// The order list is locked only to copy the batch's pointers, never while `f` runs.
    pub fn step(&mut self, max: usize, mut f: impl FnMut(&Series)) -> bool {
        self.at = self.family.walk_step(&mut self.batch, self.at, self.end, max, &mut f);
        self.at < self.end
    }

    /// The family walked.
    pub fn family(&self) -> &Family {
        &self.family
    }
}

impl Drop for Walk {
    fn drop(&mut self) {
        self.family.close_walk();
    }
}

/// A walk `visit_series` has open, closed however it ends (a panicking visitor included).
struct OpenWalk<'a> {
    family: &'a Family,
    end: usize,
}

impl<'a> OpenWalk<'a> {
    fn new(family: &'a Family) -> Self {
        OpenWalk { family, end: family.open_walk() }
    }
}

impl Drop for OpenWalk<'_> {
    fn drop(&mut self) {
        self.family.close_walk();
    }
}

/// Series whose pointers a walk copies at a time, to call its visitor without the list's lock.
const WALK_BATCH: usize = 1024;

/// Series per map shard at the family's limit. A shard grows by rehashing all its entries while
/// the creating thread holds Ruby's GVL, so this bounds that pause (a few thousand entries take
/// well under a millisecond; the default 8 shards of a 5,000,000-series family took 28 ms).
const SERIES_PER_SHARD: usize = 4096;

/// Shards for a family of at most `limit` series: DashMap's default (4 per core) or enough to
/// keep each under [`SERIES_PER_SHARD`], up to 4096 (512 KiB of empty shards).
fn shards_for(limit: usize) -> usize {
    let default = (std::thread::available_parallelism().map_or(1, usize::from) * 4).next_power_of_two();
    (limit / SERIES_PER_SHARD).next_power_of_two().clamp(default.max(2), 4096)
}

impl Family {
    pub(super) fn new(desc: FamilyDesc, store: Arc<dyn Store>) -> Result<Arc<Self>> {
        let limit = desc.max_series.unwrap_or_else(default_max_series);
        let expires_after_ms = desc.expires_after.or_else(default_expires_after).map(|s| (s * 1000.0).ceil() as u64);
        let slot = store.family(&desc)?;
        Ok(Arc::new_cyclic(|me| Family {
            me: me.clone(),
            desc,
            series: DashMap::with_capacity_and_hasher_and_shard_amount(0, ahash::RandomState::new(), shards_for(limit)),
            store: RwLock::new(store),
            slot,
            order: RwLock::new(Vec::new()),
            tombstones: AtomicUsize::new(0),
            walks: AtomicUsize::new(0),
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
    pub(super) fn dropping(&self, result: Result<()>) -> Result<Outcome> {
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
            (MetricKind::Histogram, Some(b)) => b.decode(&b.init()),
            _ => Sample::Gauge(0.0),
        })
    }

    /// Checks a key against the family's label schema; returns its rendered label pairs.
    pub(super) fn validate_key(&self, key: &[u8]) -> Result<String> {
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
    pub(super) fn create(&self, key: &[u8]) -> Result<Arc<Series>> {
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
    pub(super) fn initial(&self) -> Result<(SeriesKind, Vec<u64>)> {
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
            let init = match (&self.desc.buckets, keep) {
                (_, false) => zero.clone(),
                (Some(b), true) => {
                    // The native block copied as one layout, without the writers in flight here.
                    let (c, mut copy) = (cells.as_slice(), Vec::new());
                    b.copy(c.len(), |i| c[i].load(std::sync::atomic::Ordering::Relaxed), &mut copy);
                    b.settle(&mut copy);
                    copy
                }
                (None, true) => cells.values(),
            };
            cells.relocate(store.allocate(&self.slot, entry.key(), &init)?);
        }
        *current = store;
        Ok(())
    }

    /// Tells the store the family and its series are gone.
    pub(super) fn retire(&self) {
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

    /// Calls `f` with every series in creation order, without cloning handles. The order list
    /// is locked only to copy a batch of pointers, never while `f` runs: a render that takes
    /// 30 ms over 200,000 series never makes a thread creating a series wait for it (that thread
    /// would wait holding Ruby's GVL, stalling every Ruby thread).
    pub fn visit_series(&self, mut f: impl FnMut(&Series)) {
        self.tidy_order();
        let open = OpenWalk::new(self);
        let mut batch = Vec::with_capacity(WALK_BATCH);
        let mut at = 0;
        while at < open.end {
            at = self.walk_step(&mut batch, at, open.end, WALK_BATCH, &mut f);
        }
    }

    /// A walk over the series in creation order that can stop and resume, holding no lock
    /// between steps (for a streamed exposition).
    pub fn walk(self: &Arc<Self>) -> Walk {
        self.tidy_order();
        let end = self.open_walk();
        Walk { family: Arc::clone(self), at: 0, end, batch: Vec::new() }
    }

    /// Counts a walk open and returns how many series it covers. Counted before the length is
    /// read: a `compact_order` that saw no walk has finished (it looks under the write lock),
    /// one that comes later leaves the list alone.
    fn open_walk(&self) -> usize {
        self.walks.fetch_add(1, SeqCst);
        self.order.read().len()
    }

    fn close_walk(&self) {
        if self.walks.fetch_sub(1, SeqCst) == 1 {
            self.tidy_order();
        }
    }

    /// Calls `f` with the listed series at positions `at..end` (at most `max`, removed ones
    /// skipped); returns the next position. Locks the list only to copy their pointers.
    fn walk_step(&self, batch: &mut Vec<*const Series>, at: usize, end: usize, max: usize, f: &mut impl FnMut(&Series)) -> usize {
        let end = (at + max).min(end);
        batch.extend(self.order.read().get(at..end).unwrap_or_default().iter().map(Arc::as_ptr));
        for &series in batch.iter() {
            // SAFETY: a walk is open (the caller's), so `compact_order` leaves `order` alone and
            // every series listed in it stays listed, and alive.
            let series = unsafe { &*series };
            if !series.is_removed() {
                f(series);
            }
        }
        batch.clear();
        end
    }

    /// Drops removed series from the creation-order list once they are half of it: so the list
    /// (and the series it holds) stays in proportion to the live series whether or not anything
    /// renders in-process (a multi-process scrape reads files, not this list).
    pub(super) fn tidy_order(&self) {
        if self.tombstones.load(Relaxed) > 64 && self.tombstones.load(Relaxed) * 2 > self.order.read().len() {
            self.compact_order();
        }
    }

    /// Drops removed series from the creation-order list, unless a walk is reading it by
    /// position (then the last walk to end does).
    pub(super) fn compact_order(&self) {
        let mut order = self.order.write();
        if self.walks.load(SeqCst) > 0 {
            return;
        }
        let before = order.len();
        let mut gone = Vec::new();
        order.retain(|s| {
            let keep = !s.is_removed();
            if !keep {
                s.listed.store(false, Relaxed);
                gone.push(Arc::clone(s));
            }
            keep
        });
        self.tombstones.fetch_sub(before - order.len(), Relaxed);
        drop(order);
        drop(gone); // the series' own teardown (recycling a file record) outside the list's lock
    }

    /// Puts an expired series back (its handle was written to): into the map when no new series
    /// took its key meanwhile (then that handle's updates stay its own), the store exporting it
    /// again, the order list holding it once.
    pub(super) fn relist(&self, series: Arc<Series>) {
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
    pub(super) fn forget(&self, store: &Arc<dyn Store>, series: &Series, state: u8) {
        store.retire(&series.cells);
        self.unlist(series, state);
    }

    /// A series leaves the family's books (its cells stay with the store).
    pub(super) fn unlist(&self, series: &Series, state: u8) {
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
                self.tidy_order();
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
