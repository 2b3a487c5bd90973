//! Counter: two cells. Integer increments are one wait-free `fetch_add` on an exact u64; Float
//! increments go to an f64 cell by CAS. The f64 cell starts at `-0.0`, which any addition turns
//! into a normal number, so "was a Float ever added" needs no extra cell.

use super::{add_f64, check_finite, format_f64, Sample};
use crate::core::cells::Cells;
use crate::core::error::{Error, Result};
use std::sync::atomic::Ordering::Relaxed;

const UNTOUCHED: u64 = 0x8000_0000_0000_0000; // bits of -0.0

/// Initial cell values.
pub const INIT: [u64; 2] = [0, UNTOUCHED];

/// Adds an integer. Past 2^64 the exact cell wraps; the 2^64 it lost moves into the float cell
/// (Prometheus counters are floats), so the total never drops. The hot path stays one
/// `fetch_add` and a comparison of its result.
#[inline]
pub fn inc_int(cells: &Cells, by: u64) {
    let before = cells.as_slice()[0].fetch_add(by, Relaxed);
    if before.checked_add(by).is_none() {
        carry(cells);
    }
}

#[cold]
fn carry(cells: &Cells) {
    add_f64(&cells.as_slice()[1], WRAP);
}

/// What the exact cell loses when it wraps.
pub const WRAP: f64 = 18_446_744_073_709_551_616.0; // 2^64

/// Adds a float `by`, which must be finite and >= 0.
///
/// # Errors
/// [`Error::InvalidValue`] for NaN, infinities and negatives; nothing is changed.
#[inline]
pub fn inc_float(cells: &Cells, by: f64) -> Result<()> {
    check_increment(by)?;
    add_f64(&cells.as_slice()[1], by);
    Ok(())
}

/// Validates a float increment.
///
/// # Errors
/// [`Error::InvalidValue`] for NaN, infinities and negatives.
pub fn check_increment(by: f64) -> Result<f64> {
    check_finite("by", by)?;
    if by < 0.0 {
        return Err(Error::InvalidValue { arg: "by", value: format_f64(by), reason: "counters can only increase" });
    }
    Ok(by)
}

/// Current value.
pub fn read(cells: &Cells) -> Sample {
    let c = cells.as_slice();
    let float = c[1].load(Relaxed);
    Sample::Counter { int: c[0].load(Relaxed), float: (float != UNTOUCHED).then(|| f64::from_bits(float)) }
}

/// Back to zero (Tasker's `reset!`).
pub fn reset(cells: &Cells) {
    let c = cells.as_slice();
    c[0].store(0, Relaxed);
    c[1].store(UNTOUCHED, Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells() -> Cells {
        Cells::local(&INIT)
    }

    #[test]
    fn integers_stay_exact_and_floats_are_flagged() {
        let c = cells();
        inc_int(&c, 1);
        inc_int(&c, u64::from(u32::MAX));
        assert_eq!(read(&c), Sample::Counter { int: 1 + u64::from(u32::MAX), float: None });
        inc_float(&c, 0.0).unwrap();
        assert_eq!(read(&c), Sample::Counter { int: 1 + u64::from(u32::MAX), float: Some(0.0) });
        inc_float(&c, 0.5).unwrap();
        assert_eq!(read(&c).as_f64(), 4_294_967_296.5);
        reset(&c);
        assert_eq!(read(&c), Sample::Counter { int: 0, float: None });
    }

    #[test]
    fn refuses_bad_increments_and_changes_nothing() {
        let c = cells();
        for bad in [-1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(inc_float(&c, bad).is_err());
        }
        assert_eq!(read(&c), Sample::Counter { int: 0, float: None });
        assert_eq!(inc_float(&c, -1.0).unwrap_err().to_string(), "invalid by: -1.0 (counters can only increase)");
    }

    #[test]
    fn exact_under_threads() {
        let c = std::sync::Arc::new(cells());
        let ts: Vec<_> = (0..8)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || (0..100_000).for_each(|_| inc_int(&c, 1)))
            })
            .collect();
        ts.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(read(&c), Sample::Counter { int: 800_000, float: None });
    }

    #[test]
    fn counts_past_two_to_the_64_saturate_into_the_float_cell_and_never_wrap_to_zero() {
        let cells = Cells::local(&INIT);
        inc_int(&cells, u64::MAX - 1);
        inc_int(&cells, 5);
        let total = read(&cells);
        assert_eq!(total.as_f64(), 2f64.powi(64) + 3.0);
        assert!(total.as_f64() >= (u64::MAX - 1) as f64, "no counter decrease");
        inc_int(&cells, u64::MAX);
        assert!(read(&cells).as_f64() >= 2f64.powi(65), "{:?}", read(&cells));
    }
}
