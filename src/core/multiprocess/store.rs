//! [`FileStore`]: this process's cells, in its memory-mapped file in the shared directory.

use super::file::Writer;
use super::format;
use super::merge::Merger;
use crate::core::desc::FamilyDesc;
use crate::core::error::Result;
use crate::core::store::{Cells, FamilySlot, LocalStore, Store};
use parking_lot::Mutex;
use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Cells in this process's file in a shared directory.
#[derive(Debug)]
pub struct FileStore {
    pub(super) dir: PathBuf,
    pub(super) writer: Arc<Writer>,
    pub(super) merger: Mutex<Merger>,
    /// Why the file could not grow (disk full, `ulimit -f`, the reservation used up), once it
    /// could not. New families and series then get cells in process memory, so an update never
    /// raises; the next scrape in this process turns multi-process mode off for it.
    pub(super) failed: Mutex<Option<String>>,
}

impl FileStore {
    /// Creates this process's file in `dir` (which must exist).
    ///
    /// # Errors
    /// [`Error::Store`] when the file cannot be created.
    pub fn create(dir: &Path, identity: &str) -> Result<Self> {
        Ok(FileStore {
            dir: dir.to_owned(),
            writer: Arc::new(Writer::create(dir, identity)?),
            merger: Mutex::default(),
            failed: Mutex::default(),
        })
    }

    /// A store over a file this process already writes (see `lifecycle::enable`).
    pub(super) fn resume(dir: &Path, writer: Arc<Writer>) -> Self {
        FileStore { dir: dir.to_owned(), writer, merger: Mutex::default(), failed: Mutex::default() }
    }

    /// The shared directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// This process's file.
    pub fn path(&self) -> &Path {
        self.writer.path()
    }

    /// Names this process on per-process gauges (`pid="puma_0"` instead of the pid).
    pub fn set_identity(&self, identity: &str) {
        self.writer.set_identity(identity);
    }

    fn cells(&self, off: usize, at: usize, len: usize) -> Cells {
        let owner: Arc<dyn Any + Send + Sync> = Arc::clone(&self.writer) as _;
        // SAFETY: `append` placed `len` initialised, 8-aligned cells at `off + at` inside the
        // file; the mapping never moves and lives as long as the writer, which the cells own.
        unsafe { Cells::from_raw(self.writer.cell_ptr(off, at), len, off as u64, owner) }
    }
}

impl FileStore {
    /// Records the first reason the file could not grow.
    fn fail(&self, e: &crate::core::error::Error) {
        self.failed.lock().get_or_insert_with(|| e.to_string());
    }
}

impl Store for FileStore {
    fn family(&self, desc: &FamilyDesc) -> Result<FamilySlot> {
        match self.writer.append(&format::family_record(&format::encode_desc(desc), 0)) {
            Ok(off) => Ok(FamilySlot::new(off as u64, self.cells(off, format::F_DROPPED, 1))),
            Err(e) => {
                self.fail(&e);
                LocalStore.family(desc)
            }
        }
    }

    fn allocate(&self, family: &FamilySlot, key: &[u8], init: &[u64]) -> Result<Cells> {
        // A family that got process memory (id 0; file records start after the header) keeps
        // its series there too.
        if family.id() == 0 {
            return LocalStore.allocate(family, key, init);
        }
        match self.writer.append(&format::series_record(family.id() as usize, key, "", init)?) {
            Ok(off) => Ok(self.cells(off, format::S_CELLS, init.len()).recycled_by(Arc::clone(&self.writer) as _)),
            Err(e) => {
                self.fail(&e);
                LocalStore.allocate(family, key, init)
            }
        }
    }

    fn revive(&self, cells: &Cells) {
        if self.writer.owns(cells.addr()) {
            self.writer.revive(cells.record() as usize);
        }
    }

    fn retire(&self, cells: &Cells) {
        if self.writer.owns(cells.addr()) {
            self.writer.retire(cells.record() as usize);
        }
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}
