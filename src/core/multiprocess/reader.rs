//! Reading other processes' files: listing the directory, mapping a file read-only (never
//! following links, never blocking on a FIFO), and naming what could not be read.

use super::file::{self, ARCHIVE, MAX_FILE, SUFFIX};
use super::format;
use super::merge::Merger;
use super::sigbus::Guard;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A file the scrape could not use, or could only partly use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub path: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A file of another process, mapped read-only for one scrape.
pub(super) struct Mapped {
    pub(super) ptr: *mut libc::c_void,
    pub(super) len: usize,
    pub(super) _file: File,
    guard: Option<Guard>,
}

impl Mapped {
    pub(super) fn open(path: &Path) -> std::result::Result<(Mapped, bool), String> {
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
        let guard = Some(Guard::new(ptr as usize, len));
        Ok((Mapped { ptr, len, _file: file, guard }, live))
    }

    /// [`Mapped::open`], then the header read and checked: `(header, live, mapping)`.
    pub(super) fn open_with_header(path: &Path) -> std::result::Result<(format::Header, bool, Mapped), String> {
        Self::open(path).and_then(|(m, live)| format::Header::read(&m.view()).map(|h| (h, live, m)))
    }

    /// Whether the file shrank while it was read: what was read from it is not to be trusted.
    pub(super) fn truncated(&self) -> bool {
        self.guard.as_ref().is_some_and(Guard::hit)
    }

    pub(super) fn view(&self) -> format::View {
        // SAFETY: `len` bytes are mapped at `ptr` (page-aligned) while `self` lives.
        unsafe { format::View::new(self.ptr.cast(), self.len) }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        self.guard.take(); // no longer guarded once unmapped
                           // SAFETY: unmaps exactly what `open` mapped.
        unsafe { libc::munmap(self.ptr, self.len) };
    }
}

/// What a scrape finds in the directory.
pub(super) struct Listing {
    pub(super) processes: Vec<PathBuf>,
    pub(super) archive: Option<PathBuf>,
    pub(super) foreign: Vec<PathBuf>,
}

pub(super) fn list(dir: &Path) -> std::io::Result<Listing> {
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

/// The pid in a `proc-<pid>-<nonce>.tmm` name.
pub(super) fn pid_in_name(path: &Path) -> Option<u32> {
    path.file_name()?.to_str()?.strip_prefix("proc-")?.split('-').next()?.parse().ok()
}

/// How per-process gauges name the file's process: its worker identity, or its pid.
pub(super) fn identity_of(h: &format::Header) -> String {
    if h.identity.is_empty() {
        h.pid.to_string()
    } else {
        h.identity.clone()
    }
}

/// Reports what part of a file the merger could not read, if any.
pub(super) fn note_damage(merger: &Merger, nonce: u64, path: &Path, problems: &mut Vec<Problem>) {
    if let Some(d) = merger.files.get(&nonce).and_then(|f| f.damage.clone()) {
        problems.push(Problem { path: path.display().to_string(), reason: d });
    }
}
