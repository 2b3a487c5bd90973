//! Folding the files of exited processes into the archive.
//!
//! Under an exclusive lock on [`COMPACT_LOCK`] (one compactor at a time; a busy lock means
//! someone else is compacting, and the scrape simply reads the dead files itself):
//! 1. find process files whose owner no longer holds their lock;
//! 2. merge the current archive and those files (counters and histograms summed, gauges per
//!    their mode; live-only gauges dropped) into a new archive that also lists the files it
//!    absorbed, written under a temporary name, synced, and renamed over the old one;
//! 3. delete the absorbed files.
//!
//! A crash between 2 and 3 leaves files the archive already counts; readers skip any file the
//! archive lists, and the next compaction deletes them. Readers open process files before the
//! archive, so a file deleted in 3 is either already open (and then skipped because the new
//! archive lists it) or counted through the archive they open afterwards.

use super::file::{self, Writer, ARCHIVE, COMPACT_LOCK, SUFFIX};
use super::format::{self, Builder, ROLE_ARCHIVE};
use super::merge::Merger;
use super::reader::{identity_of, note_damage, Mapped, Problem};
use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// What a compaction did.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    pub compacted: bool,
    pub problems: Vec<Problem>,
}

/// The directory's compaction lock file, created if missing (never through a link).
fn lock_file(dir: &Path) -> std::io::Result<std::fs::File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(dir.join(COMPACT_LOCK))
}

/// Compacts `dir` if it can take the lock and there is anything to fold.
///
/// # Errors
/// I/O errors writing the archive; nothing is deleted then.
pub(super) fn run(dir: &Path, own: &Writer) -> std::io::Result<Outcome> {
    let lock = lock_file(dir)?;
    if file::lock(&lock).is_err() {
        return Ok(Outcome::default());
    }
    let mut out = Outcome::default();
    let mut dead: Vec<(PathBuf, format::Header, Mapped)> = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if path == own.path() {
            continue;
        }
        if name.starts_with(".archive-") || (name.starts_with(".tmp-") && name.ends_with(SUFFIX) && !in_use(&path)) {
            // Leftovers of a compactor or a process that died mid-start (we hold the lock).
            let _ = std::fs::remove_file(&path);
            continue;
        }
        if !(name.starts_with("proc-") && name.ends_with(SUFFIX)) {
            continue;
        }
        match Mapped::open_with_header(&path) {
            Ok((h, false, m)) if h.role == format::ROLE_PROCESS => dead.push((path, h, m)),
            Ok(_) => {}
            Err(_) => {} // reported by the scrape that reads it
        }
    }
    if dead.is_empty() {
        return Ok(out);
    }
    dead.sort_by_key(|(_, h, _)| h.started_ms);

    let mut merger = Merger::default();
    merger.begin();
    let mut already: Vec<u64> = Vec::new();
    let archive_path = dir.join(ARCHIVE);
    let old = match Mapped::open_with_header(&archive_path) {
        Ok((h, _, m)) if h.role == ROLE_ARCHIVE => Some((h, m)),
        _ => None,
    };
    if let Some((h, m)) = &old {
        already = merger.fold(h.nonce, &m.view(), "", false);
        note_damage(&merger, h.nonce, &archive_path, &mut out.problems);
    }
    let mut absorbed = Vec::new();
    for (path, h, m) in &dead {
        if !already.contains(&h.nonce) {
            merger.fold(h.nonce, &m.view(), &identity_of(h), false);
            note_damage(&merger, h.nonce, path, &mut out.problems);
        }
        absorbed.push(h.nonce);
    }

    let nonce = file::random_u64();
    let mut b = Builder::new(ROLE_ARCHIVE, std::process::id(), nonce, crate::core::metric::unix_ms(), "");
    for family in merger.families.iter().filter(|f| f.seen == merger.gen) {
        let at = b.push(format::family_record(&format::encode_desc(&family.desc), family.dropped));
        for slot in family.slots.iter().filter(|s| s.gen == merger.gen) {
            match format::series_record(at, &slot.key, &slot.origin, &slot.acc.cells()) {
                Ok(r) => {
                    b.push(r);
                }
                Err(e) => out.problems.push(Problem { path: archive_path.display().to_string(), reason: e.to_string() }),
            }
        }
    }
    for n in &absorbed {
        b.push(format::absorbed_record(*n));
    }

    let tmp = dir.join(format!(".archive-{}-{nonce:016x}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f =
            OpenOptions::new().write(true).create_new(true).mode(0o600).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(&tmp)?;
        f.write_all(&b.buf)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &archive_path)
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    for (path, _, _) in &dead {
        let _ = std::fs::remove_file(path);
    }
    out.compacted = true;
    Ok(out)
}

/// Whether a half-created process file is still locked by its creator.
/// Empties `dir` of everything no live process owns, the archive included: what a fresh deploy
/// wants, so counts of an earlier run do not carry forward. Files of live processes (another
/// server sharing the directory, or this process's own) stay. Runs under the compaction lock.
///
/// # Errors
/// The directory cannot be read, or a compaction holds the lock (try again).
pub fn reset(dir: &Path) -> std::io::Result<usize> {
    let lock = lock_file(dir)?;
    file::lock(&lock)?;
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let ours = name == ARCHIVE
            || name.starts_with(".archive-")
            || ((name.starts_with("proc-") || name.starts_with(".tmp-")) && name.ends_with(SUFFIX));
        // Only regular files (never a FIFO or a link someone planted), never this process's own
        // (its record locks are invisible to itself), and no other live process's.
        let own = name.strip_prefix("proc-").and_then(|r| r.split('-').next()) == Some(&std::process::id().to_string());
        if ours && !own && entry.file_type()?.is_file() && (name == ARCHIVE || name.starts_with(".archive-") || !in_use(&path)) {
            std::fs::remove_file(&path)?;
            removed += 1;
        }
    }
    Ok(removed)
}

fn in_use(path: &Path) -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .and_then(|f| file::locked_by_other(&f))
        .unwrap_or(false)
}
