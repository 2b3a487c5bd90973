//! Exemplars: a trace reference attached to a counter increment or a histogram observation,
//! rendered by OpenMetrics only. A series keeps its latest exemplar per counter / per bucket in
//! lock-free slots allocated on first use.

use crate::core::error::{Error, Result};
use crate::core::labels::{render_named_pairs, validate_label_name};
use arc_swap::ArcSwapOption;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// OpenMetrics' limit on the label names and values of one exemplar, in characters.
pub const MAX_EXEMPLAR_CHARS: usize = 128;

/// One exemplar: its labels (rendered), the value it came with and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    labels: String,
    value: f64,
    timestamp: f64,
}

impl Exemplar {
    /// Validates `pairs` (label names, at most 128 characters of names and values in all).
    ///
    /// # Errors
    /// An argument error naming the bad label or the length.
    pub fn new(pairs: &[(&str, &str)], value: f64) -> Result<Self> {
        let chars: usize = pairs.iter().map(|(k, v)| k.chars().count() + v.chars().count()).sum();
        if chars > MAX_EXEMPLAR_CHARS {
            return Err(Error::argument(format!("exemplar labels must not exceed {MAX_EXEMPLAR_CHARS} characters, got {chars}")));
        }
        for (name, _) in pairs {
            validate_label_name(name)?;
        }
        let labels = render_named_pairs(pairs.iter().copied());
        let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        Ok(Exemplar { labels, value, timestamp })
    }

    /// `trace_id="abc"`, escaped.
    pub fn labels(&self) -> &str {
        &self.labels
    }

    /// The value it was recorded with.
    pub fn value(&self) -> f64 {
        self.value
    }

    /// Seconds since the epoch.
    pub fn timestamp(&self) -> f64 {
        self.timestamp
    }
}

/// Latest exemplar per slot (one for a counter, one per bucket for a histogram).
#[derive(Debug, Default)]
pub struct Exemplars(once_cell::sync::OnceCell<Box<[ArcSwapOption<Exemplar>]>>);

impl Exemplars {
    /// Stores `e` in `slot` of `slots`.
    pub fn store(&self, slots: usize, slot: usize, e: Exemplar) {
        let all = self.0.get_or_init(|| (0..slots).map(|_| ArcSwapOption::empty()).collect());
        if let Some(cell) = all.get(slot) {
            cell.store(Some(Arc::new(e)));
        }
    }

    /// The current exemplars, `None` where there is none; empty when none was ever stored.
    pub fn load(&self) -> Vec<Option<Arc<Exemplar>>> {
        self.0.get().map(|all| all.iter().map(|c| c.load_full()).collect()).unwrap_or_default()
    }

    /// Forgets every exemplar.
    pub fn clear(&self) {
        if let Some(all) = self.0.get() {
            all.iter().for_each(|c| c.store(None));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_and_renders() {
        let e = Exemplar::new(&[("trace_id", "a\"b")], 2.0).unwrap();
        assert_eq!(e.labels(), r#"trace_id="a\"b""#);
        assert!(e.timestamp() > 1.6e9);
        assert!(Exemplar::new(&[("1bad", "x")], 1.0).is_err());
        let long = "x".repeat(121);
        assert_eq!(
            Exemplar::new(&[("trace_id", &long)], 1.0).unwrap_err().to_string(),
            "exemplar labels must not exceed 128 characters, got 129"
        );
    }

    #[test]
    fn slots() {
        let ex = Exemplars::default();
        assert!(ex.load().is_empty());
        ex.store(3, 1, Exemplar::new(&[("a", "b")], 1.0).unwrap());
        let loaded = ex.load();
        assert_eq!(loaded.len(), 3);
        assert!(loaded[0].is_none() && loaded[1].is_some());
        ex.clear();
        assert!(ex.load().iter().all(Option::is_none));
    }
}
