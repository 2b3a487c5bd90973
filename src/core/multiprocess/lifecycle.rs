//! Turning multi-process mode on and off, and keeping it right across `fork`: which registries
//! share the directory, a child's own file, the worker identity, resetting the directory.

use super::file::Writer;
use super::{compact, FileStore};
use crate::core::error::{Error, Result};
use crate::core::registry::Registry;
use parking_lot::Mutex;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

/// Registries in multi-process mode, for [`after_fork`].
static SHARED: Mutex<Vec<Weak<Registry>>> = Mutex::new(Vec::new());

/// Files registries of this process stopped writing ([`disable`]), with their directories and
/// registries. Each stays live (its counts must not vanish from other processes' scrapes) until
/// the process exits or its registry is enabled on that directory again, which takes the file
/// back instead of adding a second one that would count the process twice.
static DORMANT: Mutex<Vec<Dormant>> = Mutex::new(Vec::new());

struct Dormant {
    dir: PathBuf,
    registry: Weak<Registry>,
    writer: Arc<Writer>,
}

/// Moves `registry` (and its existing series, values included) to a file in `dir`, created if
/// missing with mode 0700.
///
/// # Errors
/// An argument error when `dir` is not a directory or another registry of this process already
/// uses it; [`Error::Store`] when the file cannot be created.
pub fn enable(registry: &Arc<Registry>, dir: &Path) -> Result<()> {
    if dir.as_os_str().is_empty() {
        return Err(Error::argument("multiprocess_dir must not be empty"));
    }
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::Store(format!("cannot create multiprocess_dir {}: {e}", dir.display())))?;
    }
    let canonical = dir.canonicalize().map_err(|e| Error::Store(format!("cannot resolve multiprocess_dir {}: {e}", dir.display())))?;
    if !canonical.is_dir() {
        return Err(Error::argument(format!("multiprocess_dir {} is not a directory", dir.display())));
    }
    let mut shared = SHARED.lock();
    shared.retain(|w| w.strong_count() > 0);
    for other in shared.iter().filter_map(Weak::upgrade) {
        if let Some(store) = file_store(&other) {
            if Arc::ptr_eq(&other, registry) && store.dir == canonical {
                return Ok(());
            }
            if store.dir == canonical {
                return Err(Error::argument(format!("multiprocess_dir {} is already used by another registry", dir.display())));
            }
        }
    }
    let store = match take_dormant(registry, &canonical) {
        Some(writer) => {
            // Its records hold this process's counts as of `disable`; the series are written
            // afresh with their current values.
            writer.retire_all();
            FileStore::resume(&canonical, writer)
        }
        None => FileStore::create(&canonical, "")?,
    };
    compact::keep_reserve(&canonical);
    registry.use_store(Arc::new(store), false)?;
    if !shared.iter().any(|w| w.as_ptr() == Arc::as_ptr(registry)) {
        shared.push(Arc::downgrade(registry));
    }
    Ok(())
}

/// The file `registry` left dormant in `dir` in this process, taken out of [`DORMANT`].
fn take_dormant(registry: &Arc<Registry>, dir: &Path) -> Option<Arc<Writer>> {
    let mut dormant = DORMANT.lock();
    let at = dormant
        .iter()
        .position(|d| d.dir == dir && d.registry.as_ptr() == Arc::as_ptr(registry) && d.writer.pid() == std::process::id())?;
    Some(dormant.swap_remove(at).writer)
}

/// The registry's file store, when it is in multi-process mode.
pub fn file_store(registry: &Registry) -> Option<Arc<FileStore>> {
    registry.store().into_any().downcast::<FileStore>().ok()
}

/// In a forked child, before it writes: every multi-process registry gets its own file. A no-op
/// in the process that created the files. Never fails: a registry whose file cannot be created
/// (its directory was removed, the disk is full) falls back to in-process storage — it must not
/// keep writing into the parent's file — and the reason is returned for a warning.
pub fn after_fork() -> Vec<String> {
    let pid = std::process::id();
    // The parent's dormant files are not this process's to take back.
    let inherited: Vec<_> = {
        let mut dormant = DORMANT.lock();
        let (theirs, ours): (Vec<_>, Vec<_>) = std::mem::take(&mut *dormant).into_iter().partition(|d| d.writer.pid() != pid);
        *dormant = ours;
        theirs
    };
    for d in inherited {
        d.writer.abandon();
        d.writer.detach_mapping();
    }
    let shared: Vec<Arc<Registry>> = SHARED.lock().iter().filter_map(Weak::upgrade).collect();
    let mut problems = Vec::new();
    for registry in shared {
        let Some(store) = file_store(&registry) else { continue };
        if store.writer.pid() == pid {
            continue;
        }
        store.writer.abandon();
        let moved = FileStore::create(&store.dir, "").and_then(|child| registry.use_store(Arc::new(child), true));
        if let Err(e) = moved {
            problems.push(format!("{e}; this process's metrics stay in memory and are not shared"));
            let _ = registry.use_store(Arc::new(crate::core::store::LocalStore), true);
        }
        // Every series has moved: the parent's mapping is no longer read here.
        store.writer.detach_mapping();
    }
    problems
}

/// Takes `registry` out of multi-process mode: its series move back into process memory with
/// this process's values. Its file stays until the process exits (its counts must not vanish
/// from the other processes' scrapes) and is then compacted like any other.
///
/// # Errors
/// Only in theory: moving to process memory cannot run out of file space.
pub fn disable(registry: &Arc<Registry>) -> Result<()> {
    if let Some(store) = file_store(registry) {
        registry.use_store(Arc::new(crate::core::store::LocalStore), false)?;
        let dormant = Dormant { dir: store.dir.clone(), registry: Arc::downgrade(registry), writer: Arc::clone(&store.writer) };
        DORMANT.lock().push(dormant);
    }
    SHARED.lock().retain(|w| w.strong_count() > 0 && w.as_ptr() != Arc::as_ptr(registry));
    Ok(())
}

/// Empties `dir` of the files of processes that have exited and of the archive, keeping live
/// processes' files (see [`compact::reset`]); returns how many files were removed.
///
/// # Errors
/// The directory cannot be read, or a compaction holds its lock.
pub fn reset_dir(dir: &Path) -> Result<usize> {
    compact::reset(dir).map_err(|e| crate::core::error::Error::Store(format!("cannot reset {}: {e}", dir.display())))
}

/// Names this process on per-process gauges of every multi-process registry (`pid="puma_0"`
/// instead of the pid); a forked child starts unnamed.
pub fn set_identity(identity: &str) {
    for registry in SHARED.lock().iter().filter_map(Weak::upgrade) {
        if let Some(store) = file_store(&registry) {
            store.set_identity(identity);
        }
    }
}
