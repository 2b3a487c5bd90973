//! Merging files into one view. A [`Merger`] indexes each file once (files only grow, so a later
//! scrape walks only the records added since) and keeps, per family, one slot per exposed
//! series. A scrape then folds every file's cells into the slots — a few loads and adds per
//! series — and reads the slots out as snapshots. The same merger, run over the archive and
//! the files of exited processes, is what compaction writes back as the new archive.

use super::format::{self, Record, View};
use crate::core::desc::{FamilyDesc, GaugeMode};
use crate::core::exposition::FamilySnapshot;
use crate::core::labels::{self, LabelNames};
use crate::core::metric::sparse::NativeSample;
use crate::core::metric::{counter, MetricKind, Sample};
use std::collections::HashMap;
use std::sync::Arc;

/// What a file too large to index in the memory there is is reported as.
const OUT_OF_MEMORY: &str = "too large to index: memory ran out (the rest of the file is skipped)";

/// Stale slots the merger keeps before [`Merger::forget_stale`] starts over.
pub(super) const STALE_MIN: usize = 4096;

/// Slots by key and origin.
type SlotIndex = HashMap<(Box<[u8]>, Arc<str>), usize, ahash::RandomState>;

/// One family across files.
#[derive(Debug)]
pub(super) struct MergedFamily {
    pub desc: FamilyDesc,
    pub slots: Vec<Slot>,
    by_key: SlotIndex,
    /// The label that tells processes apart on per-process gauges.
    pid_label: &'static str,
    pub dropped: u64,
    /// Scrape in which a live family record was last seen.
    pub seen: u64,
    /// Which of the definitions of one name is exported: the lowest rank, that is a live
    /// process's before an exited one's, then the first folded (the oldest process's).
    rank: (bool, u64),
}

/// One exposed series: its key, the process it belongs to (per-process gauges only), its
/// rendered labels and this scrape's value.
#[derive(Debug)]
pub(super) struct Slot {
    pub key: Box<[u8]>,
    pub origin: Arc<str>,
    labels: Arc<str>,
    pub acc: Acc,
    /// Scrape that last folded a value in; older values are stale.
    pub gen: u64,
}

/// A slot's value being folded.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Acc {
    Counter { int: u64, float: Option<f64> },
    Histogram { counts: Vec<u64>, sum: f64, native: Option<NativeSample> },
    Gauge { value: f64, at: u64 },
}

/// What the merger remembers of one file.
#[derive(Debug, Default)]
pub(super) struct FileIndex {
    identity: Arc<str>,
    walked: usize,
    families: HashMap<usize, Option<usize>>,
    family_records: Vec<(usize, usize)>,
    series: Vec<SeriesRef>,
    /// Series records that were retired when walked (removed series): only their offsets are
    /// kept, and one is indexed if it comes back (an expired series written through a handle).
    parked: Vec<usize>,
    /// Why part of the file was not read, once found.
    pub damage: Option<String>,
}

#[derive(Debug, Clone, Copy)]
struct SeriesRef {
    off: usize,
    ncells: usize,
    family: usize,
    slot: usize,
    /// The record's incarnation when indexed: another one means the record was reused.
    incarnation: u16,
}

/// See the module.
#[derive(Debug, Default)]
pub(super) struct Merger {
    pub families: Vec<MergedFamily>,
    /// Families by name and shape: a name re-registered with another type, labels, buckets or
    /// aggregation is another family (its old records are retired, or belong to other files).
    by_shape: HashMap<String, usize>,
    /// Families folded so far in this scrape (for ranks).
    folded: u64,
    pub files: HashMap<u64, FileIndex>,
    pub gen: u64,
    /// Folding into a new archive: gauges not [kept after compaction](GaugeMode::kept_after_compaction) are left out.
    pub archiving: bool,
    /// Cells of one series, read before they are folded (see `fold`).
    scratch: Vec<u64>,
}

impl Merger {
    /// Starts a new fold: values from earlier folds become stale.
    pub fn begin(&mut self) {
        self.gen += 1;
    }

