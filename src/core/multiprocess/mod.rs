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
mod merge;

pub use file::{ARCHIVE, COMPACT_LOCK, MAX_FILE, SUFFIX};

use crate::core::desc::FamilyDesc;
use crate::core::error::{Error, Result};
use crate::core::exposition::FamilySnapshot;
use crate::core::metric::{MetricKind, Sample};
use crate::core::registry::Registry;
use crate::core::store::{Cells, FamilySlot, Store};
use file::Writer;
use merge::Merger;
use parking_lot::Mutex;
use std::any::Any;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

/// Cells in this process's file in a shared directory.
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    writer: Arc<Writer>,
    merger: Mutex<Merger>,
}

impl FileStore {
    /// Creates this process's file in `dir` (which must exist).
    ///
    /// # Errors
    /// [`Error::Store`] when the file cannot be created.
    pub fn create(dir: &Path, identity: &str) -> Result<Self> {
        Ok(FileStore { dir: dir.to_owned(), writer: Arc::new(Writer::create(dir, identity)?), merger: Mutex::default() })
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

impl Store for FileStore {
    fn family(&self, desc: &FamilyDesc) -> Result<FamilySlot> {
        let off = self.writer.append(&format::family_record(&format::encode_desc(desc), 0))?;
        Ok(FamilySlot::new(off as u64, self.cells(off, format::F_DROPPED, 1)))
    }

    fn allocate(&self, family: &FamilySlot, key: &[u8], init: &[u64]) -> Result<Cells> {
        let off = self.writer.append(&format::series_record(family.id() as usize, key, "", init)?)?;
        Ok(self.cells(off, format::S_CELLS, init.len()))
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

/// Registries in multi-process mode, for [`after_fork`].
static SHARED: Mutex<Vec<Weak<Registry>>> = Mutex::new(Vec::new());

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
    registry.use_store(Arc::new(FileStore::create(&canonical, "")?), false)?;
    if !shared.iter().any(|w| w.as_ptr() == Arc::as_ptr(registry)) {
        shared.push(Arc::downgrade(registry));
    }
    Ok(())
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
    if file_store(registry).is_some() {
        registry.use_store(Arc::new(crate::core::store::LocalStore), false)?;
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

/// What to expose for `registry`: its own series, or in multi-process mode the merge of every
/// process's file.
pub fn collect(registry: &Registry) -> Scrape {
    match file_store(registry) {
        Some(store) => store.scrape(registry),
        None => Scrape { families: crate::core::exposition::snapshot(registry), problems: Vec::new() },
    }
}

/// A file the scrape could not use, or could only partly use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub path: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A merged exposition and what got in the way.
#[derive(Debug, Default)]
pub struct Scrape {
    /// Every family of every process, merged.
    pub families: Vec<FamilySnapshot>,
    /// Files skipped or partly read.
    pub problems: Vec<Problem>,
}

/// How many files of each kind a scrape read.
#[derive(Debug, Default, Clone, Copy)]
struct FileCounts {
    live: u64,
    dead: u64,
    archive: u64,
    skipped: u64,
}

/// A file of another process, mapped read-only for one scrape.
struct Mapped {
    ptr: *mut libc::c_void,
    len: usize,
    _file: File,
}

impl Mapped {
    fn open(path: &Path) -> std::result::Result<(Mapped, bool), String> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| if e.raw_os_error() == Some(libc::ELOOP) { "a symbolic link".to_owned() } else { e.to_string() })?;
        let meta = file.metadata().map_err(|e| e.to_string())?;
        if !meta.file_type().is_file() || meta.file_type().is_fifo() {
            return Err("not a regular file".into());
        }
        let len = meta.len() as usize;
        if !(format::HEADER_LEN..=MAX_FILE).contains(&len) {
            return Err(format!("{len} bytes is not a plausible size"));
        }
        // A file of our own pid that is not ours is another store of this process (a dead
        // process whose pid we reuse is indistinguishable, and is left for after we exit).
        let live = file::locked_by_other(&file).map_err(|e| e.to_string())? || pid_in_name(path) == Some(std::process::id());
        // SAFETY: a read-only shared mapping of a regular file we hold open, `len` bytes long.
        let ptr = unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_SHARED, file.as_raw_fd(), 0) };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error().to_string());
        }
        Ok((Mapped { ptr, len, _file: file }, live))
    }

    /// [`Mapped::open`], then the header read and checked: `(header, live, mapping)`.
    fn open_with_header(path: &Path) -> std::result::Result<(format::Header, bool, Mapped), String> {
        Self::open(path).and_then(|(m, live)| format::Header::read(&m.view()).map(|h| (h, live, m)))
    }

    fn view(&self) -> format::View {
        // SAFETY: `len` bytes are mapped at `ptr` (page-aligned) while `self` lives.
        unsafe { format::View::new(self.ptr.cast(), self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `open` mapped.
        unsafe { libc::munmap(self.ptr, self.len) };
    }
}

/// What a scrape finds in the directory.
struct Listing {
    processes: Vec<PathBuf>,
    archive: Option<PathBuf>,
    foreign: Vec<PathBuf>,
}

fn list(dir: &Path) -> std::io::Result<Listing> {
    let mut l = Listing { processes: Vec::new(), archive: None, foreign: Vec::new() };
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if name == ARCHIVE {
            l.archive = Some(entry.path());
        } else if name.starts_with("proc-") && name.ends_with(SUFFIX) {
            l.processes.push(entry.path());
        } else {
            l.foreign.push(entry.path());
        }
    }
    l.processes.sort();
    Ok(l)
}

