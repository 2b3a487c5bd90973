//! Native (sparse, exponential) buckets kept in a series' fixed run of cells, so they work the
//! same in process memory and in a multi-process file.
//!
//! A series cannot grow its cells, so each side of zero gets a window of consecutive bucket
//! indexes: `max_buckets` cells shared by the positive and the negative side. An observation
//! whose bucket lies inside its window is one atomic add. One outside it takes the slow path:
//! the series is sealed, writers in flight drain, and a new layout — the windows moved or, when
//! the populated buckets no longer fit, the resolution halved (or the series reset, once
//! `min_reset_interval` has passed) — is written into the second of two buffers and published by
//! flipping one state word. The buffer in use is never rewritten in place, so a reader (another
//! process's scrape included) always finds a whole layout, even one left by a process killed
//! half-way through a resize: it copies the cells and checks the state word did not move.

mod plan;
mod sample;

pub use sample::NativeSample;

use super::native::{bucket_index, NativeConfig, SCHEMA_MAX, SCHEMA_MIN};
use plan::{plan, Plan};
use std::sync::atomic::{
    fence, AtomicU64,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};

// Cells of the native block, after the classic buckets and the sum.
const STATE: usize = 0;
const ZERO: usize = 1;
/// Unix seconds when the series started or was last reset.
const STARTED: usize = 2;
const BUFFERS: usize = 3;
// Cells of one buffer.
/// Positive side's first index (low 32 bits), negative side's (high 32 bits).
const BASES: usize = 0;
/// Cells given to the positive side; the negative side has the rest.
const SPLIT: usize = 1;
const CELLS: usize = 2;

// The state word.
/// Writers between their check of the layout and their last add.
const INFLIGHT: u64 = (1 << 24) - 1;
/// A resize is under way: writers take the slow path.
const SEALED: u64 = 1 << 24;
/// The second buffer is the one in use.
const ACTIVE: u64 = 1 << 25;
/// At the coarsest schema even the populated range did not fit: buckets beyond a window are
/// counted in its outermost cell.
const CLAMPED: u64 = 1 << 26;
const SCHEMA_SHIFT: u32 = 32;
const EPOCH_SHIFT: u32 = 40;
/// What must not change while a reader copies the cells.
const STABLE: u64 = !INFLIGHT;
static LOCKS: [parking_lot::Mutex<()>; 64] = [const { parking_lot::const_mutex(()) }; 64];

fn schema_of(state: u64) -> i8 {
    ((state >> SCHEMA_SHIFT) as u8 as i8).clamp(SCHEMA_MIN, SCHEMA_MAX)
}

impl NativeConfig {
    fn buffer_len(&self) -> usize {
        CELLS + self.max_buckets
    }

    /// Cells the native block takes.
    pub fn cells(&self) -> usize {
        BUFFERS + 2 * self.buffer_len()
    }

    /// Appends an empty native block started at `now` (Unix seconds).
    pub fn init(&self, out: &mut Vec<u64>, now: u64) {
        out.extend([u64::from(self.schema as u8) << SCHEMA_SHIFT, 0, now]);
        for _ in 0..2 {
            out.extend([0, self.max_buckets as u64]);
            out.extend(std::iter::repeat_n(0, self.max_buckets));
        }
    }

    fn buffer(&self, state: u64) -> usize {
        BUFFERS + if state & ACTIVE != 0 { self.buffer_len() } else { 0 }
    }

