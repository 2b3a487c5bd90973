//! Folding the files of exited processes into the archive, and the directory lock that keeps
//! that apart from reading.
//!
//! Every scrape holds [`COMPACT_LOCK`] shared from listing the directory to its last read; a
//! compaction holds it exclusively, and only takes it when no scrape of any process is reading
//! (a scrape upgrades its own shared lock, never waiting: when another scrape reads, it reads the
//! dead files itself). So no scrape ever sees a file both as itself and inside the archive, or as
//! neither, whatever the timing. A compaction:
//! 1. finds process files whose owner no longer holds their lock;
//! 2. merges the current archive and those files (counters and histograms summed, gauges per
//!    their mode; gauges that keep one series per process dropped) into a new archive that also
//!    lists the files it absorbed, written under a temporary name, synced, and renamed over the
//!    old one;
//! 3. deletes the absorbed files.
//!
//! On a full disk step 2 first frees a reserve file kept for it (and, if that is still short,
//! absorbs fewer files at a time): a full disk does not stop compaction, which then needs no
//! space beyond the reserve it set aside earlier and what it frees.
//!
//! A crash between 2 and 3 leaves files the archive already counts; readers skip any file the
//! archive lists, and the next compaction deletes them (and lists them until it has).

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

/// The directory's lock file, created if missing (never through a link).
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

/// How long a scrape waits for a compaction to finish before it reads without the lock.
const SHARED_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A hold on the directory lock; released when dropped (closing its own descriptor).
pub(super) struct DirLock {
    file: std::fs::File,
}