    /// Once most of what the merger remembers is gone from every file (series removed or
    /// expired, processes compacted away, names unregistered), forgets all of it: the next fold
    /// indexes the files afresh. Its memory so follows what the files hold now, not everything
    /// they ever held.
    pub fn forget_stale(&mut self) {
        let (mut stale, mut fresh) = (0usize, 0usize);
        for family in &self.families {
            if family.seen != self.gen {
                stale += 1 + family.slots.len();
                continue;
            }
            for slot in &family.slots {
                if slot.gen == self.gen {
                    fresh += 1;
                } else {
                    stale += 1;
                }
            }
        }
        if stale > STALE_MIN && stale > fresh {
            let gen = self.gen;
            *self = Merger { gen, archiving: self.archiving, ..Merger::default() };
        }
    }

    /// Forgets files not named in `keep` (deleted since the last scrape).
    pub fn retain_files(&mut self, keep: &[u64]) {
        self.files.retain(|nonce, _| keep.contains(nonce));
    }

    /// Indexes any new records of the file and folds its values in. `live` says whether the
    /// owner runs (live-only gauges of a dead process are left out); `identity` names it on
    /// per-process gauges. Returns the nonces of files the archive says it absorbed.
    pub fn fold(&mut self, nonce: u64, view: &View, identity: &str, live: bool) -> Vec<u64> {
        let mut index = self.files.remove(&nonce).unwrap_or_default();
        if &*index.identity != identity {
            // Per-process gauges are keyed by identity: a renamed process is indexed afresh.
            index = FileIndex { identity: identity.into(), ..FileIndex::default() };
        }
        let absorbed = self.index(&mut index, view, live);
        self.unpark(&mut index, view);
        let gen = self.gen;
        for &(off, fam) in &index.family_records {
            if view.u8(off + format::R_STATE) != Some(format::STATE_RETIRED) {
                let family = &mut self.families[fam];
                if family.seen != gen {
                    (family.seen, family.dropped, family.rank) = (gen, 0, (true, 0));
                }
                if family.rank.0 && (live || family.rank.1 == 0) {
                    self.folded += 1;
                    family.rank = (!live, self.folded);
                }
                family.dropped = family.dropped.wrapping_add(view.u64(off + format::F_DROPPED).unwrap_or(0));
            }
        }
        let mut reused = Vec::new();
        for (i, s) in index.series.iter().enumerate() {
            if !self.fold_series(s, view, live) {
                reused.push(i);
            }
        }
        if !reused.is_empty() {
            // Records reused for another series since they were indexed: indexed again, and
            // folded now as what they hold now.
            for i in reused.into_iter().rev() {
                let s = index.series.swap_remove(i);
                index.parked.push(s.off);
            }
            let from = index.series.len();
            self.unpark(&mut index, view);
            for s in &index.series[from..] {
                self.fold_series(s, view, live);
            }
        }
        self.files.insert(nonce, index);
        absorbed
    }

    /// Folds one series' cells into its slot, read under the record's seqlock (cells read
    /// while the record was reused belong to no one). False when the record was reused since
    /// it was indexed.
    fn fold_series(&mut self, s: &SeriesRef, view: &View, live: bool) -> bool {
        if view.u8(s.off + format::R_STATE) == Some(format::STATE_RETIRED) {
            return true;
        }
        let Some(before) = view.incarnation(s.off) else { return true };
        if before != s.incarnation {
            return false;
        }
        let family = &mut self.families[s.family];
        let mode = family.desc.aggregation;
        if family.desc.kind == MetricKind::Gauge && !live && (mode.live_only() || (self.archiving && !mode.kept_after_compaction())) {
            return true;
        }
        let read = |i: usize| view.u64(s.off + format::S_CELLS + i * 8).unwrap_or(0);
        match &family.desc.buckets {
            Some(b) if family.desc.kind == MetricKind::Histogram => b.copy(s.ncells, read, &mut self.scratch),
            _ => {
                self.scratch.clear();
                self.scratch.extend((0..s.ncells).map(read));
            }
        }
        std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
        if view.incarnation(s.off) != Some(s.incarnation) {
            return true; // reused meanwhile: the old series is gone, the new one is read next time
        }
        let slot = &mut family.slots[s.slot];
        let fresh = slot.gen != self.gen;
        slot.gen = self.gen;
        fold_cells(&mut slot.acc, fresh, &family.desc, &self.scratch);
        true
    }

