//! The pure-Rust core: every rule of the gem lives here and is tested with plain `cargo test`.
//! Nothing under `core` may name a magnus or rb-sys type.

pub mod cells;
pub mod desc;
pub mod error;
pub mod exemplar;
pub mod exposition;
pub mod labels;
pub mod metric;
pub mod multiprocess;
pub mod rails;
pub mod registry;
pub mod store;
pub mod tasker;

pub use error::{Error, ErrorKind, Result};
