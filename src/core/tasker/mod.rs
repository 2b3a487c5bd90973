//! Everything Tasker-shaped, on top of the generic core: the event router and its sampler
//! (`router`, `sampler`), deriving metrics from events (`backend`, `derived_labels`), the rules
//! and messages of Tasker's metric types (`metric_types`, re-exported here) and the text of
//! Tasker's own exporter (`exposition`).
//!
//! An event's path: `router` decides where it goes, `backend` plans and applies the metrics it
//! derives into the registry (`core::registry`), and a scrape reads them back through
//! `core::exposition` (or `exposition` here, for Tasker's exporter).

pub mod backend;
pub mod derived_labels;
pub mod exposition;
mod metric_types;
pub mod router;
pub mod sampler;

pub use metric_types::*;
