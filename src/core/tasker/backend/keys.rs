//! Tasker's stable series keys, and dynamic-label keys from `(name, value)` pairs.

use crate::core::error::{Error, Result};
use crate::core::labels::{KeyBuf, KEY_SEPARATOR};
use crate::core::registry::{Family, Series};

/// Tasker's stable series key: `name` or `name{a="x",b="y"}` with label names sorted.
pub fn series_key(family: &Family, series: &Series) -> String {
    stable_key(&family.desc().name, family.label_pairs(series))
}

/// The stable key of a name and `(label, value)` pairs in any order.
pub fn stable_key(name: &str, mut pairs: Vec<(&str, &str)>) -> String {
    if pairs.is_empty() {
        return name.to_owned();
    }
    pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
    format!("{name}{{{}}}", crate::core::labels::render_named_pairs(pairs))
}

/// Encodes `(name, value)` label pairs (any order) as a dynamic-label key.
///
/// # Errors
/// A name given twice.
pub fn pairs_key(pairs: &mut [(&[u8], &[u8])]) -> Result<KeyBuf> {
    let mut key = KeyBuf::new();
    crate::core::labels::push_pairs(&mut key, pairs)?;
    if key.as_bytes().iter().filter(|b| **b == KEY_SEPARATOR).count() != pairs.len() * 2 {
        return Err(Error::argument("label names and values must be valid UTF-8"));
    }
    Ok(key)
}
