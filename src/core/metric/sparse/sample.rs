//! A native histogram as read or merged: sparse buckets by index, and how two combine.

use crate::core::metric::native::{coarser, upper_bound};

/// A native histogram as read: the buckets with a count, by index, ascending.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NativeSample {
    /// Resolution: bucket `i` ends at `2^(i · 2^−schema)`.
    pub schema: i8,
    /// Width of the zero bucket.
    pub zero_threshold: f64,
    /// Observations with `|v| ≤ zero_threshold`.
    pub zero_count: u64,
    /// Positive buckets `(index, count)` with a count, ascending.
    pub positive: Vec<(i32, u64)>,
    /// Negative buckets by the index of `|v|`, ascending.
    pub negative: Vec<(i32, u64)>,
}

impl NativeSample {
    /// Observations counted, zero bucket included.
    pub fn count(&self) -> u64 {
        self.positive.iter().chain(&self.negative).fold(self.zero_count, |a, (_, c)| a.wrapping_add(*c))
    }

    /// Adds `other`, both at the coarser of the two schemas (and the wider zero bucket: counts
    /// of the other's buckets that fall inside it move into it).
    pub fn add(&mut self, other: &NativeSample) {
        let schema = self.schema.min(other.schema);
        self.lower_to(schema);
        let mut other = other.clone();
        other.lower_to(schema);
        if other.zero_threshold > self.zero_threshold {
            self.zero_threshold = other.zero_threshold;
        }
        self.zero_count = self.zero_count.wrapping_add(other.zero_count);
        self.positive = merge(&self.positive, &other.positive);
        self.negative = merge(&self.negative, &other.negative);
        self.absorb_into_zero();
    }

    /// Lowers the resolution to `schema` (no finer than now).
    pub fn lower_to(&mut self, schema: i8) {
        let by = (self.schema - schema).max(0) as u8;
        if by > 0 {
            reduce(&mut self.positive, by);
            reduce(&mut self.negative, by);
            self.schema = schema;
        }
    }

    /// Moves buckets lying wholly inside the zero bucket into it.
    fn absorb_into_zero(&mut self) {
        let (schema, zt) = (self.schema, self.zero_threshold);
        let mut moved = 0u64;
        for side in [&mut self.positive, &mut self.negative] {
            side.retain(|&(i, c)| {
                let inside = upper_bound(i, schema) <= zt;
                if inside {
                    moved = moved.wrapping_add(c);
                }
                !inside
            });
        }
        self.zero_count = self.zero_count.wrapping_add(moved);
    }
}

/// Merges each pair of neighbouring buckets `by` times.
pub(super) fn reduce(list: &mut Vec<(i32, u64)>, by: u8) {
    for entry in list.iter_mut() {
        entry.0 = coarser(entry.0, by);
    }
    dedup_sum(list);
}

/// Sums neighbours with the same index (the list is sorted).
pub(super) fn dedup_sum(list: &mut Vec<(i32, u64)>) {
    list.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1 = kept.1.wrapping_add(later.1);
        }
        same
    });
}

/// Two ascending lists as one, counts of equal indexes summed.
fn merge(a: &[(i32, u64)], b: &[(i32, u64)]) -> Vec<(i32, u64)> {
    let mut out: Vec<(i32, u64)> = a.iter().chain(b).copied().collect();
    out.sort_by_key(|e| e.0);
    dedup_sum(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::metric::native::bucket_index;

    #[test]
    fn merging_lowers_both_to_the_coarser_schema() {
        let fine = NativeSample { schema: 3, zero_threshold: 0.0, zero_count: 1, positive: vec![(1, 2), (2, 3), (8, 1)], negative: vec![] };
        let coarse = NativeSample { schema: 1, zero_threshold: 0.0, zero_count: 0, positive: vec![(1, 5)], negative: vec![(0, 1)] };
        let mut sum = fine.clone();
        sum.add(&coarse);
        assert_eq!(sum.schema, 1);
        // Schema 3 indexes 1, 2 → 1 at schema 1; 8 → 2.
        assert_eq!(sum.positive, vec![(1, 10), (2, 1)]);
        assert_eq!(sum.negative, vec![(0, 1)]);
        assert_eq!(sum.count(), fine.count() + coarse.count());
        // Each value's bucket at the coarse schema is where lowering puts its fine bucket.
        for v in [1.01, 1.3, 2.0, 3.9, 0.26] {
            assert_eq!(coarser(bucket_index(v, 3), 2), bucket_index(v, 1));
        }
    }

    #[test]
    fn a_wider_zero_bucket_absorbs_the_buckets_inside_it() {
        let mut a = NativeSample { schema: 0, zero_threshold: 0.25, zero_count: 1, ..NativeSample::default() };
        let b = NativeSample { schema: 0, zero_threshold: 0.0, zero_count: 0, positive: vec![(-3, 2), (-1, 4)], negative: vec![(-2, 1)] };
        a.add(&b);
        assert_eq!(upper_bound(-2, 0), 0.25);
        assert_eq!((a.zero_count, a.positive.clone(), a.negative.clone()), (4, vec![(-1, 4)], vec![]));
    }
}
