//! Sampling draws: a per-thread wyrand generator, so a draw takes no lock and no syscall.
//! After `fork` a child would replay its parent's stream; [`reseed_after_fork`] bumps an epoch
//! that makes every thread reseed on its next draw.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{SystemTime, UNIX_EPOCH};

static EPOCH: AtomicU64 = AtomicU64::new(1);
static SEEDS: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);

thread_local! {
    static STATE: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

fn seed() -> u64 {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let unique = SEEDS.fetch_add(0xA076_1D64_78BD_642F, Relaxed);
    mix(nanos ^ unique ^ u64::from(std::process::id()).rotate_left(32))
}

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    x ^= x >> 33;
    x = x.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    x ^ (x >> 33)
}

/// A uniform draw in `[0, 1)`.
#[inline]
pub fn uniform() -> f64 {
    STATE.with(|cell| {
        let (epoch, mut s) = cell.get();
        let now = EPOCH.load(Relaxed);
        if epoch != now {
            s = seed();
        }
        s = s.wrapping_add(0xA076_1D64_78BD_642F);
        let t = u128::from(s) * u128::from(s ^ 0xE703_7ED1_A0B4_28DB);
        cell.set((now, s));
        let r = ((t >> 64) as u64) ^ (t as u64);
        (r >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    })
}

/// True with probability `rate`; no draw for rates of 0 or 1.
#[inline]
pub fn sample(rate: f64) -> bool {
    if rate >= 1.0 {
        true
    } else if rate <= 0.0 {
        false
    } else {
        uniform() < rate
    }
}

/// Makes every thread reseed before its next draw (call in a forked child).
pub fn reseed_after_fork() {
    EPOCH.fetch_add(1, Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_uniform_enough() {
        let n = 200_000;
        let hits = (0..n).filter(|_| sample(0.1)).count();
        assert!((hits as f64 - 20_000.0).abs() < 1_000.0, "{hits}");
        assert!((0..1000).map(|_| uniform()).all(|u| (0.0..1.0).contains(&u)));
        assert!(sample(1.0) && !sample(0.0));
    }

    #[test]
    fn reseeding_changes_the_stream() {
        let before: Vec<f64> = (0..4).map(|_| uniform()).collect();
        reseed_after_fork();
        let after: Vec<f64> = (0..4).map(|_| uniform()).collect();
        assert_ne!(before, after);
    }
}
