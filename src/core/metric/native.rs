//! The bucket arithmetic of Prometheus native (sparse, exponential) histograms. A schema `s`
//! (−4…8) fixes the growth factor between bucket boundaries, `base = 2^(2^−s)`; bucket `i` holds
//! the values `v` with `base^(i−1) < |v| ≤ base^i` (bucket 0 ends at 1). Lowering the schema by
//! one merges each pair of neighbouring buckets, halving the resolution.

use crate::core::error::{Error, Result};

/// The finest schema: 256 buckets per power of two (factor ≈ 1.0027).
pub const SCHEMA_MAX: i8 = 8;
/// The coarsest schema: one bucket per factor of 2^16.
pub const SCHEMA_MIN: i8 = -4;

/// The schema for a bucket growth `factor`: the coarsest whose factor does not exceed it (so a
/// bucket is never wider than asked for), clamped to −4…8, as Prometheus' own clients choose.
///
/// # Errors
/// An argument error unless `factor` is finite and greater than 1.
pub fn schema_for_factor(factor: f64) -> Result<i8> {
    if !(factor.is_finite() && factor > 1.0) {
        return Err(Error::argument(format!("native factor must be a finite number greater than 1, got {factor}")));
    }
    let floor = factor.log2().log2().floor();
    Ok(if floor <= -f64::from(SCHEMA_MAX) {
        SCHEMA_MAX
    } else if floor >= -f64::from(SCHEMA_MIN) {
        SCHEMA_MIN
    } else {
        -(floor as i8)
    })
}

/// A histogram's native-bucket settings (`native:` in the Ruby API).
#[derive(Debug, Clone, PartialEq)]
pub struct NativeConfig {
    /// The growth factor asked for; the schema is derived from it.
    pub factor: f64,
    /// The starting (finest) schema.
    pub schema: i8,
    /// Most buckets a series holds (positive and negative together, zero bucket aside): the
    /// span from its lowest to its highest populated bucket on each side.
    pub max_buckets: usize,
    /// Observations with `|v| ≤ zero_threshold` are counted in the zero bucket.
    pub zero_threshold: f64,
    /// Seconds since a series started (or was last reset) after which it resets instead of
    /// halving its resolution when it runs out of buckets; 0 never resets.
    pub min_reset_interval: f64,
}

impl NativeConfig {
    /// The defaults of `native: true`.
    pub const DEFAULT_FACTOR: f64 = 1.1;
    /// See [`NativeConfig::DEFAULT_FACTOR`].
    pub const DEFAULT_MAX_BUCKETS: usize = 160;
    /// 2^−128, Prometheus' clients' default.
    pub const DEFAULT_ZERO_THRESHOLD: f64 = f64::from_bits(0x37F0_0000_0000_0000);
    /// One hour.
    pub const DEFAULT_MIN_RESET_INTERVAL: f64 = 3600.0;
    /// Fewer buckets than this cannot hold a sensible range even at the coarsest schema.
    pub const MIN_BUCKETS: usize = 8;
    /// More would make every series' memory (16 bytes per bucket, twice) unreasonable.
    pub const MAX_BUCKETS: usize = 4096;

    /// Validated settings.
    ///
    /// # Errors
    /// An argument error naming the setting and the bad value.
    pub fn new(factor: f64, max_buckets: usize, zero_threshold: f64, min_reset_interval: f64) -> Result<Self> {
        let schema = schema_for_factor(factor)?;
        if !(Self::MIN_BUCKETS..=Self::MAX_BUCKETS).contains(&max_buckets) {
            return Err(Error::argument(format!(
                "native max_buckets must be between {} and {}, got {max_buckets}",
                Self::MIN_BUCKETS,
                Self::MAX_BUCKETS
            )));
        }
        if !(zero_threshold.is_finite() && zero_threshold >= 0.0) {
            return Err(Error::argument(format!("native zero_threshold must be a finite number ≥ 0, got {zero_threshold}")));
        }
        if !(min_reset_interval.is_finite() && min_reset_interval >= 0.0) {
            return Err(Error::argument(format!(
                "native min_reset_interval must be a finite number of seconds ≥ 0, got {min_reset_interval}"
            )));
        }
        Ok(NativeConfig { factor, schema, max_buckets, zero_threshold, min_reset_interval })
    }
}