    /// The cell `v` is counted in under `state`, if the window holds its bucket.
    #[inline]
    fn slot<'a>(&self, block: &'a [AtomicU64], state: u64, v: f64) -> Option<&'a AtomicU64> {
        let magnitude = v.abs();
        if magnitude <= self.zero_threshold {
            return Some(&block[ZERO]);
        }
        let index = i64::from(bucket_index(magnitude, schema_of(state)));
        let buf = self.buffer(state);
        let bases = block[buf + BASES].load(Relaxed);
        let split = (block[buf + SPLIT].load(Relaxed) as usize).min(self.max_buckets);
        let (base, first, len) =
            if v > 0.0 { (bases as u32 as i32, 0, split) } else { ((bases >> 32) as u32 as i32, split, self.max_buckets - split) };
        let mut offset = index - i64::from(base);
        if state & CLAMPED != 0 && len > 0 {
            offset = offset.clamp(0, len as i64 - 1);
        }
        (offset >= 0 && (offset as usize) < len).then(|| &block[buf + CELLS + first + offset as usize])
    }

    /// Counts `v` (finite) in the native block at `cells[at..]`, running `classic` (the classic
    /// bucket and sum adds) in the same critical section so a reset or a reader sees both or
    /// neither. `key` picks the lock of the slow path (any value stable for the series).
    #[inline]
    pub fn observe(&self, cells: &[AtomicU64], at: usize, v: f64, key: usize, classic: impl Fn()) {
        let block = &cells[at..];
        loop {
            let state = block[STATE].fetch_add(1, Acquire);
            if state & SEALED == 0 {
                if let Some(cell) = self.slot(block, state, v) {
                    cell.fetch_add(1, Relaxed);
                    classic();
                    block[STATE].fetch_sub(1, Release);
                    return;
                }
            }
            block[STATE].fetch_sub(1, Release);
            self.make_room(cells, at, v, key);
        }
    }

    /// The slow path: lays the windows out anew so that `v`'s bucket has a cell.
    #[cold]
    fn make_room(&self, cells: &[AtomicU64], at: usize, v: f64, key: usize) {
        self.relayout(cells, at, key, |state, block| {
            if state & SEALED == 0 && self.slot(block, state, v).is_some() {
                return None; // another writer made room meanwhile
            }
            // Sealed and drained: the layout cannot move, so `read` takes it in one pass.
            let current = self.read(block);
            let since = (super::unix_ms() / 1000).saturating_sub(block[STARTED].load(Relaxed));
            let may_reset = self.min_reset_interval > 0.0 && since as f64 >= self.min_reset_interval;
            let need = Some((v > 0.0, v.abs()));
            Some(plan(self.max_buckets, self.schema, current.schema, current.positive, current.negative, need, may_reset))
        });
    }

    /// Empties the series (classic cells at `cells[..at]` included), as after a reset.
    pub fn clear(&self, cells: &[AtomicU64], at: usize, key: usize) {
        self.relayout(cells, at, key, |_, _| {
            Some(Plan { reset: true, ..plan(self.max_buckets, self.schema, self.schema, Vec::new(), Vec::new(), None, false) })
        });
    }

    /// Seals the series, waits for writers in flight, and publishes the layout `decide` returns
    /// (given the state and the block), if any.
    fn relayout(&self, cells: &[AtomicU64], at: usize, key: usize, decide: impl FnOnce(u64, &[AtomicU64]) -> Option<Plan>) {
        let block = &cells[at..];
        // Resizes are rare and short; a fork cannot catch one half-way (it runs with the GVL).
        let _guard = LOCKS[(key >> 4) % LOCKS.len()].lock();
        let sealed = block[STATE].fetch_or(SEALED, AcqRel);
        // Writes into the spare buffer must not be seen before the seal (see `copy`).
        fence(Release);
        let mut spins = 0u32;
        while block[STATE].load(Acquire) & INFLIGHT != 0 {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        let Some(plan) = decide(sealed & !SEALED, block) else {
            block[STATE].fetch_and(!SEALED, Release);
            return;
        };
        let target = self.buffer(sealed ^ ACTIVE);
        self.write(&block[target..target + self.buffer_len()], &plan);
        if plan.reset {
            cells[..at].iter().for_each(|c| c.store(0, Relaxed));
            block[ZERO].store(0, Relaxed);
            block[STARTED].store(super::unix_ms() / 1000, Relaxed);
        }
        let mut cur = block[STATE].load(Relaxed);
        loop {
            let epoch = ((cur >> EPOCH_SHIFT) + 1) << EPOCH_SHIFT;
            let next = epoch
                | (cur & INFLIGHT)
                | ((cur ^ ACTIVE) & ACTIVE)
                | if plan.clamped { CLAMPED } else { 0 }
                | (u64::from(plan.schema as u8) << SCHEMA_SHIFT);
            match block[STATE].compare_exchange_weak(cur, next, Release, Relaxed) {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
    }

    fn write(&self, buffer: &[AtomicU64], plan: &Plan) {
        buffer[BASES].store(u64::from(plan.pos_base as u32) | (u64::from(plan.neg_base as u32) << 32), Relaxed);
        buffer[SPLIT].store(plan.split as u64, Relaxed);
        let cells = &buffer[CELLS..];
        cells.iter().for_each(|c| c.store(0, Relaxed));
        let sides = [(&plan.positive, plan.pos_base, 0, plan.split), (&plan.negative, plan.neg_base, plan.split, self.max_buckets)];
        for (list, base, first, end) in sides {
            for &(i, c) in list.iter() {
                let at = first + (i64::from(i) - i64::from(base)).max(0) as usize;
                if at < end {
                    cells[at].store(c, Relaxed);
                }
            }
        }
    }

    /// Copies `n` cells (the whole series, native block at `at`) through `read` so that the
    /// native part is one layout: retried while a resize published another meanwhile.
    pub fn copy(&self, at: usize, n: usize, read: impl Fn(usize) -> u64, out: &mut Vec<u64>) {
        for attempt in 0u32.. {
            out.clear();
            let before = read(at + STATE);
            fence(Acquire);
            out.extend((0..n).map(&read));
            fence(Acquire);
            let after = read(at + STATE);
            if before & STABLE == after & STABLE || attempt >= 1_000 {
                return;
            }
            std::thread::yield_now();
        }
    }

    /// The native histogram in the block at `block` (this process's memory): only the buffer in
    /// use is read, retried while a resize publishes another meanwhile.
    pub fn read(&self, block: &[AtomicU64]) -> NativeSample {
        let mut out = NativeSample { zero_threshold: self.zero_threshold, ..NativeSample::default() };
        for attempt in 0u32.. {
            let state = block[STATE].load(Acquire);
            let buf = self.buffer(state);
            let (bases, split) = (block[buf + BASES].load(Relaxed), (block[buf + SPLIT].load(Relaxed) as usize).min(self.max_buckets));
            out.schema = schema_of(state);
            out.zero_count = block[ZERO].load(Relaxed);
            out.positive.clear();
            out.negative.clear();
            for (i, cell) in block[buf + CELLS..buf + CELLS + self.max_buckets].iter().enumerate() {
                let c = cell.load(Relaxed);
                if c > 0 {
                    if i < split {
                        out.positive.push(((bases as u32 as i32).saturating_add(i as i32), c));
                    } else {
                        out.negative.push((((bases >> 32) as u32 as i32).saturating_add((i - split) as i32), c));
                    }
                }
            }
            fence(Acquire);
            if state & STABLE == block[STATE].load(Relaxed) & STABLE || attempt >= 1_000 {
                break;
            }
            std::thread::yield_now();
        }
        out
    }

    /// The native histogram in a copied block (as from [`NativeConfig::copy`]).
    pub fn decode(&self, block: &[u64]) -> NativeSample {
        let state = block[STATE];
        let buf = self.buffer(state);
        let (bases, split) = (block[buf + BASES], (block[buf + SPLIT] as usize).min(self.max_buckets));
        let cells = &block[buf + CELLS..buf + CELLS + self.max_buckets];
        let side = |base: i32, range: std::ops::Range<usize>| {
            cells[range.clone()]
                .iter()
                .enumerate()
                .filter(|(_, c)| **c > 0)
                .map(|(i, c)| (base.saturating_add(i as i32), *c))
                .collect::<Vec<_>>()
        };
        NativeSample {
            schema: schema_of(state),
            zero_threshold: self.zero_threshold,
            zero_count: block[ZERO],
            positive: side(bases as u32 as i32, 0..split),
            negative: side((bases >> 32) as u32 as i32, split..self.max_buckets),
        }
    }

    /// Appends a native block holding `sample` (an archive's merged series), at a resolution
    /// that fits the window.
    pub fn encode(&self, sample: &NativeSample, now: u64, out: &mut Vec<u64>) {
        let plan = plan(self.max_buckets, self.schema, sample.schema, sample.positive.clone(), sample.negative.clone(), None, false);
        let state = (u64::from(plan.schema as u8) << SCHEMA_SHIFT) | if plan.clamped { CLAMPED } else { 0 };
        let start = out.len();
        self.init(out, now);
        out[start + STATE] = state;
        out[start + ZERO] = sample.zero_count;
        let buffer: Vec<AtomicU64> = std::iter::repeat_with(|| AtomicU64::new(0)).take(self.buffer_len()).collect();
        self.write(&buffer, &plan);
        for (i, c) in buffer.iter().enumerate() {
            out[start + BUFFERS + i] = c.load(Relaxed);
        }
    }

    /// A copied block made fit for new memory: no writer is in flight there and no resize under
    /// way (the buffer in use is whole whatever the moment of the copy).
    pub fn settle(&self, block: &mut [u64]) {
        block[STATE] &= !(INFLIGHT | SEALED);
    }
}
#[cfg(test)]
mod tests {
    use super::plan::span;
    use super::sample::dedup_sum;
    use super::*;

    fn config(max_buckets: usize, reset: f64) -> NativeConfig {
        NativeConfig::new(1.1, max_buckets, NativeConfig::DEFAULT_ZERO_THRESHOLD, reset).unwrap()
    }

    struct Series {
        config: NativeConfig,
        cells: Vec<AtomicU64>,
    }

    /// One classic cell (a plain count) ahead of the native block, as a histogram has.
    impl Series {
        fn new(config: NativeConfig) -> Self {
            let mut init = vec![0u64];
            config.init(&mut init, super::super::unix_ms() / 1000);
            Series { config, cells: init.into_iter().map(AtomicU64::new).collect() }
        }
        fn observe(&self, v: f64) {
            let key = self as *const Series as usize;
            self.config.observe(&self.cells, 1, v, key, || {
                self.cells[0].fetch_add(1, Relaxed);
            });
        }
        /// Read both ways a reader can, in place and copied then decoded (another process),
        /// which must agree: for tests without concurrent writers.
        fn read(&self) -> NativeSample {
            let (copied, in_place) = self.read_both();
            assert_eq!(in_place, copied, "both readers see the same histogram");
            copied
        }
        /// Both reads, one after the other (writers may add between them).
        fn read_both(&self) -> (NativeSample, NativeSample) {
            let mut out = Vec::new();
            self.config.copy(1, self.cells.len() - 1, |i| self.cells[1 + i].load(Relaxed), &mut out);
            (self.config.decode(&out), self.config.read(&self.cells[1..]))
        }
    }

    fn bucket_of(sample: &NativeSample, v: f64) -> Option<u64> {
        let side = if v > 0.0 { &sample.positive } else { &sample.negative };
        let i = bucket_index(v.abs(), sample.schema);
        side.iter().find(|e| e.0 == i).map(|e| e.1)
    }

    #[test]
    fn values_land_in_their_buckets_with_zero_and_negatives_apart() {
        let s = Series::new(config(160, 0.0));
        for v in [1.0, 1.05, 1.2, 0.0, -0.5, -0.5, 1e-40, 3.0] {
            s.observe(v);
        }
        let r = s.read();
        assert_eq!(r.schema, 3);
        assert_eq!(r.zero_count, 2, "0 and 1e-40 are within 2^-128");
        assert_eq!(r.count(), 8);
        assert_eq!(bucket_of(&r, 1.0), Some(1));
        assert_eq!(bucket_of(&r, 1.05), Some(1));
        assert_eq!(bucket_of(&r, 1.2), Some(1));
        assert_eq!(bucket_of(&r, -0.5), Some(2));
        assert_eq!(r.negative, vec![(bucket_index(0.5, 3), 2)]);
        assert_eq!(s.cells[0].load(Relaxed), 8, "the classic part ran once for each");
    }

    #[test]
    fn a_wider_range_than_the_window_halves_the_resolution_until_it_fits() {
        let s = Series::new(config(16, 0.0));
        // 1 … 2^10 takes 80 buckets at schema 3, 40 at 2, 20 at 1, 10 at 0.
        let values: Vec<f64> = (0..=40).map(|k| (f64::from(k) / 4.0).exp2()).collect();
        values.iter().for_each(|v| s.observe(*v));
        let r = s.read();
        assert_eq!(r.schema, 0);
        assert_eq!(r.count(), 41);
        // Every observation lies in the bucket it is counted in, at the final schema.
        let mut expected: Vec<(i32, u64)> = Vec::new();
        for v in &values {
            let i = bucket_index(*v, 0);
            match expected.last_mut() {
                Some(e) if e.0 == i => e.1 += 1,
                _ => expected.push((i, 1)),
            }
        }
        assert_eq!(r.positive, expected);
    }

    #[test]
    fn after_the_reset_interval_a_series_restarts_instead_of_losing_resolution() {
        let s = Series::new(config(16, 60.0));
        s.observe(1.0);
        s.observe(2.0);
        // Started over a minute ago.
        s.cells[1 + STARTED].fetch_sub(61, Relaxed);
        s.observe(1e6);
        let r = s.read();
        assert_eq!(r.schema, 3, "reset to the configured resolution");
        assert_eq!(r.count(), 1, "only the observation after the reset");
        assert_eq!(s.cells[0].load(Relaxed), 1, "the classic part restarts with it");
        // Within the interval it halves the resolution instead.
        s.observe(1.0);
        assert!(s.read().schema < 3);
        assert_eq!(s.read().count(), 2);
    }

    #[test]
    fn values_too_far_apart_for_the_coarsest_schema_land_in_the_outermost_bucket() {
        let s = Series::new(config(8, 0.0));
        let values = [1e-300, 1e-200, 1e-100, 1.0, 1e100, 1e200, 1e300, -1.0, -1e300];
        values.iter().for_each(|v| s.observe(*v));
        let r = s.read();
        assert_eq!(r.schema, SCHEMA_MIN);
        assert_eq!(r.count(), values.len() as u64, "nothing is lost");
        assert!(span(&r.positive) + span(&r.negative) <= 8);
        // Observed afterwards, clamped on the fast path.
        s.observe(1e-305);
        assert_eq!(s.read().count(), values.len() as u64 + 1);
    }

    #[test]
    fn concurrent_writers_across_resizes_lose_nothing() {
        let s = std::sync::Arc::new(Series::new(config(8, 0.0)));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let s = std::sync::Arc::clone(&s);
                std::thread::spawn(move || {
                    for k in 0..20_000u32 {
                        // Spreading wider and wider forces resizes while others add.
                        let v = f64::from((k * 7 + t) % 4_000 + 1) * if k % 5 == 0 { -1.0 } else { 1.0 };
                        s.observe(v * f64::from(1 + k / 2_000));
                    }
                })
            })
            .collect();
        let reader = {
            let s = std::sync::Arc::clone(&s);
            std::thread::spawn(move || {
                for _ in 0..2_000 {
                    let (copied, in_place) = s.read_both();
                    for r in [copied, in_place] {
                        assert!(span(&r.positive) + span(&r.negative) <= 8, "a reader sees one whole layout");
                    }
                }
            })
        };
        threads.into_iter().for_each(|t| t.join().unwrap());
        reader.join().unwrap();
        assert_eq!(s.read().count(), 80_000);
        assert_eq!(s.cells[0].load(Relaxed), 80_000);
    }

    #[test]
    fn an_archive_block_decodes_to_the_same_histogram() {
        let c = config(16, 0.0);
        let sample = NativeSample {
            schema: 3,
            zero_threshold: c.zero_threshold,
            zero_count: 4,
            positive: vec![(-3, 1), (0, 9), (5, 2)],
            negative: vec![(2, 7)],
        };
        let mut block = Vec::new();
        c.encode(&sample, 0, &mut block);
        assert_eq!(block.len(), c.cells());
        assert_eq!(c.decode(&block), sample);
        // Too wide for the window: stored at a coarser schema, counts kept.
        let wide = NativeSample { positive: vec![(-40, 1), (40, 1)], ..sample.clone() };
        let mut block = Vec::new();
        c.encode(&wide, 0, &mut block);
        let back = c.decode(&block);
        assert!(back.schema < 3);
        assert_eq!(back.count(), wide.count());
    }

    #[test]
    fn a_copy_taken_mid_resize_is_settled_and_its_layout_whole() {
        let s = Series::new(config(16, 0.0));
        s.observe(1.0);
        let mut block: Vec<u64> = s.cells[1..].iter().map(|c| c.load(Relaxed)).collect();
        // As if a writer were in flight and a resize under way at the moment of the copy.
        block[STATE] |= SEALED | 3;
        let before = s.config.decode(&block);
        s.config.settle(&mut block);
        assert_eq!(block[STATE] & (SEALED | INFLIGHT), 0);
        assert_eq!(s.config.decode(&block), before);
        assert_eq!(before.count(), 1);
    }

    type Buckets = Vec<(i32, u64)>;

    /// Each side's buckets at `schema` of `values`, by the definition.
    fn buckets_at(values: &[f64], schema: i8, zero_threshold: f64) -> (Buckets, Buckets) {
        let (mut pos, mut neg) = (Vec::new(), Vec::new());
        for v in values.iter().filter(|v| v.abs() > zero_threshold) {
            let side = if *v > 0.0 { &mut pos } else { &mut neg };
            side.push((bucket_index(v.abs(), schema), 1));
        }
        for side in [&mut pos, &mut neg] {
            side.sort_by_key(|e| e.0);
            dedup_sum(side);
        }
        (pos, neg)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Whatever arrives, every observation is counted once, at the finest resolution
        /// holding the populated range, in the bucket holding its value at that resolution.
        #[test]
        fn any_observations_are_counted_in_their_buckets(values in proptest::collection::vec(-1e6f64..1e6, 1..300), width in 8usize..64) {
            let s = Series::new(config(width, 0.0));
            values.iter().for_each(|v| s.observe(*v));
            let r = s.read();
            proptest::prop_assert_eq!(r.count(), values.len() as u64);
            let (positive, negative) = buckets_at(&values, r.schema, r.zero_threshold);
            let zero_count = values.iter().filter(|v| v.abs() <= r.zero_threshold).count() as u64;
            let expected = NativeSample { schema: r.schema, zero_threshold: r.zero_threshold, zero_count, positive, negative };
            proptest::prop_assert_eq!(&r, &expected);
            // One schema finer would not have fitted.
            if r.schema < 3 {
                let (pos, neg) = buckets_at(&values, r.schema + 1, r.zero_threshold);
                proptest::prop_assert!(span(&pos) + span(&neg) > width);
            }
        }
    }
}
