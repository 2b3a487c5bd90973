//! Where a native histogram's buckets go in its window of cells: the finest schema whose
//! populated range fits, or a reset, or (at the coarsest schema) the outermost buckets clamped.

use super::sample::{dedup_sum, reduce};
use crate::core::metric::native::{bucket_index, SCHEMA_MIN};

/// Indexes above `lo + allow − 1` are counted in that bucket, so the list spans `allow` buckets.
fn squeeze(list: &mut Vec<(i32, u64)>, allow: usize) {
    if let Some(&(lo, _)) = list.first() {
        let cap = lo.saturating_add(allow.max(1) as i32 - 1);
        list.iter_mut().for_each(|e| e.0 = e.0.min(cap));
        dedup_sum(list);
    }
}

pub(super) fn span(list: &[(i32, u64)]) -> usize {
    match (list.first(), list.last()) {
        (Some(lo), Some(hi)) => (i64::from(hi.0) - i64::from(lo.0) + 1) as usize,
        _ => 0,
    }
}

/// A new arrangement of the windows.
#[derive(Debug, PartialEq)]
pub(super) struct Plan {
    pub(super) schema: i8,
    pub(super) clamped: bool,
    pub(super) reset: bool,
    pub(super) pos_base: i32,
    pub(super) neg_base: i32,
    pub(super) split: usize,
    pub(super) positive: Vec<(i32, u64)>,
    pub(super) negative: Vec<(i32, u64)>,
}

/// Lays out `positive` and `negative` (at `schema`) plus room for the bucket of `need`
/// (`(positive side, |v|)`) in `width` cells: at the finest schema that fits, or reset to
/// `initial` when `may_reset`, or clamped at the coarsest.
pub(super) fn plan(
    width: usize,
    initial: i8,
    mut schema: i8,
    mut positive: Vec<(i32, u64)>,
    mut negative: Vec<(i32, u64)>,
    need: Option<(bool, f64)>,
    may_reset: bool,
) -> Plan {
    let insert = |list: &mut Vec<(i32, u64)>, i: i32| {
        if let Err(at) = list.binary_search_by_key(&i, |e| e.0) {
            list.insert(at, (i, 0));
        }
    };
    let place = |pos: &mut Vec<(i32, u64)>, neg: &mut Vec<(i32, u64)>, schema: i8| {
        if let Some((is_positive, magnitude)) = need {
            let i = bucket_index(magnitude, schema);
            insert(if is_positive { pos } else { neg }, i);
        }
    };
    place(&mut positive, &mut negative, schema);
    let (mut reset, mut clamped) = (false, false);
    loop {
        let (p, n) = (span(&positive), span(&negative));
        if p + n <= width {
            break;
        }
        if may_reset && !reset {
            reset = true;
            schema = initial;
            positive.clear();
            negative.clear();
            place(&mut positive, &mut negative, schema);
        } else if schema > SCHEMA_MIN {
            schema -= 1;
            reduce(&mut positive, 1);
            reduce(&mut negative, 1);
        } else {
            let half = width / 2;
            let (pa, na) = if p <= half {
                (p, width - p)
            } else if n <= width - half {
                (width - n, n)
            } else {
                (half, width - half)
            };
            squeeze(&mut positive, pa);
            squeeze(&mut negative, na);
            clamped = true;
            break;
        }
    }
    let (p, n) = (span(&positive), span(&negative));
    let slack = width - p - n;
    // Spare cells go to the sides in proportion to what they hold (all to the positive side
    // while there are no negative observations), each range centred in its window.
    let split = if n == 0 {
        width
    } else if p == 0 {
        0
    } else {
        p + slack * p / (p + n)
    };
    let base =
        |list: &[(i32, u64)], room: usize, span: usize| list.first().map_or(0, |&(lo, _)| lo.saturating_sub(((room - span) / 2) as i32));
    Plan {
        schema,
        clamped,
        reset,
        pos_base: base(&positive, split, p),
        neg_base: base(&negative, width - split, n),
        split,
        positive,
        negative,
    }
}