impl Default for NativeConfig {
    fn default() -> Self {
        NativeConfig::new(Self::DEFAULT_FACTOR, Self::DEFAULT_MAX_BUCKETS, Self::DEFAULT_ZERO_THRESHOLD, Self::DEFAULT_MIN_RESET_INTERVAL)
            .expect("the defaults are valid")
    }
}

/// `v = frac · 2^exp` with `frac` in [0.5, 1), for a finite `v > 0` (subnormals included).
fn frexp(v: f64) -> (f64, i32) {
    let (v, shift) = if v < f64::MIN_POSITIVE { (v * 2f64.powi(64), -64) } else { (v, 0) };
    let bits = v.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32 - 1022;
    let frac = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (frac, exp + shift)
}

/// Upper boundaries within [0.5, 1) of the buckets of one power of two at `schema` > 0:
/// `2^(j/2^schema) / 2` for `j` in 0..2^schema.
fn fraction_bounds(schema: i8) -> &'static [f64] {
    static TABLES: std::sync::OnceLock<Vec<Vec<f64>>> = std::sync::OnceLock::new();
    let tables = TABLES.get_or_init(|| {
        (1..=SCHEMA_MAX)
            .map(|s| {
                let n = 1u32 << s;
                (0..n).map(|j| (f64::from(j) / f64::from(n)).exp2() / 2.0).collect()
            })
            .collect()
    });
    &tables[(schema - 1) as usize]
}

/// The index of the bucket holding `magnitude` (`|v|`, finite and > 0) at `schema`.
pub fn bucket_index(magnitude: f64, schema: i8) -> i32 {
    let (frac, exp) = frexp(magnitude);
    if schema > 0 {
        let bounds = fraction_bounds(schema);
        // The first boundary ≥ frac: `frac` is at most that bucket's upper end.
        let within = bounds.partition_point(|b| *b < frac) as i32;
        within + (exp - 1) * bounds.len() as i32
    } else {
        // Powers of two are exact: 2^(exp−1) is the upper end of its bucket, not the start.
        let key = if frac == 0.5 { exp - 1 } else { exp };
        let shift = -schema;
        let offset = (1 << shift) - 1;
        (key + offset) >> shift
    }
}

/// The upper end of bucket `index` at `schema`: `2^(index · 2^−schema)`.
pub fn upper_bound(index: i32, schema: i8) -> f64 {
    // exp2 of an integer is an exact power of two, subnormals included (powi underflows).
    if schema <= 0 {
        return f64::from(index << -schema).exp2();
    }
    let n = 1i32 << schema;
    let (whole, j) = (index.div_euclid(n), index.rem_euclid(n));
    // frac · 2^(whole+1) with frac = bounds[j] (exact for j = 0, a power of two), multiplied in
    // the order that neither overflows near 2^1024 nor underflows among subnormals.
    let frac = fraction_bounds(schema)[j as usize];
    if whole > 0 {
        (frac * 2.0) * f64::from(whole).exp2()
    } else {
        frac * f64::from(whole + 1).exp2()
    }
}