impl FileStore {
    /// Merges every file in the directory: compacts the files of exited processes first when
    /// there are any, then folds each file into the view.
    pub fn scrape(&self, registry: &Registry) -> Scrape {
        for family in registry.families() {
            family.expire_stale();
        }
        let mut problems = Vec::new();
        let mut merger = self.merger.lock();
        let mut counts = FileCounts::default();
        let mut opened = self.open_all(&mut problems, &mut counts);
        if opened.iter().any(|(_, h, live, _)| !live && h.role == format::ROLE_PROCESS) {
            match compact::run(&self.dir, &self.writer) {
                Ok(mut found) => {
                    if found.compacted {
                        problems.clear();
                        counts = FileCounts::default();
                        opened = self.open_all(&mut problems, &mut counts);
                    }
                    problems.append(&mut found.problems);
                }
                Err(e) => problems.push(Problem { path: self.dir.display().to_string(), reason: format!("compaction failed: {e}") }),
            }
        }
        merger.begin();
        let own = self.writer.view();
        let own_header = format::Header::read(&own).ok();
        counts.live += 1;
        // The archive last: it lists the files it absorbed, which are then skipped.
        let mut absorbed: Vec<u64> = Vec::new();
        let mut keep = vec![self.writer.nonce()];
        if let Some(i) = opened.iter().position(|(_, h, _, _)| h.role == format::ROLE_ARCHIVE) {
            let (path, h, _, m) = opened.remove(i);
            absorbed = merger.fold(h.nonce, &m.view(), "", false);
            note_damage(&merger, h.nonce, &path, &mut problems);
            keep.push(h.nonce);
            counts.archive += 1;
        }
        // Every process folds in the same order (oldest first), so ties resolve alike everywhere.
        let mut order: Vec<(u64, u64, Option<usize>)> =
            opened.iter().enumerate().map(|(i, (_, h, _, _))| (h.started_ms, h.nonce, Some(i))).collect();
        if let Some(h) = &own_header {
            order.push((h.started_ms, h.nonce, None));
        }
        order.sort_unstable();
        for (_, _, i) in order {
            let Some(i) = i else {
                if let Some(h) = &own_header {
                    merger.fold(h.nonce, &own, &identity_of(h), true);
                    note_damage(&merger, h.nonce, self.writer.path(), &mut problems);
                }
                continue;
            };
            let (path, h, live, m) = &opened[i];
            if absorbed.contains(&h.nonce) || h.nonce == self.writer.nonce() {
                continue;
            }
            merger.fold(h.nonce, &m.view(), &identity_of(h), *live);
            note_damage(&merger, h.nonce, path, &mut problems);
            keep.push(h.nonce);
            if *live {
                counts.live += 1;
            } else {
                counts.dead += 1;
            }
        }
        merger.retain_files(&keep);
        let mut families = merger.snapshots();
        let dropped = merger.dropped();
        crate::core::exposition::insert_dropped(&mut families, dropped.iter().map(|(n, c)| (n.as_str(), *c)));
        insert_files_gauge(&mut families, counts);
        Scrape { families, problems }
    }

