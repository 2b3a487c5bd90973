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
mod sigbus;
mod store;
#[cfg(test)]
mod tests;

pub use file::{ARCHIVE, COMPACT_LOCK, MAX_FILE, SUFFIX};
pub use lifecycle::{after_fork, disable, enable, file_store, reset_dir, set_identity};
pub use reader::Problem;
pub use scrape::{collect, collect_named, collect_parts, Scrape, FILES_GAUGE};
pub use store::FileStore;

/// Reads `bytes` as a scrape reads another process's file (header, records, merge into
/// snapshots), for the fuzz target and the corruption tests (feature `testing`). Whatever the
/// bytes, it returns (possibly nothing) and never panics or allocates beyond what they hold.
#[cfg(any(test, feature = "testing"))]
pub fn read_untrusted(bytes: &[u8]) -> Vec<crate::core::exposition::FamilySnapshot> {
    let mut words = vec![0u64; bytes.len().div_ceil(8)];
    // SAFETY: `words` holds at least `bytes.len()` bytes.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), words.as_mut_ptr().cast::<u8>(), bytes.len()) };
    // SAFETY: `words` is 8-aligned and outlives the view.
    let view = unsafe { format::View::new(words.as_ptr().cast(), bytes.len()) };
    let Ok(header) = format::Header::read(&view) else { return Vec::new() };
    let mut merger = merge::Merger::default();
    for live in [false, true] {
        merger.begin();
        merger.fold(header.nonce, &view, &reader::identity_of(&header), live);
    }
    merger.snapshots().families
}
