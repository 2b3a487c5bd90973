//! Multi-process storage: Puma, Unicorn and Passenger workers each write their own file in one
//! directory, and a scrape in any of them merges every file into one exposition.
//!
//! - Writing: [`FileStore`] is a [`Store`] whose cells live in this process's memory-mapped file
//!   (`file`), so an increment is the same single atomic operation as in-process; the layout is
//!   in `format`.
//! - Forking: [`after_fork`] gives a child its own file and moves every series there before the
//!   child writes (counters and histograms start at zero: the parent's file still has them).
//! - Reading: a scrape opens every file, asks the kernel whether its owner still holds the file's
//!   lock (alive) and merges values per family (`merge`), counters and histograms summed, gauges
//!   per their [`GaugeMode`](crate::core::desc::GaugeMode).
//! - Compaction: files of exited processes are folded into one archive and deleted (`compact`),
//!   so the directory holds one file per live process plus the archive and a lock file.

mod compact;
mod file;
mod format;
mod lifecycle;
mod merge;
mod reader;
mod scrape;
mod store;
#[cfg(test)]
mod tests;

pub use file::{ARCHIVE, COMPACT_LOCK, MAX_FILE, SUFFIX};
pub use lifecycle::{after_fork, disable, enable, file_store, reset_dir, set_identity};
pub use reader::Problem;
pub use scrape::{collect, Scrape, FILES_GAUGE};
pub use store::FileStore;