    /// Walks records not yet indexed. Returns absorbed-file nonces found (archives only).
    fn index(&mut self, index: &mut FileIndex, view: &View, live: bool) -> Vec<u64> {
        // Record by record (never the whole file's records at once: memory in proportion to
        // what is indexed, not to the file's size).
        let mut absorbed = Vec::new();
        loop {
            let rec = match format::read_record(view, index.walked.max(format::HEADER_LEN)) {
                Ok(Some((rec, len))) => {
                    index.walked = index.walked.max(format::HEADER_LEN) + len;
                    rec
                }
                Ok(None) => break,
                Err(d) => {
                    // A live writer may be mid-growth beyond what we mapped; only a dead file is damaged.
                    if !live || !d.contains("bad length") {
                        index.damage.get_or_insert(d);
                    }
                    break;
                }
            };
            match rec {
                Record::Family { off, desc_bytes } => {
                    let fam = match format::decode_desc(&desc_bytes) {
                        Ok(desc) => self.family_for(desc).map_err(|e| index.damage.get_or_insert(e)).ok(),
                        Err(e) => {
                            index.damage.get_or_insert(format!("bad family record at byte {off}: {e}"));
                            None
                        }
                    };
                    index.families.insert(off, fam);
                    if let Some(f) = fam {
                        index.family_records.push((off, f));
                    }
                }
                Record::Series { off, .. } => {
                    // Parked, then indexed from the record as it is now by `unpark`, which reads
                    // it under its seqlock: the walk may have read it mid-reuse.
                    if index.series.try_reserve(1).is_err() || index.parked.try_reserve(1).is_err() {
                        index.damage.get_or_insert(OUT_OF_MEMORY.to_owned());
                        break;
                    }
                    index.parked.push(off);
                }
                Record::Absorbed { nonce } => {
                    if absorbed.try_reserve(1).is_err() {
                        index.damage.get_or_insert(OUT_OF_MEMORY.to_owned());
                        break;
                    }
                    absorbed.push(nonce);
                }
            }
        }
        absorbed
    }

    fn add_series(&mut self, index: &mut FileIndex, s: SeriesRef, key: Vec<u8>, origin: &str) -> bool {
        let Some(Some(fam)) = index.families.get(&s.family).copied() else { return false };
        let identity = if origin.is_empty() { &*index.identity } else { origin };
        match self.slot_for(fam, key, identity, s.ncells) {
            Ok(slot) => {
                index.series.push(SeriesRef { family: fam, slot, ..s });
                true
            }
            Err(e) => {
                index.damage.get_or_insert(format!("bad series record at byte {}: {e}", s.off));
                true
            }
        }
    }

    /// Indexes parked records that are live: read between two equal, even incarnations (not
    /// mid-reuse), their family known. The others stay parked for the next fold.
    fn unpark(&mut self, index: &mut FileIndex, view: &View) {
        let live = |off: usize| view.u8(off + format::R_STATE) == Some(format::STATE_LIVE);
        if !index.parked.iter().any(|&off| live(off)) {
            return;
        }
        let mut parked = std::mem::take(&mut index.parked);
        parked.retain(|&off| {
            if !live(off) {
                return true;
            }
            let Some(before) = view.incarnation(off).filter(|n| n % 2 == 0) else { return true };
            let Ok(Some((Record::Series { off, family, ncells, key, origin }, _))) = format::read_record(view, off) else {
                return true;
            };
            std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
            if view.incarnation(off) != Some(before) || index.series.try_reserve(1).is_err() {
                return true;
            }
            let s = SeriesRef { off, ncells, family, slot: 0, incarnation: before };
            !self.add_series(index, s, key, &origin)
        });
        index.parked = parked;
    }

    fn family_for(&mut self, desc: FamilyDesc) -> Result<usize, String> {
        self.families.try_reserve(1).map_err(|_| OUT_OF_MEMORY.to_owned())?;
        // Native settings are part of the shape: they decide how many cells a series has.
        let shape = format!(
            "{}\0{}\0{:?}\0{:?}\0{:?}\0{}\0{}",
            desc.name,
            desc.kind.as_str(),
            desc.labels.iter().collect::<Vec<_>>(),
            desc.buckets.as_ref().map(|b| b.bounds()),
            desc.buckets.as_ref().and_then(|b| b.native()),
            desc.dynamic,
            desc.aggregation.as_str()
        );
        if let Some(&i) = self.by_shape.get(&shape) {
            return Ok(i);
        }
        let pid_label = if desc.labels.iter().any(|l| l == "pid") { "tasker_metrics_pid" } else { "pid" };
        self.by_shape.insert(shape, self.families.len());
        self.families.push(MergedFamily {
            desc,
            slots: Vec::new(),
            by_key: HashMap::default(),
            pid_label,
            dropped: 0,
            seen: 0,
            rank: (true, 0),
        });
        Ok(self.families.len() - 1)
    }

