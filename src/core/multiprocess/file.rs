//! The writing side: one file per process, mapped once at a fixed address for the process's
//! whole life so cells never move. The mapping reserves [`MAX_FILE`] bytes of address space up
//! front; the file itself grows (allocated, not sparse, so a full disk is an error here rather
//! than a SIGBUS on a later write) as records are appended.

use super::format::{self, ROLE_PROCESS};
use crate::core::error::{Error, Result};
use parking_lot::Mutex;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering};

/// Most bytes one process file may hold (address space reserved per process, not memory).
pub const MAX_FILE: usize = 1 << 30;
const GROW_STEP: usize = 64 << 10;
const GROW_MAX: usize = 4 << 20;

/// Suffix of process files; the archive is [`ARCHIVE`].
pub const SUFFIX: &str = ".tmm";
/// The archive's file name.
pub const ARCHIVE: &str = "archive.tmm";
/// The lock file serialising compaction.
pub const COMPACT_LOCK: &str = ".compact.lock";

/// This process's file.
#[derive(Debug)]
pub struct Writer {
    base: *mut u8,
    reserve: usize,
    file: Mutex<Option<File>>,
    tail: Mutex<Tail>,
    path: PathBuf,
    pid: u32,
    nonce: u64,
}

#[derive(Debug)]
struct Tail {
    end: usize,
    len: usize,
    /// Retired series records nothing in this process refers to any more, by record length:
    /// a new series of that length takes one instead of growing the file.
    free: std::collections::HashMap<usize, Vec<usize>>,
}

// SAFETY: `base` is a shared mapping touched only through atomics and the tail lock.
unsafe impl Send for Writer {}
// SAFETY: as above.
unsafe impl Sync for Writer {}