impl DirLock {
    /// The shared hold of a scrape, waiting out a compaction in progress (bounded: a compactor
    /// stopped with SIGSTOP must not stop every scrape).
    ///
    /// # Errors
    /// The lock file cannot be opened, or a compaction held the lock for [`SHARED_WAIT`].
    pub(super) fn shared(dir: &Path) -> std::io::Result<DirLock> {
        let file = lock_file(dir)?;
        let deadline = std::time::Instant::now() + SHARED_WAIT;
        let mut pause = std::time::Duration::from_micros(200);
        loop {
            match file::set_lock(&file, libc::F_RDLCK) {
                Ok(()) => return Ok(DirLock { file }),
                Err(e) if busy(&e) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(std::time::Duration::from_millis(10));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The exclusive hold of a compaction or a reset; `None` when anyone holds the lock.
    ///
    /// # Errors
    /// The lock file cannot be opened.
    pub(super) fn exclusive(dir: &Path) -> std::io::Result<Option<DirLock>> {
        let file = lock_file(dir)?;
        Ok(file::lock(&file).is_ok().then_some(DirLock { file }))
    }

    /// Turns a shared hold exclusive when no other hold exists; never waits.
    pub(super) fn try_upgrade(&self) -> bool {
        file::set_lock(&self.file, libc::F_WRLCK).is_ok()
    }

    /// Turns an exclusive hold back into a shared one, atomically (no compaction can slip in).
    pub(super) fn downgrade(&self) {
        let _ = file::set_lock(&self.file, libc::F_RDLCK);
    }
}

fn busy(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EACCES))
}

/// Compacts `dir` under an exclusive hold of its lock.
///
/// # Errors
/// I/O errors writing the archive; nothing is deleted then.
pub(super) fn run_locked(dir: &Path, own: &Writer, _held: &DirLock) -> std::io::Result<Outcome> {
    let mut out = Outcome::default();
    let mut dead: Vec<(PathBuf, format::Header, Mapped)> = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if path == own.path() {
            continue;
        }
        if name.starts_with(".archive-") || abandoned_tmp(&name, &path) {
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

    // On a full disk, the reserve gives the new archive room; and when even that is short,
    // fewer files at a time (each absorbed file frees at least what it adds to the archive).
    let mut take = dead.len();
    let mut released = false;
    let written = loop {
        out.problems.clear();
        match write_archive(dir, &dead[..take], &mut out) {
            Ok(written) => break written,
            Err(e) if no_space(&e) && (!released || take > 1) => {
                if released {
                    take /= 2;
                } else {
                    released = true;
                    let _ = std::fs::remove_file(dir.join(RESERVE));
                }
            }
            Err(e) => return Err(e),
        }
    };
    let Some(len) = written else { return Ok(out) };
    for (path, _, _) in &dead[..take] {
        let _ = std::fs::remove_file(path);
    }
    reserve_for(dir, len);
    out.compacted = true;
    Ok(out)
}

/// Writes the archive holding the current one and `dead`; the archive's length, or `None` when
/// a file shrank under the read (nothing written then).
fn write_archive(dir: &Path, dead: &[(PathBuf, format::Header, Mapped)], out: &mut Outcome) -> std::io::Result<Option<u64>> {
    let mut merger = Merger::default();
    merger.archiving = true;
    merger.begin();
    let mut already: Vec<u64> = Vec::new();
    let archive_path = dir.join(ARCHIVE);
    // A damaged archive is never overwritten: what can be read of it is carried into the new
    // one, and the file itself is moved aside for whoever wants to recover the rest.
    let mut damaged = None;
    let mut shrunk = false;
    match Mapped::open_with_header(&archive_path) {
        Ok((h, _, m)) if h.role == ROLE_ARCHIVE => {
            already = merger.fold(h.nonce, &m.view(), "", false);
            shrunk = m.truncated();
            let before = out.problems.len();
            note_damage(&merger, h.nonce, &archive_path, &mut out.problems);
            if out.problems.len() > before {
                damaged = Some(out.problems[before].reason.clone());
            }
        }
        Ok(_) => damaged = Some("not an archive".to_owned()),
        Err(reason) if archive_path.exists() => damaged = Some(reason),
        Err(_) => {}
    }
    let mut absorbed = Vec::new();
    for (path, h, m) in dead {
        if !already.contains(&h.nonce) {
            merger.fold(h.nonce, &m.view(), &identity_of(h), false);
            note_damage(&merger, h.nonce, path, &mut out.problems);
        }
        absorbed.push(h.nonce);
    }
    // A file someone truncated while it was read: its reads saw zeros, so write nothing.
    if shrunk || dead.iter().any(|(_, _, m)| m.truncated()) {
        let reason = "compaction skipped: a file shrank while it was read (truncated by another program)".to_owned();
        out.problems.push(Problem { path: dir.display().to_string(), reason });
        return Ok(None);
    }

    let nonce = file::random_u64();
    let mut b = Builder::new(ROLE_ARCHIVE, std::process::id(), nonce, crate::core::metric::unix_ms(), "");
    for family in merger.families.iter().filter(|f| f.seen == merger.gen) {
        let at = b.push(format::family_record(&format::encode_desc(&family.desc), family.dropped));
        for slot in family.slots.iter().filter(|s| s.gen == merger.gen) {
            match format::series_record(at, &slot.key, &slot.origin, &slot.acc.cells(&family.desc)) {
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
    let mut write = || -> std::io::Result<()> {
        let mut f =
            OpenOptions::new().write(true).create_new(true).mode(0o600).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC).open(&tmp)?;
        f.write_all(&b.buf)?;
        f.sync_all()?;
        if let Some(reason) = &damaged {
            // Only once the new archive is safely written, so a retry reads the same archive.
            let aside = dir.join(format!("archive-damaged-{}{SUFFIX}", crate::core::metric::unix_ms()));
            std::fs::rename(&archive_path, &aside)?;
            let reason = format!("damaged archive ({reason}) moved aside to {}; what could be read of it is kept", aside.display());
            out.problems.push(Problem { path: archive_path.display().to_string(), reason });
        }
        std::fs::rename(&tmp, &archive_path)
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(Some(b.buf.len() as u64))
}

/// Space set aside so that a compaction can write its archive on a full disk: the archive's
/// size and a quarter more, at least [`RESERVE_MIN`] more. Each compaction sizes it anew.
const RESERVE: &str = ".compact.reserve";
const RESERVE_MIN: u64 = 64 * 1024;
const RESERVE_STEP: u64 = 4096;

fn no_space(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}

/// Sets the reserve aside for the directory's archive as it is; each process does on enabling
/// multi-process mode, so the first compaction already has one.
pub(super) fn keep_reserve(dir: &Path) {
    reserve_for(dir, std::fs::metadata(dir.join(ARCHIVE)).map_or(0, |m| m.len()));
}

/// Grows the reserve for an archive of `archive_len` bytes (best effort: on a full disk it
/// stays as it is, and the next compaction tries again). Never shrinks it, so a stat is all it
/// costs once the reserve is large enough.
fn reserve_for(dir: &Path, archive_len: u64) {
    let want = archive_len + (archive_len / 4).max(RESERVE_MIN);
    let path = dir.join(RESERVE);
    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.len() >= want) {
        return;
    }
    let Ok(f) = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(&path)
    else {
        return;
    };
    if !f.metadata().is_ok_and(|m| m.file_type().is_file()) {
        return;
    }
    // Short of room for all of it, as much as there is: a smaller reserve still lets the next
    // compaction absorb some files, and each it absorbs frees more.
    let mut len = want;
    while file::allocate(&f, len as usize).is_err_and(|e| no_space(&e)) && len > RESERVE_STEP {
        len = (len / 2).max(RESERVE_STEP);
    }
}

/// Empties `dir` of everything no live process owns, the archive included: what a fresh deploy
/// wants, so counts of an earlier run do not carry forward. Files of live processes (another
/// server sharing the directory, or this process's own) stay. Runs under the compaction lock.
///
/// # Errors
/// The directory cannot be read, or a compaction holds the lock (try again).
pub fn reset(dir: &Path) -> std::io::Result<usize> {
    let Some(_held) = DirLock::exclusive(dir)? else {
        return Err(std::io::Error::from_raw_os_error(libc::EAGAIN));
    };
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
        let unowned = name == ARCHIVE
            || name.starts_with(".archive-")
            || abandoned_tmp(&name, &path)
            || (name.starts_with("proc-") && !in_use(&path));
        if ours && !own && entry.file_type()?.is_file() && unowned {
            std::fs::remove_file(&path)?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// A `.tmp-<pid>-` file (where files cannot be created unnamed) whose creator is gone: neither
/// locked (it may not have taken the lock yet) nor its pid alive.
fn abandoned_tmp(name: &str, path: &Path) -> bool {
    let Some(pid) = name.strip_prefix(".tmp-").filter(|_| name.ends_with(SUFFIX)).and_then(|r| r.split('-').next()) else {
        return false;
    };
    !pid.parse().is_ok_and(file::pid_alive) && !in_use(path)
}

/// Whether a process file is locked by its owner. Anything but a regular file (a FIFO someone
/// planted would block `open`) is never opened, and counts as in use: it is not ours to delete.
fn in_use(path: &Path) -> bool {
    if !std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_file()) {
        return true;
    }
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .and_then(|f| file::locked_by_other(&f))
        .unwrap_or(false)
}