/// The index at `schema − by` of the bucket that absorbs bucket `index` at `schema`: each step
/// merges buckets 2k−1 and 2k into k.
pub fn coarser(index: i32, by: u8) -> i32 {
    let mut i = index;
    for _ in 0..by {
        i = (i + 1) >> 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn schemas_follow_the_factor_as_prometheus_clients_pick_them() {
        let cases = [(1.1, 3), (2.0, 0), (1.0027, 8), (1.001, 8), (4.0, -1), (65536.0, -4), (1e300, -4), (1.5, 1), (1.2, 2)];
        for (factor, schema) in cases {
            assert_eq!(schema_for_factor(factor).unwrap(), schema, "factor {factor}");
            let base = 2f64.powf(2f64.powi(-i32::from(schema)));
            // Only the clamps give a wider bucket than asked for: none is finer than schema 8.
            assert!(
                schema == SCHEMA_MIN || schema == SCHEMA_MAX || base <= factor * (1.0 + 1e-12),
                "base {base} wider than factor {factor}"
            );
        }
        for bad in [1.0, 0.5, -2.0, f64::NAN, f64::INFINITY] {
            let e = schema_for_factor(bad).unwrap_err().to_string();
            assert!(e.contains("native factor must be a finite number greater than 1"), "{e}");
        }
    }

    #[test]
    fn powers_of_two_and_their_neighbours_land_where_the_definition_says() {
        for schema in SCHEMA_MIN..=SCHEMA_MAX {
            for exp in -1070..=1023 {
                let v = f64::from(exp).exp2();
                // 2^exp is the upper end of the bucket 2^exp / base .. 2^exp, whose index is
                // exp · 2^schema exactly (or, for coarse schemas, rounded up).
                let expected = if schema >= 0 { exp * (1 << schema) } else { (exp + (1 << -schema) - 1) >> -schema };
                assert_eq!(bucket_index(v, schema), expected, "2^{exp} at schema {schema}");
                // Just above a boundary starts the next bucket (coarse schemas have one at every
                // 2^-schema-th power of two only).
                // Among subnormals one step up can skip a fine bucket, so only normal numbers.
                if exp >= -1022 && (schema >= 0 || exp % (1 << -schema) == 0) {
                    let above = f64::from_bits(v.to_bits() + 1);
                    assert_eq!(bucket_index(above, schema), expected + 1, "just above 2^{exp} at schema {schema}");
                }
            }
        }
        assert_eq!(bucket_index(1.0, 3), 0);
        assert_eq!(bucket_index(f64::MIN_POSITIVE / 4.0, 0), -1023 - 1);
    }

    #[test]
    fn coarser_merges_pairs_of_buckets() {
        for schema in (SCHEMA_MIN + 1)..=SCHEMA_MAX {
            for v in [1e-9, 0.001, 0.3, 1.0, 1.7, 3.0, 1234.5, 6.02e23] {
                assert_eq!(coarser(bucket_index(v, schema), 1), bucket_index(v, schema - 1), "{v} from schema {schema}");
            }
        }
        assert_eq!((coarser(-3, 1), coarser(-2, 1), coarser(-1, 1), coarser(0, 1), coarser(1, 1), coarser(2, 1)), (-1, -1, 0, 0, 1, 1));
        assert_eq!(coarser(8, 3), 1);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        /// Every value across the float range lands in the bucket whose bounds hold it, and
        /// agrees with the docs' formula `ceil(log2(v) · 2^schema)` wherever that formula's own
        /// rounding cannot matter (away from a boundary).
        #[test]
        fn each_value_lies_within_its_bucket(schema in SCHEMA_MIN..=SCHEMA_MAX, exp in -1074.0f64..1023.99, frac in 0.0f64..1.0) {
            let v = (exp + frac).exp2();
            prop_assume!(v.is_finite() && v > 0.0);
            let i = bucket_index(v, schema);
            let (low, high) = (upper_bound(i - 1, schema), upper_bound(i, schema));
            let ulp = |x: f64| f64::from_bits(x.to_bits() + 2) - x;
            // The last bucket ends at 2^1024, which f64 holds as infinity.
            prop_assert!(high.is_infinite() || v <= high + ulp(high), "{v} above bucket {i} ending at {high} (schema {schema})");
            prop_assert!(v > low - ulp(low), "{v} not above bucket {i}'s start {low} (schema {schema})");
            let by_formula = (v.log2() * 2f64.powi(i32::from(schema))).ceil() as i32;
            let near_boundary = (v / high - 1.0).abs() < 1e-9 || (v / low - 1.0).abs() < 1e-9;
            prop_assert!(near_boundary || by_formula == i, "{v}: formula {by_formula}, index {i} (schema {schema})");
        }

        /// A bucket's upper end belongs to that bucket (the ranges are open below, closed above).
        #[test]
        fn each_upper_end_belongs_to_its_bucket(schema in SCHEMA_MIN..=SCHEMA_MAX, at in -1.0f64..1.0) {
            let span = 1074.0 * 2f64.powi(i32::from(schema));
            let i = (at * span) as i32;
            let high = upper_bound(i, schema);
            prop_assume!(high.is_finite() && high >= f64::MIN_POSITIVE);
            prop_assert_eq!(bucket_index(high, schema), i);
        }
    }
}