    /// Opens every process file and the archive (in that order: see `compact`).
    #[allow(clippy::type_complexity)]
    fn open_all(&self, problems: &mut Vec<Problem>, counts: &mut FileCounts) -> Vec<(PathBuf, format::Header, bool, Mapped)> {
        let listing = match list(&self.dir) {
            Ok(l) => l,
            Err(e) => {
                problems.push(Problem { path: self.dir.display().to_string(), reason: format!("cannot list: {e}") });
                return Vec::new();
            }
        };
        for path in listing.foreign {
            problems.push(Problem { path: path.display().to_string(), reason: "not a tasker_metrics file".into() });
            counts.skipped += 1;
        }
        let mut out = Vec::new();
        for path in listing.processes.into_iter().chain(listing.archive) {
            if path == self.writer.path() {
                continue;
            }
            let opened = Mapped::open_with_header(&path);
            match opened {
                Ok((h, live, m)) => out.push((path, h, live, m)),
                Err(reason) if reason.contains("No such file") => {}
                Err(reason) => {
                    problems.push(Problem { path: path.display().to_string(), reason });
                    counts.skipped += 1;
                }
            }
        }
        out
    }
}

/// The pid in a `proc-<pid>-<nonce>.tmm` name.
fn pid_in_name(path: &Path) -> Option<u32> {
    path.file_name()?.to_str()?.strip_prefix("proc-")?.split('-').next()?.parse().ok()
}

/// How per-process gauges name the file's process: its worker identity, or its pid.
fn identity_of(h: &format::Header) -> String {
    if h.identity.is_empty() {
        h.pid.to_string()
    } else {
        h.identity.clone()
    }
}

/// Reports what part of a file the merger could not read, if any.
fn note_damage(merger: &Merger, nonce: u64, path: &Path, problems: &mut Vec<Problem>) {
    if let Some(d) = merger.files.get(&nonce).and_then(|f| f.damage.clone()) {
        problems.push(Problem { path: path.display().to_string(), reason: d });
    }
}

/// Name of the gauge of files read per scrape.
pub const FILES_GAUGE: &str = "tasker_metrics_multiprocess_files";

