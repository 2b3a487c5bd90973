//! Gauge: one cell holding f64 bits; `set` is a store, `add` a CAS loop.

use super::{add_f64, check_finite, Sample};
use crate::core::error::Result;
use crate::core::store::Cells;
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
    cells.as_slice()[0].store(v.to_bits(), Relaxed);
    Ok(v)
}

/// Adds `by` (negative to subtract) and returns the new value.
///
/// # Errors
/// [`crate::core::Error::InvalidValue`] for NaN and infinities; nothing is changed.
#[inline]
pub fn add(cells: &Cells, by: f64) -> Result<f64> {
    check_finite("by", by)?;
    Ok(add_f64(&cells.as_slice()[0], by))
}

/// Current value.
pub fn read(cells: &Cells) -> Sample {
    Sample::Gauge(f64::from_bits(cells.as_slice()[0].load(Relaxed)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::store::{LocalStore, SeriesDesc, Store};

    #[test]
    fn set_add_and_refuse() {
        let c = LocalStore.allocate(SeriesDesc { family: "g", key: b"" }, &init_with(2.0)).unwrap();
        assert_eq!(read(&c), Sample::Gauge(2.0));
        assert_eq!(set(&c, -3.5).unwrap(), -3.5);
        assert_eq!(add(&c, 1.0).unwrap(), -2.5);
        assert!(set(&c, f64::NAN).is_err());
        assert!(add(&c, f64::INFINITY).is_err());
        assert_eq!(read(&c), Sample::Gauge(-2.5));
    }

    #[test]
    fn concurrent_adds_are_not_lost() {
        let c = std::sync::Arc::new(LocalStore.allocate(SeriesDesc { family: "g", key: b"" }, &INIT).unwrap());
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
