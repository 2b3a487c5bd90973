//! A scrape: expire, compact the files of exited processes, then merge every file into one
//! exposition and count the files by state.

use super::compact::{self, DirLock};
use super::merge::Merger;
use super::reader::{identity_of, list, note_damage, Mapped, Problem};
use super::{file_store, format, FileStore};
use crate::core::exposition::stream::Part;
use crate::core::exposition::FamilySnapshot;
use crate::core::metric::{MetricKind, Sample};
use crate::core::registry::Registry;
use std::path::PathBuf;
use std::sync::Arc;

/// What to expose for `registry`: its own series, or in multi-process mode the merge of every
/// process's file.
///
/// A process whose file could not grow (disk full, `ulimit -f`) leaves multi-process mode here,
/// keeping every value in memory: its counts so far stay in the other processes' totals (its
/// file stays, like after `disable`), and the scrape says why once.
pub fn collect(registry: &Arc<Registry>) -> Scrape {
    let (merged, problems) = merge(registry);
    Scrape { families: merged.unwrap_or_else(|| crate::core::exposition::snapshot(registry)), problems }
}

/// [`collect`] for a streamed exposition: the merged families, or this process's live ones.
pub fn collect_parts(registry: &Arc<Registry>) -> (Vec<Part>, Vec<Problem>) {
    let (merged, problems) = merge(registry);
    let parts = merged.map_or_else(|| Part::of_registry(registry), |families| families.into_iter().map(Part::Snapshot).collect());
    (parts, problems)
}

/// The families named `names`, read (merged across processes in multi-process mode), in the
/// exposition's order, and the problems met.
pub fn collect_named(registry: &Arc<Registry>, names: &[&str]) -> (Vec<FamilySnapshot>, Vec<Problem>) {
    let (parts, problems) = collect_parts(registry);
    (parts.into_iter().filter(|p| names.contains(&p.name())).map(Part::read).collect(), problems)
}