fn insert_files_gauge(families: &mut Vec<FamilySnapshot>, c: FileCounts) {
    let help = "Files in the multi-process directory at the last scrape, by state (skipped: unreadable or foreign)";
    let mut family = FamilySnapshot::named(FILES_GAUGE, help, MetricKind::Gauge, None, None);
    for (state, n) in [("live", c.live), ("dead", c.dead), ("archive", c.archive), ("skipped", c.skipped)] {
        family.push(&format!("state=\"{state}\""), Sample::Gauge(n as f64), Vec::new(), 0.0);
    }
    let at = families.partition_point(|f| f.name.as_str() < FILES_GAUGE);
    if families.get(at).is_none_or(|f| f.name != FILES_GAUGE) {
        families.insert(at, family);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::desc::GaugeMode;
    use crate::core::exposition::parse::{parse, Syntax};
    use crate::core::exposition::prometheus;
    use crate::core::labels::encode_key;
    use crate::core::metric::Buckets;
    use crate::core::registry::{Number, Update};

    fn registry(dir: &Path) -> (Arc<Registry>, Arc<FileStore>) {
        std::fs::create_dir_all(dir).unwrap();
        let reg = Arc::new(Registry::default());
        let store = Arc::new(FileStore::create(dir, "").unwrap());
        reg.use_store(store.clone(), false).unwrap();
        (reg, store)
    }

    fn text(store: &FileStore, reg: &Registry) -> (String, Vec<Problem>) {
        let scrape = store.scrape(reg);
        (prometheus::render(&scrape.families), scrape.problems)
    }

    fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        parse(text, Syntax::Prometheus)
            .unwrap()
            .into_iter()
            .find(|s| s.name == name && s.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>() == labels)
            .map(|s| s.value)
    }

    fn counter(reg: &Registry, name: &str, labels: &[&str]) -> Arc<crate::core::registry::Family> {
        reg.register(FamilyDesc::new(name, "help", MetricKind::Counter, labels, None).unwrap()).unwrap()
    }

    fn inc(fam: &crate::core::registry::Family, key: &[&str], n: i64) {
        let _ = fam.update(&encode_key(key), Update::Increment(Number::Int(n))).unwrap();
    }

    /// A copy of `src` that looks like the file of an exited process `pid`.
    fn dead_copy(src: &Path, dir: &Path, pid: u32, nonce: u64) -> PathBuf {
        let mut bytes = std::fs::read(src).unwrap();
        bytes[format::H_PID..format::H_PID + 4].copy_from_slice(&pid.to_ne_bytes());
        bytes[format::H_NONCE..format::H_NONCE + 8].copy_from_slice(&nonce.to_ne_bytes());
        let path = dir.join(format!("proc-{pid}-{nonce:016x}.tmm"));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn reset_removes_what_no_live_process_owns_and_keeps_live_files() {
        let dir = tempfile::tempdir().unwrap();
        let (src, ss) = registry(&dir.path().join("src"));
        inc(&counter(&src, "jobs_total", &["queue"]), &["q"], 5);
        let (reg, store) = registry(dir.path());
        inc(&counter(&reg, "jobs_total", &["queue"]), &["q"], 2);
        for i in 0..3 {
            dead_copy(ss.path(), dir.path(), 4_000_000 + i, 70 + u64::from(i));
        }
        assert_eq!(value(&text(&store, &reg).0, "jobs_total", &[("queue", "q")]), Some(17.0), "compacted into the archive");
        dead_copy(ss.path(), dir.path(), 4_000_009, 79);
        std::fs::write(dir.path().join("notes.txt"), b"not ours").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("proc-9-0000000000000009.tmm")).unwrap();
        assert_eq!(reset_dir(dir.path()).unwrap(), 2, "the archive and the dead file");
        let mut left: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        left.retain(|n| n != "src" && !n.starts_with(".compact"));
        left.sort();
        assert_eq!(left.len(), 3, "this process's own file, the stranger's text and the planted link: {left:?}");
        assert_eq!(value(&text(&store, &reg).0, "jobs_total", &[("queue", "q")]), Some(2.0), "the live file's 2 stay, the rest is gone");
    }

    #[test]
    fn meets_the_store_contract() {
        let dir = tempfile::tempdir().unwrap();
        crate::core::store::contract::check(&FileStore::create(dir.path(), "").unwrap());
    }

    #[test]
    fn a_registry_moves_into_its_file_with_its_values() {
        let dir = tempfile::tempdir().unwrap();
        let reg = Arc::new(Registry::default());
        let jobs = counter(&reg, "jobs_total", &["queue"]);
        inc(&jobs, &["a"], 5);
        let held = jobs.series(&encode_key(&["b"])).unwrap();
        enable(&reg, dir.path()).unwrap();
        enable(&reg, dir.path()).unwrap();
        held.increment(Number::Int(2)).unwrap();
        inc(&jobs, &["a"], 1);
        let store = file_store(&reg).unwrap();
        let (t, problems) = text(&store, &reg);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(value(&t, "jobs_total", &[("queue", "a")]), Some(6.0));
        assert_eq!(value(&t, "jobs_total", &[("queue", "b")]), Some(2.0));
        assert_eq!(value(&t, FILES_GAUGE, &[("state", "live")]), Some(1.0));
        let other = Arc::new(Registry::default());
        assert!(enable(&other, dir.path()).unwrap_err().to_string().contains("already used by another registry"));
        assert!(jobs.remove(&encode_key(&["b"])));
        let (t, _) = text(&store, &reg);
        assert_eq!(value(&t, "jobs_total", &[("queue", "b")]), None, "a removed series leaves the merged view");
        assert!(reg.unregister("jobs_total"));
        assert!(!text(&store, &reg).0.contains("jobs_total"));
    }

    #[test]
    fn files_of_one_directory_merge_by_kind_and_gauge_mode() {
        let dir = tempfile::tempdir().unwrap();
        let (a, sa) = registry(dir.path());
        let (b, sb) = registry(dir.path());
        sb.set_identity("worker_1");
        for (reg, n, g) in [(&a, 3, 1.5), (&b, 4, 7.0)] {
            inc(&counter(reg, "jobs_total", &["queue"]), &["q"], n);
            let h = reg
                .register(
                    FamilyDesc::new::<&str>("latency_seconds", "h", MetricKind::Histogram, &[], Some(Buckets::new(&[1.0]).unwrap()))
                        .unwrap(),
                )
                .unwrap();
            let _ = h.update(b"", Update::Observe(g)).unwrap();
            for mode in GaugeMode::ALL {
                let desc = FamilyDesc::new::<&str>(&format!("g_{}", mode.as_str()), "g", MetricKind::Gauge, &[], None).unwrap();
                let fam = reg.register(desc.with_aggregation(mode).unwrap()).unwrap();
                let _ = fam.update(b"", Update::Set(g)).unwrap();
            }
        }
        let (t, problems) = text(&sa, &a);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(value(&t, "jobs_total", &[("queue", "q")]), Some(7.0));
        assert_eq!(value(&t, "latency_seconds_count", &[]), Some(2.0));
        assert_eq!(value(&t, "latency_seconds_bucket", &[("le", "1.0")]), Some(0.0));
        assert_eq!(value(&t, "latency_seconds_sum", &[]), Some(8.5));
        assert_eq!(value(&t, "g_sum", &[]), Some(8.5));
        assert_eq!(value(&t, "g_livesum", &[]), Some(8.5));
        assert_eq!(value(&t, "g_max", &[]), Some(7.0));
        assert_eq!(value(&t, "g_min", &[]), Some(1.5));
        assert_eq!(value(&t, "g_mostrecent", &[]), Some(7.0), "b set its gauge last");
        let me = std::process::id().to_string();
        assert_eq!(value(&t, "g_all", &[("pid", me.as_str())]), Some(1.5));
        assert_eq!(value(&t, "g_all", &[("pid", "worker_1")]), Some(7.0));
        let sorted = |t: &str| {
            let mut v: Vec<String> = t.lines().map(str::to_owned).collect();
            v.sort();
            v
        };
        assert_eq!(sorted(&text(&sb, &b).0), sorted(&t), "every process scrapes the same merge");
    }

    #[test]
    fn files_of_exited_processes_fold_into_the_archive_once() {
        let dir = tempfile::tempdir().unwrap();
        let (src, ss) = registry(&dir.path().join("src"));
        let jobs = counter(&src, "jobs_total", &["queue"]);
        inc(&jobs, &["q"], 10);
        let live_gauge = src
            .register(
                FamilyDesc::new::<&str>("busy", "g", MetricKind::Gauge, &[], None).unwrap().with_aggregation(GaugeMode::LiveSum).unwrap(),
            )
            .unwrap();
        let _ = live_gauge.update(b"", Update::Set(3.0)).unwrap();
        let (reg, store) = registry(dir.path());
        inc(&counter(&reg, "jobs_total", &["queue"]), &["q"], 1);
        for i in 0..50 {
            dead_copy(ss.path(), dir.path(), 4_000_000 + i, 1000 + u64::from(i));
        }
        let (t, problems) = text(&store, &reg);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(value(&t, "jobs_total", &[("queue", "q")]), Some(501.0));
        assert_eq!(value(&t, "busy", &[]), None, "live-only gauges of exited processes are gone");
        let names: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(names.iter().filter(|n| n.starts_with("proc-")).count(), 1, "{names:?}");
        assert!(names.contains(&ARCHIVE.to_owned()));
        // A file the archive absorbed but that survived (a crash before its deletion) is not
        // counted again, and goes at the next compaction.
        let again = dead_copy(ss.path(), dir.path(), 4_000_000, 1000);
        dead_copy(ss.path(), dir.path(), 5_000_000, 9999);
        let (t, _) = text(&store, &reg);
        assert_eq!(value(&t, "jobs_total", &[("queue", "q")]), Some(511.0));
        assert!(!again.exists());
        assert_eq!(value(&text(&store, &reg).0, "jobs_total", &[("queue", "q")]), Some(511.0), "stable across scrapes");
    }

    #[test]
    fn damaged_and_foreign_files_are_skipped_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let (src, ss) = registry(&dir.path().join("src"));
        let jobs = counter(&src, "jobs_total", &["queue"]);
        for i in 0..20 {
            inc(&jobs, &[&format!("q{i}")], 1);
        }
        let (reg, store) = registry(dir.path());
        inc(&counter(&reg, "jobs_total", &["queue"]), &["q0"], 1);
        let whole = std::fs::read(ss.path()).unwrap();
        let used = u64::from_ne_bytes(whole[format::H_END..format::H_END + 8].try_into().unwrap()) as usize;
        // Truncated mid-record: what precedes the cut is kept.
        let cut = dead_copy(ss.path(), dir.path(), 4_100_000, 1);
        std::fs::write(&cut, &whole[..used - 20]).unwrap();
        // Garbage where a record length should be.
        let bad = dead_copy(ss.path(), dir.path(), 4_100_001, 2);
        let mut bytes = std::fs::read(&bad).unwrap();
        bytes[format::HEADER_LEN..format::HEADER_LEN + 4].copy_from_slice(&7u32.to_ne_bytes());
        std::fs::write(&bad, bytes).unwrap();
        std::fs::write(dir.path().join("proc-1-0000000000000003.tmm"), b"not ours at all").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
        std::os::unix::fs::symlink(ss.path(), dir.path().join("proc-2-0000000000000004.tmm")).unwrap();
        let (t, problems) = text(&store, &reg);
        let reasons: Vec<String> = problems.iter().map(|p| format!("{}: {}", p.path, p.reason)).collect();
        assert!(reasons.iter().any(|r| r.contains("notes.txt: not a tasker_metrics file")), "{reasons:?}");
        assert!(reasons.iter().any(|r| r.contains("symbolic link")), "{reasons:?}");
        assert!(reasons.iter().any(|r| r.contains("bad length 7")), "{reasons:?}");
        assert!(reasons.iter().any(|r| r.contains("plausible size") || r.contains("bad magic")), "{reasons:?}");
        let total: f64 = (0..20).filter_map(|i| value(&t, "jobs_total", &[("queue", &format!("q{i}"))])).sum();
        assert_eq!(total, 1.0 + 19.0, "the truncated file's 19 whole series count, the garbled one's none");
        assert_eq!(value(&t, FILES_GAUGE, &[("state", "skipped")]), Some(3.0));
        assert!(dir.path().join("notes.txt").exists(), "foreign files are never deleted");
        let (t2, _) = text(&store, &reg);
        assert_eq!(value(&t2, "jobs_total", &[("queue", "q1")]), value(&t, "jobs_total", &[("queue", "q1")]));
    }

    #[test]
    fn an_expired_counter_keeps_its_share_of_the_merged_total() {
        let dir = tempfile::tempdir().unwrap();
        let (a, sa) = registry(dir.path());
        let (b, _sb) = registry(dir.path());
        let desc = || FamilyDesc::new("jobs_total", "h", MetricKind::Counter, &["q"], None).unwrap().with_expires_after(0.05).unwrap();
        let (ja, jb) = (a.register(desc()).unwrap(), b.register(desc()).unwrap());
        inc(&ja, &["x"], 3);
        crate::core::registry::advance_clock(80);
        inc(&jb, &["x"], 4);
        let (t, _) = text(&sa, &a);
        assert!(ja.find(&encode_key(&["x"])).is_none(), "expired in this process");
        assert_eq!(value(&t, "jobs_total", &[("q", "x")]), Some(7.0), "but its 3 still count: no false reset");
        inc(&ja, &["x"], 1);
        assert_eq!(value(&text(&sa, &a).0, "jobs_total", &[("q", "x")]), Some(8.0));
    }

    #[test]
    fn conflicting_definitions_are_reported_not_merged() {
        let dir = tempfile::tempdir().unwrap();
        let (a, sa) = registry(dir.path());
        let (b, _sb) = registry(dir.path());
        inc(&counter(&a, "x_total", &["k"]), &["v"], 1);
        inc(&counter(&b, "x_total", &["other"]), &["v"], 5);
        let (t, problems) = text(&sa, &a);
        // The oldest process's definition wins, the same in every process.
        let shown = [value(&t, "x_total", &[("k", "v")]), value(&t, "x_total", &[("other", "v")])];
        assert!(shown == [Some(1.0), None] || shown == [None, Some(5.0)], "{t}");
        assert!(problems.iter().any(|p| p.reason.contains("differs from another process's definition")), "{problems:?}");
    }

    #[test]
    fn a_file_replaced_under_the_reader_is_read_afresh() {
        let dir = tempfile::tempdir().unwrap();
        let (one, s1) = registry(&dir.path().join("one"));
        inc(&counter(&one, "x_total", &[]), &[], 3);
        let (two, s2) = registry(&dir.path().join("two"));
        inc(&counter(&two, "x_total", &[]), &[], 40);
        let (reg, store) = registry(dir.path());
        // Two "live" files of our own pid: the reader must not compact them.
        let name = dir.path().join(format!("proc-{}-00000000000000aa.tmm", std::process::id()));
        std::fs::copy(s1.path(), &name).unwrap();
        assert_eq!(value(&text(&store, &reg).0, "x_total", &[]), Some(3.0));
        let tmp = dir.path().join(".swap");
        std::fs::copy(s2.path(), &tmp).unwrap();
        std::fs::rename(&tmp, &name).unwrap();
        assert_eq!(value(&text(&store, &reg).0, "x_total", &[]), Some(40.0));
    }
}
