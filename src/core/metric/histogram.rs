//! Histogram: one cell per bucket (non-cumulative, `+Inf` last) and one for the sum. The count is
//! the sum of the bucket cells, so a reader can never see count and buckets disagree; buckets are
//! made cumulative only when read.

use super::native::NativeConfig;
use super::sparse::NativeSample;
use super::{add_f64, check_finite, format_f64, Sample};
use crate::core::cells::Cells;
use crate::core::error::{Error, Result};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// Tasker's and Prometheus' default bucket bounds.
pub const DEFAULT_BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Validated upper bounds (without `+Inf`) and their rendered `le` values, and the native
/// buckets' settings if the histogram has them.
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets {
    bounds: Arc<[f64]>,
    le: Arc<[Box<str>]>,
    native: Option<Arc<NativeConfig>>,
}

impl Buckets {
    /// Bounds must be non-empty, finite and strictly increasing.
    ///
    /// # Errors
    /// [`Error::InvalidBuckets`] naming the buckets and the rule.
    pub fn new(bounds: &[f64]) -> Result<Self> {
        let err = |reason| Err(Error::InvalidBuckets { buckets: describe(bounds), reason });
        if bounds.is_empty() {
            return err("must not be empty");
        }
        if bounds.iter().any(|b| !b.is_finite()) {
            return err("must be finite numbers (+Inf is implicit)");
        }
        if bounds.windows(2).any(|w| w[0] >= w[1]) {
            return err("must be strictly increasing");
        }
        let le = bounds.iter().map(|b| format_le(*b).into_boxed_str()).collect();
        Ok(Buckets { bounds: bounds.into(), le, native: None })
    }

    /// Native buckets only: the classic part is the `+Inf` bucket alone.
    pub fn native_only(native: NativeConfig) -> Self {
        Buckets { bounds: Arc::new([]), le: Arc::new([]), native: Some(Arc::new(native)) }
    }

    /// These classic buckets with native ones beside them.
    pub fn with_native(mut self, native: NativeConfig) -> Self {
        self.native = Some(Arc::new(native));
        self
    }

    /// The native buckets' settings, if the histogram has them.
    pub fn native(&self) -> Option<&NativeConfig> {
        self.native.as_deref()
    }

    /// Cells of the classic part (counts and sum); a native block follows them.
    fn classic_len(&self) -> usize {
        self.bounds.len() + 2
    }

    /// Cells a series takes.
    pub fn cell_count(&self) -> usize {
        self.classic_len() + self.native.as_ref().map_or(0, |n| n.cells())
    }

    /// Sorts and de-duplicates first (Tasker's rule), then validates.
    ///
    /// # Errors
    /// As [`Buckets::new`].
    pub fn normalized(bounds: &[f64]) -> Result<Self> {
        let mut sorted = bounds.to_vec();
        if sorted.iter().any(|b| b.is_nan()) {
            return Buckets::new(bounds);
        }
        sorted.sort_by(f64::total_cmp);
        sorted.dedup();
        Buckets::new(&sorted)
    }

    /// The upper bounds, without `+Inf`.
    pub fn bounds(&self) -> &[f64] {
        &self.bounds
    }

    /// Rendered `le` label values, without `+Inf`, shared (snapshots take a reference, not a copy).
    pub fn le_values(&self) -> &Arc<[Box<str>]> {
        &self.le
    }

    /// Initial cells: one per bound, one for `+Inf`, one for the sum, then the native block.
    pub fn init(&self) -> Vec<u64> {
        let mut cells = vec![0; self.classic_len()];
        if let Some(n) = &self.native {
            n.init(&mut cells, super::unix_ms() / 1000);
        }
        cells
    }

    /// The bucket `v` falls in (`bounds().len()` for `+Inf`).
    #[inline]
    pub fn index(&self, v: f64) -> usize {
        self.bounds.partition_point(|b| *b < v)
    }

    /// Records `v`; returns `v`.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] for NaN and infinities; nothing is changed.
    #[inline]
    pub fn observe(&self, cells: &Cells, v: f64) -> Result<f64> {
        check_finite("value", v)?;
        let c = cells.as_slice();
        let classic = || {
            c[self.index(v)].fetch_add(1, Relaxed);
            add_f64(&c[self.bounds.len() + 1], v);
        };
        match &self.native {
            None => classic(),
            Some(n) => n.observe(c, self.classic_len(), v, std::ptr::from_ref(cells) as usize, classic),
        }
        Ok(v)
    }

    /// Current counts (non-cumulative), sum and native buckets.
    pub fn read(&self, cells: &Cells) -> Sample {
        let c = cells.as_slice();
        match &self.native {
            None => self.sample(|i| c[i].load(Relaxed), None),
            Some(n) => {
                let native = n.read(&c[self.classic_len()..]);
                self.sample(|i| c[i].load(Relaxed), Some(Box::new(native)))
            }
        }
    }

    /// The sample in a copy of a series' cells (made consistent as [`NativeConfig::copy`] does).
    pub fn decode(&self, cells: &[u64]) -> Sample {
        self.sample(|i| cells[i], self.decode_native(cells).map(Box::new))
    }