    fn slot_for(&mut self, fam: usize, key: Vec<u8>, identity: &str, ncells: usize) -> Result<usize, String> {
        let family = &mut self.families[fam];
        let desc = &family.desc;
        let per_process = desc.kind == MetricKind::Gauge && matches!(desc.aggregation, GaugeMode::All | GaugeMode::LiveAll);
        let origin: Arc<str> = if per_process { identity.into() } else { "".into() };
        let key: Box<[u8]> = key.into();
        if let Some(&slot) = family.by_key.get(&(key.clone(), Arc::clone(&origin))) {
            return if expected_cells(desc, ncells) { Ok(slot) } else { Err(format!("{ncells} cells")) };
        }
        if !expected_cells(desc, ncells) {
            return Err(format!("{ncells} cells do not fit a {}", desc.kind.as_str()));
        }
        let mut labels = if desc.dynamic {
            labels::render_named_pairs(labels::decode_pairs(&key).map_err(|e| e.to_string())?)
        } else {
            let values = labels::decode_key(&desc.name, &desc.labels, &key).map_err(|e| e.to_string())?;
            labels::render_pairs(&desc.labels, &values)
        };
        if per_process {
            let names = LabelNames::new(&[family.pid_label], &[]).map_err(|e| e.to_string())?;
            let pid = labels::render_pairs(&names, &[&origin]);
            if !labels.is_empty() {
                labels.push(',');
            }
            labels.push_str(&pid);
        }
        let acc = match (desc.kind, &desc.buckets) {
            (MetricKind::Histogram, Some(b)) => Acc::Histogram { counts: vec![0; b.bounds().len() + 1], sum: 0.0, native: None },
            (MetricKind::Gauge, _) => Acc::Gauge { value: 0.0, at: 0 },
            _ => Acc::Counter { int: 0, float: None },
        };
        // A file decides how many slots there are: reserve fallibly, so a huge or hostile file is
        // reported as damaged instead of aborting the process on allocation failure.
        family.slots.try_reserve(1).map_err(|_| OUT_OF_MEMORY.to_owned())?;
        family.by_key.try_reserve(1).map_err(|_| OUT_OF_MEMORY.to_owned())?;
        family.slots.push(Slot { key: key.clone(), origin: Arc::clone(&origin), labels: labels.into(), acc, gen: 0 });
        family.by_key.insert((key, origin), family.slots.len() - 1);
        Ok(family.slots.len() - 1)
    }

    /// The families seen in this fold, one definition per name (see [`MergedFamily::rank`]),
    /// and a description of each definition left out because another won its name.
    fn exported(&self) -> (Vec<&MergedFamily>, Vec<String>) {
        let mut seen: Vec<&MergedFamily> = self.families.iter().filter(|f| f.seen == self.gen).collect();
        seen.sort_by(|a, b| a.desc.name.cmp(&b.desc.name).then(a.rank.cmp(&b.rank)));
        let mut out: Vec<&MergedFamily> = Vec::with_capacity(seen.len());
        let mut conflicts = Vec::new();
        for f in seen {
            match out.last() {
                Some(winner) if winner.desc.name == f.desc.name => conflicts.push(format!(
                    "metric {:?} differs from another process's definition: a {} with labels {:?} is not shown",
                    f.desc.name,
                    f.desc.kind.as_str(),
                    f.desc.labels.iter().collect::<Vec<_>>()
                )),
                _ => out.push(f),
            }
        }
        (out, conflicts)
    }

    /// What this fold exposes: the merged families sorted by name, each with the series that
    /// got a value; `(family name, dropped updates)` for those that dropped any; and the
    /// definitions left out (see [`Merger::exported`]).
    pub fn snapshots(&self) -> Merged {
        let (families, conflicts) = self.exported();
        let dropped = families.iter().filter(|f| f.dropped > 0).map(|f| (f.desc.name.clone(), f.dropped)).collect();
        let families = families
            .into_iter()
            .map(|f| {
                let mut snap = FamilySnapshot::empty(&f.desc);
                // Sized first: growing a Vec of a million series by doubling reallocates tens of
                // MB while holding the malloc arena's lock, and a thread creating a series (with
                // the GVL) waits for it.
                let (n, bytes) = f.slots.iter().filter(|s| s.gen == self.gen).fold((0, 0), |(n, b), s| (n + 1, b + s.labels.len()));
                snap.series.reserve_exact(n);
                snap.label_text.reserve_exact(bytes);
                for s in f.slots.iter().filter(|s| s.gen == self.gen) {
                    snap.push(&s.labels, s.acc.sample(), Vec::new(), 0.0);
                }
                snap
            })
            .collect();
        Merged { families, dropped, conflicts }
    }
}