impl Writer {
    /// Creates this process's file in `dir`, complete and locked before any other process can
    /// see it: on Linux as an unnamed file (`O_TMPFILE`) given its name only once it is live;
    /// elsewhere (or where the filesystem refuses) under a hidden `.tmp-<pid>-` name that
    /// compaction leaves alone while that pid lives.
    ///
    /// # Errors
    /// [`Error::Store`] naming the path and the system error.
    pub fn create(dir: &Path, identity: &str) -> Result<Self> {
        let pid = std::process::id();
        let nonce = random_u64();
        let path = dir.join(format!("proc-{pid}-{nonce:016x}{SUFFIX}"));
        let (file, tmp) = match create_unnamed(dir) {
            Some(file) => (file, None),
            None => {
                let tmp = dir.join(format!(".tmp-{pid}-{nonce:016x}{SUFFIX}"));
                let file = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                    .open(&tmp)
                    .map_err(|e| Error::Store(format!("cannot create {}: {e}", tmp.display())))?;
                (file, Some(tmp))
            }
        };
        let shown = tmp.clone().unwrap_or_else(|| dir.to_owned());
        let fail = |what: &str, e: std::io::Error| Error::Store(format!("{what} {}: {e}", shown.display()));
        let cleanup = |e: Error| {
            if let Some(tmp) = &tmp {
                let _ = std::fs::remove_file(tmp);
            }
            e
        };
        lock(&file).map_err(|e| cleanup(fail("cannot lock", e)))?;
        allocate(&file, GROW_STEP).map_err(|e| cleanup(fail("cannot size", e)))?;
        // Address space may be capped (ulimit -v): reserve less rather than fail.
        let mut mapped = None;
        for reserve in [MAX_FILE, MAX_FILE / 4, MAX_FILE / 16] {
            // SAFETY: a fresh shared mapping of our own file; nothing else aliases the range.
            let base = unsafe {
                libc::mmap(std::ptr::null_mut(), reserve, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, file.as_raw_fd(), 0)
            };
            if base != libc::MAP_FAILED {
                mapped = Some((base, reserve));
                break;
            }
        }
        let Some((base, reserve)) = mapped else {
            return Err(cleanup(fail("cannot map", std::io::Error::last_os_error())));
        };
        let writer = Writer {
            base: base.cast(),
            reserve,
            file: Mutex::new(Some(file)),
            tail: Mutex::new(Tail { end: format::HEADER_LEN, len: GROW_STEP, free: std::collections::HashMap::new() }),
            path: path.clone(),
            pid,
            nonce,
        };
        let mut header = vec![0u8; format::HEADER_LEN];
        format::write_header(&mut header, ROLE_PROCESS, pid, nonce, crate::core::metric::unix_ms(), identity);
        // SAFETY: the first HEADER_LEN bytes are inside the file and ours alone until it is published.
        unsafe { std::ptr::copy_nonoverlapping(header.as_ptr(), writer.base, header.len()) };
        let published = match &tmp {
            Some(tmp) => std::fs::rename(tmp, &path),
            None => link_unnamed(&writer, &path),
        };
        published.map_err(|e| cleanup(fail("cannot publish", e)))?;
        Ok(writer)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's random identity, which tells it apart from any earlier file of the same pid.
    pub fn nonce(&self) -> u64 {
        self.nonce
    }

    /// The process that created the file.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// A view of the file as published so far.
    pub fn view(&self) -> format::View {
        let end = self.tail.lock().end;
        // SAFETY: `end` bytes from `base` are mapped and inside the file for as long as `self`.
        unsafe { format::View::new(self.base, end) }
    }

    /// Names the process in the header (a worker index, shown on per-process gauges), under
    /// the identity's seqlock (see [`format::ident_word`]) so a render never reads a torn name.
    pub fn set_identity(&self, identity: &str) {
        let id = format::truncate_identity(identity);
        let _tail = self.tail.lock(); // one writer at a time
                                      // SAFETY: header words and bytes are inside the file and written through atomics.
        unsafe {
            let word = &*(self.base.add(format::H_IDENT_LEN) as *const AtomicU32);
            let seq = word.load(Ordering::Relaxed) >> 8;
            let writing = if seq % 2 == 0 { seq.wrapping_add(1) } else { seq };
            word.store(format::ident_word(writing, 0), Ordering::Relaxed);
            std::sync::atomic::fence(Ordering::Release);
            for (i, b) in id.bytes().enumerate() {
                (*(self.base.add(format::H_IDENT + i) as *const AtomicU8)).store(b, Ordering::Relaxed);
            }
            word.store(format::ident_word(writing.wrapping_add(1) & 0x00FF_FFFF, id.len()), Ordering::Release);
        }
    }

    /// Appends a complete record and publishes it; returns its offset.
    ///
    /// # Errors
    /// [`Error::Store`] when the file cannot grow.
    pub fn append(&self, record: &[u8]) -> Result<usize> {
        let mut tail = self.tail.lock();
        if record.get(4) == Some(&format::TAG_SERIES) {
            if let Some(at) = tail.free.get_mut(&record.len()).and_then(Vec::pop) {
                self.rewrite(at, record);
                return Ok(at);
            }
        }
        let at = tail.end;
        let end = at + record.len();
        if end > tail.len {
            // Doubling, but by at most GROW_MAX: the growth runs with the GVL held (inside an
            // update creating a series), and allocating 64 MiB at once took 20 ms.
            let len = end.max(tail.len + tail.len.min(GROW_MAX)).div_ceil(GROW_STEP) * GROW_STEP;
            if len > self.reserve {
                return Err(Error::Store(format!("{} is full ({} bytes)", self.path.display(), self.reserve)));
            }
            let file = self.file.lock();
            let file = file.as_ref().ok_or_else(|| Error::Store("this process's multi-process file was closed by a fork".into()))?;
            allocate_range(file, tail.len, len).map_err(|e| Error::Store(format!("cannot grow {}: {e}", self.path.display())))?;
            tail.len = len;
        }
        // SAFETY: [at, end) lies inside the file (grown above) and the mapping, and is unpublished:
        // no reader looks past a zero length, and the tail lock keeps other writers out.
        unsafe {
            std::ptr::copy_nonoverlapping(record.as_ptr().add(4), self.base.add(at + 4), record.len() - 4);
            let len = u32::from_ne_bytes([record[0], record[1], record[2], record[3]]);
            (*(self.base.add(at) as *const AtomicU32)).store(len, Ordering::Release);
            (*(self.base.add(format::H_END) as *const AtomicU64)).store(end as u64, Ordering::Release);
        }
        tail.end = end;
        Ok(at)
    }

    /// Makes the free retired record at `at` (as long as `record`) the series `record`, under
    /// the record's incarnation seqlock (see `format`): it stays retired while rewritten, and
    /// readers discard whatever they read across the rewrite.
    fn rewrite(&self, at: usize, record: &[u8]) {
        // SAFETY: `at` is a published series record of `record.len()` bytes inside the file (the
        // free list holds nothing else), 8-aligned; every byte is written through atomics
        // because readers may be reading it.
        unsafe {
            let seq = &*(self.base.add(at + format::S_INCARNATION) as *const AtomicU16);
            let writing = seq.load(Ordering::Relaxed).wrapping_add(1) | 1;
            seq.store(writing, Ordering::Relaxed);
            std::sync::atomic::fence(Ordering::Release);
            let mut bytes = record.to_vec();
            bytes[format::R_STATE] = format::STATE_RETIRED;
            bytes[format::S_INCARNATION..format::S_INCARNATION + 2].copy_from_slice(&writing.to_ne_bytes());
            for (i, word) in bytes.chunks_exact(8).enumerate() {
                let word = u64::from_ne_bytes(word.try_into().unwrap_or_default());
                (*(self.base.add(at + i * 8) as *const AtomicU64)).store(word, Ordering::Relaxed);
            }
            seq.store(writing.wrapping_add(1), Ordering::Release);
            (*(self.base.add(at + format::R_STATE) as *const AtomicU8)).store(format::STATE_LIVE, Ordering::Release);
        }
    }

    /// The cell `index` of the record at `off`, at `cells_at` within it.
    pub fn cell_ptr(&self, off: usize, cells_at: usize) -> *mut AtomicU64 {
        // SAFETY: callers pass offsets `append` returned, whose cells lie inside the file.
        unsafe { self.base.add(off + cells_at).cast() }
    }

    /// Whether `addr` points into this file.
    pub fn owns(&self, addr: usize) -> bool {
        (self.base as usize..self.base as usize + self.reserve).contains(&addr)
    }

    /// Marks the record at `off` retired: readers skip it.
    pub fn retire(&self, off: usize) {
        if off >= format::HEADER_LEN && off < self.tail.lock().end {
            // SAFETY: a published record's state byte, inside the file.
            unsafe { (*(self.base.add(off + format::R_STATE) as *const AtomicU8)).store(format::STATE_RETIRED, Ordering::Release) };
        }
    }

    /// Retires every record written so far (a re-enabled registry writes its series afresh).
    pub fn retire_all(&self) {
        let (records, _, _) = format::walk(&self.view(), format::HEADER_LEN);
        for record in records {
            match record {
                format::Record::Family { off, .. } | format::Record::Series { off, .. } => self.retire(off),
                format::Record::Absorbed { .. } => {}
            }
        }
    }

    /// Marks the retired record at `off` live again: readers count it again.
    pub fn revive(&self, off: usize) {
        if off >= format::HEADER_LEN && off < self.tail.lock().end {
            // SAFETY: a published record's state byte, inside the file.
            unsafe { (*(self.base.add(off + format::R_STATE) as *const AtomicU8)).store(format::STATE_LIVE, Ordering::Release) };
        }
    }

    /// In a forked child: close the inherited descriptor of the parent's file. The mapping stays
    /// (cells may still point into it until they move); the file and its lock stay the parent's.
    pub fn abandon(&self) {
        self.file.lock().take();
    }

    /// In a forked child, once its series have moved: puts private zeroed memory at the
    /// addresses of the parent's shared mapping. A stale pointer still lands in valid memory
    /// (now the child's own), and the child stops holding the parent's open file description,
    /// which on Linux would keep the parent's lock, and so its file "live", for the child's whole
    /// life. If the kernel refuses, the mapping stays: the parent's file then merely stays live
    /// longer.
    pub fn detach_mapping(&self) {
        // SAFETY: replaces exactly the range `create` mapped, with memory of the same size and
        // protection; the range stays ours until `Drop` unmaps it.
        unsafe {
            libc::mmap(
                self.base.cast(),
                self.reserve,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
    }
}

impl crate::core::cells::Recycle for Writer {
    /// A removed series' cells are gone: its record is free for the next series of its length.
    /// Records still live (an expired counter keeps its share of the merged total) stay.
    fn recycle(&self, record: u64, addr: usize) {
        let at = record as usize;
        let mut tail = self.tail.lock();
        if !self.owns(addr) || at < format::HEADER_LEN || at >= tail.end {
            return;
        }
        // SAFETY: a published record's header inside the file, read through atomics.
        let (len, tag, state) = unsafe {
            (
                (*(self.base.add(at) as *const AtomicU32)).load(Ordering::Relaxed) as usize,
                (*(self.base.add(at + 4) as *const AtomicU8)).load(Ordering::Relaxed),
                (*(self.base.add(at + format::R_STATE) as *const AtomicU8)).load(Ordering::Acquire),
            )
        };
        if tag == format::TAG_SERIES && state == format::STATE_RETIRED && at + len <= tail.end {
            tail.free.entry(len).or_default().push(at);
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // SAFETY: the mapping was made in `create` with this length and nothing uses it any more:
        // every `Cells` pointing into it holds this writer alive.
        unsafe { libc::munmap(self.base.cast(), self.reserve) };
    }
}

// On Linux, open-file-description locks: they belong to the descriptor that took them, so no
// other open and close of the file in the same process (a backup tool, a debug read, a scrape)
// can drop them, as closing any descriptor drops a classic POSIX lock. A forked child shares the
// description until it closes its copy (`Writer::abandon` after fork); `Process.daemon`, which
// runs no fork hook, keeps its parent's file locked while it still writes into it. Elsewhere,
// classic POSIX locks.
#[cfg(target_os = "linux")]
const SET_LOCK: libc::c_int = libc::F_OFD_SETLK;
#[cfg(target_os = "linux")]
const GET_LOCK: libc::c_int = libc::F_OFD_GETLK;
#[cfg(not(target_os = "linux"))]
const SET_LOCK: libc::c_int = libc::F_SETLK;
#[cfg(not(target_os = "linux"))]
const GET_LOCK: libc::c_int = libc::F_GETLK;

/// Takes the write lock on the whole file (never waits).
pub fn lock(file: &File) -> std::io::Result<()> {
    set_lock(file, libc::F_WRLCK)
}

/// Sets this descriptor's lock on the whole file to `kind` (`F_RDLCK`, `F_WRLCK`, `F_UNLCK`),
/// converting a lock it holds atomically; never waits (`EAGAIN`/`EACCES` when another holds a
/// conflicting lock).
pub fn set_lock(file: &File, kind: libc::c_int) -> std::io::Result<()> {
    let fl = flock_struct(kind);
    // SAFETY: fcntl with a valid descriptor and a properly initialised struct.
    if unsafe { libc::fcntl(file.as_raw_fd(), SET_LOCK, &fl) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Whether another descriptor holds the file's lock: another process, or on Linux this
/// process's own writer (callers tell their own file apart by its name).
pub fn locked_by_other(file: &File) -> std::io::Result<bool> {
    let mut fl = flock_struct(libc::F_WRLCK);
    // SAFETY: as in `lock`; the GET command writes into `fl`.
    if unsafe { libc::fcntl(file.as_raw_fd(), GET_LOCK, &mut fl) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(i32::from(fl.l_type) != libc::F_UNLCK)
}

fn flock_struct(kind: libc::c_int) -> libc::flock {
    // SAFETY: all-zero is a valid flock (l_pid 0, as OFD locks require); the fields that matter
    // are set below.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = kind as _;
    fl.l_whence = libc::SEEK_SET as _;
    fl
}

/// The process's file size limit (`RLIMIT_FSIZE`) in bytes, if it has one.
fn file_size_limit() -> Option<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into `limit`.
    if unsafe { libc::getrlimit(libc::RLIMIT_FSIZE, &mut limit) } != 0 || limit.rlim_cur == libc::RLIM_INFINITY {
        return None;
    }
    Some(limit.rlim_cur)
}

/// An unnamed file in `dir` (Linux `O_TMPFILE`); `None` where the kernel or filesystem has none,
/// or where it could not be named later (no `/proc`).
#[cfg(target_os = "linux")]
fn create_unnamed(dir: &Path) -> Option<File> {
    if !Path::new("/proc/self/fd").is_dir() {
        return None;
    }
    OpenOptions::new().read(true).write(true).mode(0o600).custom_flags(libc::O_TMPFILE | libc::O_CLOEXEC).open(dir).ok()
}

#[cfg(not(target_os = "linux"))]
fn create_unnamed(_dir: &Path) -> Option<File> {
    None
}

/// Gives the unnamed file its name (fails if the name exists: nonces are random).
#[cfg(target_os = "linux")]
fn link_unnamed(writer: &Writer, path: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt as _;
    let file = writer.file.lock();
    let fd = file.as_ref().map_or(-1, AsRawFd::as_raw_fd);
    let from = std::ffi::CString::new(format!("/proc/self/fd/{fd}")).map_err(std::io::Error::other)?;
    let to = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    // SAFETY: two NUL-terminated paths; linkat follows the /proc link to the open file.
    if unsafe { libc::linkat(libc::AT_FDCWD, from.as_ptr(), libc::AT_FDCWD, to.as_ptr(), libc::AT_SYMLINK_FOLLOW) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn link_unnamed(_writer: &Writer, _path: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

/// Whether process `pid` exists (in this pid namespace).
pub fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    unsafe { libc::kill(pid, 0) == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM) }
}

/// Grows the file to `len` bytes with real blocks where the filesystem allows; never past the
/// file size limit, where growing would kill the process with SIGXFSZ.
pub(super) fn allocate(file: &File, len: usize) -> std::io::Result<()> {
    allocate_range(file, 0, len)
}

/// Allocates `from..to` of `file` (extending it to `to`), the part before assumed allocated.
fn allocate_range(file: &File, from: usize, to: usize) -> std::io::Result<()> {
    if file_size_limit().is_some_and(|limit| to as u64 > limit) {
        return Err(std::io::Error::other(format!("the file size limit (ulimit -f) is below {to} bytes")));
    }
    // SAFETY: posix_fallocate on a valid descriptor.
    match unsafe { libc::posix_fallocate(file.as_raw_fd(), from as libc::off_t, (to - from) as libc::off_t) } {
        0 => Ok(()),
        libc::EOPNOTSUPP | libc::EINVAL => file.set_len(to as u64),
        e => Err(std::io::Error::from_raw_os_error(e)),
    }
}

/// 64 random bits from the kernel, or from the clock and pid if it refuses.
pub fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: getrandom writes at most 8 bytes into `b`.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), 8, 0) };
    if n == 8 {
        u64::from_ne_bytes(b)
    } else {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        t ^ (u64::from(std::process::id()) << 32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `worker_id=` while another thread renders: every identity read is one that was written,
    /// never a mix of two (or the pid, when the reader gave up on a busy seqlock).
    #[test]
    fn a_render_never_reads_a_torn_identity() {
        let dir = tempfile::tempdir().unwrap();
        let writer = Writer::create(dir.path(), "").unwrap();
        let (long, short) = ("a".repeat(format::IDENT_MAX), "puma_1".to_owned());
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 0..50_000 {
                    writer.set_identity(if i % 2 == 0 { &long } else { &short });
                }
                stop.store(true, Ordering::Relaxed);
            });
            let mut reads = 0;
            while !stop.load(Ordering::Relaxed) || reads == 0 {
                let seen = format::Header::read(&writer.view()).unwrap().identity;
                assert!(seen == long || seen == short || seen.is_empty(), "torn identity {seen:?}");
                reads += 1;
            }
        });
        assert_eq!(format::Header::read(&writer.view()).unwrap().identity, short);
    }

    /// A second open and close of a live process's file in the same process (a debug read, a
    /// backup tool, the process's own scrape) must not drop the file's liveness lock: with classic
    /// POSIX locks any close did, and other processes then compacted a live file.
    #[cfg(target_os = "linux")]
    #[test]
    fn closing_another_descriptor_of_the_file_keeps_it_locked() {
        let dir = tempfile::tempdir().unwrap();
        let writer = Writer::create(dir.path(), "").unwrap();
        let open = || File::open(writer.path()).unwrap();
        let peek = open();
        assert!(locked_by_other(&peek).unwrap(), "the writer's lock is seen from another descriptor");
        drop(peek);
        assert!(locked_by_other(&open()).unwrap(), "still locked after another descriptor closed");
        let writable = OpenOptions::new().read(true).write(true).open(writer.path()).unwrap();
        assert_eq!(lock(&writable).unwrap_err().raw_os_error(), Some(libc::EAGAIN), "nobody else can take it");
        drop(writable);
        writer.abandon();
        assert!(locked_by_other(&open()).unwrap(), "the mapping still holds the file description");
        writer.detach_mapping();
        assert!(!locked_by_other(&open()).unwrap(), "free once neither descriptor nor mapping holds it");
    }
}
