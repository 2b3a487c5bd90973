//! tasker_metrics: lock-free native metrics for Ruby, with a Tasker telemetry backend.
//!
//! [`core`] is pure Rust (labels, registry, metric kinds, exposition, stores) and knows nothing of
//! Ruby; `ruby` is the magnus glue that converts values and raises Ruby errors.

pub mod core;
#[cfg(feature = "ruby")]
mod ruby;

// The macro exports `Init_tasker_metrics` (no_mangle), which carries no doc comment of its own.
#[cfg(feature = "ruby")]
#[allow(missing_docs)]
mod entry {
    /// Called by Ruby when it loads `tasker_metrics.so`.
    #[magnus::init]
    fn init(ruby: &magnus::Ruby) -> Result<(), magnus::Error> {
        crate::ruby::init(ruby)
    }
}