    /// The native part of a copy of a series' cells, if the histogram has one.
    pub fn decode_native(&self, cells: &[u64]) -> Option<NativeSample> {
        self.native.as_ref().map(|n| n.decode(&cells[self.classic_len()..]))
    }

    fn sample(&self, cell: impl Fn(usize) -> u64, native: Option<Box<NativeSample>>) -> Sample {
        let n = self.bounds.len() + 1;
        Sample::Histogram { counts: (0..n).map(&cell).collect(), sum: f64::from_bits(cell(n)), native }
    }

    /// Copies a series' cells through `read` (`n` of them), the native block as one layout.
    pub fn copy(&self, n: usize, read: impl Fn(usize) -> u64, out: &mut Vec<u64>) {
        match &self.native {
            None => {
                out.clear();
                out.extend((0..n).map(read));
            }
            Some(native) => native.copy(self.classic_len(), n, read, out),
        }
    }

    /// Copied cells made fit to be written into new memory (see [`NativeConfig::settle`]).
    pub fn settle(&self, cells: &mut [u64]) {
        if let Some(n) = &self.native {
            let at = self.classic_len();
            n.settle(&mut cells[at..]);
        }
    }

    /// The cells holding `counts`, `sum` and `native` (an archive's merged series).
    pub fn encode(&self, counts: &[u64], sum: f64, native: Option<&NativeSample>) -> Vec<u64> {
        let mut out: Vec<u64> = counts.iter().copied().chain([sum.to_bits()]).collect();
        if let Some(n) = &self.native {
            n.encode(native.unwrap_or(&NativeSample { schema: n.schema, ..NativeSample::default() }), super::unix_ms() / 1000, &mut out);
        }
        out
    }

    /// Back to empty (Tasker's `reset!`).
    pub fn reset(&self, cells: &Cells) {
        let c = cells.as_slice();
        match &self.native {
            None => c.iter().for_each(|c| c.store(0, Relaxed)),
            Some(n) => n.clear(c, self.classic_len(), std::ptr::from_ref(cells) as usize),
        }
    }
}

/// A bound as an `le` value: shortest round-trip, always with a decimal point or exponent.
pub fn format_le(v: f64) -> String {
    ryu::Buffer::new().format_finite(v).to_owned()
}

fn describe(bounds: &[f64]) -> String {
    format!("[{}]", bounds.iter().map(|b| format_f64(*b)).collect::<Vec<_>>().join(", "))
}

/// Turns non-cumulative counts into cumulative ones in place.
pub fn cumulate(counts: &mut [u64]) {
    let mut acc = 0u64;
    for c in counts.iter_mut() {
        acc = acc.wrapping_add(*c);
        *c = acc;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(bounds: &[f64]) -> (Buckets, Cells) {
        let b = Buckets::new(bounds).unwrap();
        let c = Cells::local(&b.init());
        (b, c)
    }

    #[test]
    fn observations_land_on_inclusive_upper_bounds() {
        let (b, c) = setup(&[1.0, 2.0, 5.0]);
        for v in [0.5, 1.0, 1.0000001, 2.0, 5.0, 5.1, -3.0] {
            b.observe(&c, v).unwrap();
        }
        match b.read(&c) {
            Sample::Histogram { mut counts, sum, .. } => {
                assert_eq!(counts, vec![3, 2, 1, 1]);
                cumulate(&mut counts);
                assert_eq!(counts, vec![3, 5, 6, 7]);
                assert!((sum - 11.6000001).abs() < 1e-9);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn validation() {
        assert_eq!(Buckets::new(&[]).unwrap_err().to_string(), "invalid buckets []: must not be empty");
        assert!(Buckets::new(&[1.0, 1.0]).is_err());
        assert!(Buckets::new(&[2.0, 1.0]).is_err());
        assert!(Buckets::new(&[1.0, f64::INFINITY]).is_err());
        assert!(Buckets::new(&[f64::NAN]).is_err());
        assert_eq!(Buckets::normalized(&[2.0, 1.0, 2.0]).unwrap().bounds(), &[1.0, 2.0]);
        let (b, c) = setup(&[1.0]);
        assert!(b.observe(&c, f64::NAN).is_err());
        assert_eq!(b.read(&c), Sample::Histogram { counts: vec![0, 0], sum: 0.0, native: None });
    }

    #[test]
    fn le_values_are_canonical() {
        let b = Buckets::new(&DEFAULT_BUCKETS).unwrap();
        let le: Vec<&str> = b.le_values().iter().map(|s| &**s).collect();
        assert_eq!(le, ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0"]);
    }

    #[test]
    fn count_equals_inf_bucket_under_threads() {
        let (b, c) = setup(&DEFAULT_BUCKETS);
        let (b, c) = (std::sync::Arc::new(b), std::sync::Arc::new(c));
        let ts: Vec<_> = (0..4)
            .map(|i| {
                let (b, c) = (b.clone(), c.clone());
                std::thread::spawn(move || (0..10_000).for_each(|j| drop(b.observe(&c, f64::from(i * j % 20)))))
            })
            .collect();
        ts.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(b.read(&c).as_f64(), 40_000.0);
    }
}
