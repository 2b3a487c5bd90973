//! tasker_metrics: lock-free native metrics for Ruby, with a Tasker telemetry backend.
//!
//! [`core`] is pure Rust (labels, registry, metric kinds, exposition, stores) and knows nothing of
//! Ruby; `ruby` is the magnus glue that converts values and raises Ruby errors.

pub mod core;