/// See [`Merger::snapshots`].
pub(super) struct Merged {
    pub families: Vec<FamilySnapshot>,
    pub dropped: Vec<(String, u64)>,
    pub conflicts: Vec<String>,
}

fn expected_cells(desc: &FamilyDesc, n: usize) -> bool {
    match (desc.kind, &desc.buckets) {
        (MetricKind::Counter, _) => n == counter::INIT.len(),
        (MetricKind::Gauge, _) => n == 1 || n == 2,
        (MetricKind::Histogram, Some(b)) => n == b.cell_count(),
        (MetricKind::Histogram, None) => false,
    }
}

/// Folds one file's cells for a series (copied as `Buckets::copy` does) into its slot.
fn fold_cells(acc: &mut Acc, fresh: bool, desc: &FamilyDesc, cells: &[u64]) {
    let (mode, n, cell) = (desc.aggregation, cells.len(), |i: usize| cells[i]);
    match acc {
        Acc::Counter { int, float } => {
            if fresh {
                (*int, *float) = (0, None);
            }
            // Summing processes' exact cells past 2^64 moves what wraps into the float part.
            let (sum, wrapped) = int.overflowing_add(cell(0));
            *int = sum;
            if wrapped {
                *float = Some(float.unwrap_or(0.0) + counter::WRAP);
            }
            let f = cell(1);
            if f != counter::INIT[1] {
                *float = Some(float.unwrap_or(0.0) + f64::from_bits(f));
            }
        }
        Acc::Histogram { counts, sum, native } => {
            if fresh {
                counts.iter_mut().for_each(|c| *c = 0);
                *sum = 0.0;
                *native = None;
            }
            for (i, c) in counts.iter_mut().enumerate() {
                *c = c.wrapping_add(cell(i));
            }
            *sum += f64::from_bits(cell(counts.len()));
            if let Some(this) = desc.buckets.as_ref().and_then(|b| b.decode_native(cells)) {
                match native {
                    Some(total) => total.add(&this),
                    None => *native = Some(this),
                }
            }
        }
        Acc::Gauge { value, at } => {
            let v = f64::from_bits(cell(0));
            let t = if n > 1 { cell(1) } else { 0 };
            if fresh {
                (*value, *at) = (v, t);
                return;
            }
            match mode {
                GaugeMode::Sum | GaugeMode::LiveSum => *value += v,
                GaugeMode::Max => *value = value.max(v),
                GaugeMode::Min => *value = value.min(v),
                GaugeMode::MostRecent if t < *at => {}
                // Per-process slots meet twice only when two files share an identity: the
                // later file (folded last) wins.
                GaugeMode::MostRecent | GaugeMode::All | GaugeMode::LiveAll => (*value, *at) = (v, t),
            }
        }
    }
}

impl Acc {
    /// The slot's value as a sample.
    pub fn sample(&self) -> Sample {
        match self {
            Acc::Counter { int, float } => Sample::Counter { int: *int, float: *float },
            Acc::Histogram { counts, sum, native } => {
                Sample::Histogram { counts: counts.clone(), sum: *sum, native: native.clone().map(Box::new) }
            }
            Acc::Gauge { value, .. } => Sample::Gauge(*value),
        }
    }

    /// The slot's value as cells of `desc`'s series, for the archive.
    pub fn cells(&self, desc: &FamilyDesc) -> Vec<u64> {
        match self {
            Acc::Counter { int, float } => vec![*int, float.map_or(counter::INIT[1], f64::to_bits)],
            Acc::Histogram { counts, sum, native } => match &desc.buckets {
                Some(b) => b.encode(counts, *sum, native.as_ref()),
                None => counts.iter().copied().chain([sum.to_bits()]).collect(),
            },
            Acc::Gauge { value, at } => vec![value.to_bits(), *at],
        }
    }
}