/// Every process's families merged, or `None` when only this process's registry is to be read.
fn merge(registry: &Arc<Registry>) -> (Option<Vec<FamilySnapshot>>, Vec<Problem>) {
    let Some(store) = file_store(registry) else {
        return (None, Vec::new());
    };
    let failed = store.failed.lock().clone();
    match failed {
        None => {
            let scrape = store.scrape(registry);
            (Some(scrape.families), scrape.problems)
        }
        Some(reason) => {
            let reason = match super::disable(registry) {
                Ok(()) => format!("{reason}; multi-process mode is off for this process, which keeps counting in memory (its counts until now stay in the shared totals)"),
                Err(e) => format!("{reason}; leaving multi-process mode failed: {e}"),
            };
            (None, vec![Problem { path: store.path().display().to_string(), reason }])
        }
    }
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

impl FileStore {
    /// Merges every file in the directory: compacts the files of exited processes first when
    /// there are any, then folds each file into the view.
    pub fn scrape(&self, registry: &Registry) -> Scrape {
        for family in registry.families() {
            family.expire_stale();
        }
        let mut problems = Vec::new();
        let mut merger = self.merger.lock();
        // Held until every file is read (see `compact`).
        let held = match DirLock::shared(&self.dir) {
            Ok(held) => Some(held),
            Err(e) => {
                let reason = format!("read without the directory lock (a compaction may be counted twice or not at all): {e}");
                problems.push(Problem { path: self.dir.display().to_string(), reason });
                None
            }
        };
        let mut counts = FileCounts::default();
        let mut opened = self.open_all(&mut problems, &mut counts);
        let dead = opened.iter().any(|(_, h, live, _)| !live && h.role == format::ROLE_PROCESS);
        if let Some(held) = held.as_ref().filter(|held| dead && held.try_upgrade()) {
            let compacted = compact::run_locked(&self.dir, &self.writer, held);
            held.downgrade();
            match compacted {
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
        // A file someone truncates while it is read is dropped, and the fold done again without it.
        let keep = loop {
            let mut round = (Vec::new(), counts);
            let keep = self.fold_all(&mut merger, &opened, &mut round.0, &mut round.1);
            let shrunk: Vec<usize> = (0..opened.len()).filter(|&i| opened[i].3.truncated()).collect();
            if shrunk.is_empty() {
                problems.append(&mut round.0);
                counts = round.1;
                break keep;
            }
            for i in shrunk.into_iter().rev() {
                let (path, h, _, _) = opened.remove(i);
                merger.files.remove(&h.nonce);
                let reason = "shrank while it was read (truncated by another program): skipped".to_owned();
                problems.push(Problem { path: path.display().to_string(), reason });
                counts.skipped += 1;
            }
        };
        merger.retain_files(&keep);
        drop(held);
        let merged = merger.snapshots();
        merger.forget_stale();
        let dir = self.dir.display().to_string();
        problems.extend(merged.conflicts.into_iter().map(|reason| Problem { path: dir.clone(), reason }));
        let (mut families, dropped) = (merged.families, merged.dropped);
        crate::core::exposition::insert_dropped(&mut families, dropped.iter().map(|(n, c)| (n.as_str(), *c)));
        insert_files_gauge(&mut families, counts);
        Scrape { families, problems }
    }

    /// Folds this process's file and every opened file into `merger`; returns the nonces of
    /// the files folded.
    fn fold_all(
        &self,
        merger: &mut Merger,
        opened: &[(PathBuf, format::Header, bool, Mapped)],
        problems: &mut Vec<Problem>,
        counts: &mut FileCounts,
    ) -> Vec<u64> {
        merger.begin();
        let own = self.writer.view();
        let own_header = format::Header::read(&own).ok();
        counts.live += 1;
        // The archive last: it lists the files it absorbed, which are then skipped.
        let mut absorbed: Vec<u64> = Vec::new();
        let mut keep = vec![self.writer.nonce()];
        if let Some((path, h, _, m)) = opened.iter().find(|(_, h, _, _)| h.role == format::ROLE_ARCHIVE) {
            absorbed = merger.fold(h.nonce, &m.view(), "", false);
            note_damage(merger, h.nonce, path, problems);
            keep.push(h.nonce);
            counts.archive += 1;
        }
        // Every process folds in the same order (oldest first), so ties resolve alike everywhere.
        let mut order: Vec<(u64, u64, Option<usize>)> = opened
            .iter()
            .enumerate()
            .filter(|(_, (_, h, _, _))| h.role != format::ROLE_ARCHIVE)
            .map(|(i, (_, h, _, _))| (h.started_ms, h.nonce, Some(i)))
            .collect();
        if let Some(h) = &own_header {
            order.push((h.started_ms, h.nonce, None));
        }
        order.sort_unstable();
        for (_, _, i) in order {
            let Some(i) = i else {
                if let Some(h) = &own_header {
                    merger.fold(h.nonce, &own, &identity_of(h), true);
                    note_damage(merger, h.nonce, self.writer.path(), problems);
                }
                continue;
            };
            let (path, h, live, m) = &opened[i];
            if absorbed.contains(&h.nonce) || h.nonce == self.writer.nonce() {
                continue;
            }
            merger.fold(h.nonce, &m.view(), &identity_of(h), *live);
            note_damage(merger, h.nonce, path, problems);
            keep.push(h.nonce);
            if *live {
                counts.live += 1;
            } else {
                counts.dead += 1;
            }
        }
        keep
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
        let mut open = |path: PathBuf| {
            if path == self.writer.path() {
                return;
            }
            match Mapped::open_with_header(&path) {
                Ok((h, live, m)) => out.push((path, h, live, m)),
                Err(reason) if reason.contains("No such file") => {}
                Err(reason) => {
                    problems.push(Problem { path: path.display().to_string(), reason });
                    counts.skipped += 1;
                }
            }
        };
        listing.processes.into_iter().for_each(&mut open);
        #[cfg(test)]
        pause::at(&self.dir);
        listing.archive.into_iter().for_each(open);
        out
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

/// A pause point for tests: a scrape of a directory with a hook stops there, holding the
/// directory lock, after it opened every file and before it reads any.
#[cfg(test)]
pub(super) mod pause {
    use std::path::{Path, PathBuf};
    use std::sync::Arc;

    type Hook = Arc<dyn Fn() + Send + Sync>;
    static HOOKS: parking_lot::Mutex<Vec<(PathBuf, Hook)>> = parking_lot::Mutex::new(Vec::new());

    /// Runs `hook` inside every scrape of `dir` until [`clear`].
    pub fn set(dir: &Path, hook: impl Fn() + Send + Sync + 'static) {
        HOOKS.lock().push((dir.to_owned(), Arc::new(hook)));
    }

    pub fn clear(dir: &Path) {
        HOOKS.lock().retain(|(d, _)| d != dir);
    }

    pub(in crate::core::multiprocess) fn at(dir: &Path) {
        let hook = HOOKS.lock().iter().find(|(d, _)| d == dir).map(|(_, h)| Arc::clone(h));
        if let Some(hook) = hook {
            hook();
        }
    }
}
