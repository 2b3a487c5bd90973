//! Gauge: one cell holding f64 bits; `set` is a store, `add` a CAS loop. A gauge whose
//! processes combine by "most recent" has a second cell: when it was last written, in
//! nanoseconds since the Unix epoch.

use super::{add_f64, check_finite, Sample};
use crate::core::cells::Cells;
use crate::core::error::Result;
use std::sync::atomic::Ordering::Relaxed;

/// Initial cell values (0.0).
pub const INIT: [u64; 1] = [0];

/// Initial cells for a gauge starting at `v`.
pub fn init_with(v: f64) -> [u64; 1] {
    [v.to_bits()]
}

/// Sets the value.
///
/// # Errors
/// [`crate::core::Error::InvalidValue`] for NaN and infinities; nothing is changed.
#[inline]
pub fn set(cells: &Cells, v: f64) -> Result<f64> {
    check_finite("value", v)?;
    let c = cells.as_slice();
    c[0].store(v.to_bits(), Relaxed);
    stamp(c);
    Ok(v)
}

/// Adds `by` (negative to subtract) and returns the new value.
///
/// # Errors
/// [`crate::core::Error::InvalidValue`] for NaN and infinities; nothing is changed.
#[inline]
pub fn add(cells: &Cells, by: f64) -> Result<f64> {
    check_finite("by", by)?;
    let c = cells.as_slice();
    let v = add_f64(&c[0], by);
    stamp(c);
    Ok(v)
}

/// Initial cells for a gauge that records when it was written.
pub const INIT_STAMPED: [u64; 2] = [0, 0];

#[inline]
fn stamp(c: &[std::sync::atomic::AtomicU64]) {
    if let Some(at) = c.get(1) {
        at.store(super::unix_ns(), Relaxed);
    }
}

/// Current value.
pub fn read(cells: &Cells) -> Sample {
    Sample::Gauge(f64::from_bits(cells.as_slice()[0].load(Relaxed)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_add_and_refuse() {
        let c = Cells::local(&init_with(2.0));
        assert_eq!(read(&c), Sample::Gauge(2.0));
        assert_eq!(set(&c, -3.5).unwrap(), -3.5);
        assert_eq!(add(&c, 1.0).unwrap(), -2.5);
        assert!(set(&c, f64::NAN).is_err());
        assert!(add(&c, f64::INFINITY).is_err());
        assert_eq!(read(&c), Sample::Gauge(-2.5));
    }

    #[test]
    fn concurrent_adds_are_not_lost() {
        let c = std::sync::Arc::new(Cells::local(&INIT));
        let ts: Vec<_> = (0..4)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || (0..10_000).for_each(|_| drop(add(&c, 1.0))))
            })
            .collect();
        ts.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(read(&c), Sample::Gauge(40_000.0));
    }
}
