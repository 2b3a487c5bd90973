//! Reading a mapped file that someone truncates meanwhile raises SIGBUS, which would kill the
//! process (Ruby reports `[BUG] Bus Error`). Mappings of other processes' files are registered
//! here while they are read; a SIGBUS at an address inside one puts a zeroed page there (so the
//! read finishes, seeing zeros) and marks the mapping, and the reader then discards what it
//! read from it. Any other SIGBUS goes to the handler that was installed before (Ruby's).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Once;

/// Mappings read at once (a scrape maps one file per process); past this a file is read
/// unguarded rather than not at all.
const SLOTS: usize = 1024;

struct Slot {
    start: AtomicUsize,
    end: AtomicUsize,
    hit: AtomicBool,
}

#[allow(clippy::declare_interior_mutable_const)]
const FREE: Slot = Slot { start: AtomicUsize::new(0), end: AtomicUsize::new(0), hit: AtomicBool::new(false) };
static GUARDED: [Slot; SLOTS] = [FREE; SLOTS];
static INSTALL: Once = Once::new();
/// The page size, read once before the handler is installed (the handler calls nothing but
/// `mmap`).
static PAGE: AtomicUsize = AtomicUsize::new(4096);
static mut PREVIOUS: Option<libc::sigaction> = None;

/// A registered mapping; unregistered when dropped (before the caller unmaps it).
pub(super) struct Guard(Option<usize>);

impl Guard {
    /// Guards `len` bytes at `start` (page-aligned, as `mmap` returns them).
    pub(super) fn new(start: usize, len: usize) -> Guard {
        install();
        for (i, slot) in GUARDED.iter().enumerate() {
            if slot.start.compare_exchange(0, usize::MAX, Ordering::AcqRel, Ordering::Relaxed).is_ok() {
                slot.hit.store(false, Ordering::Relaxed);
                slot.end.store(start + len, Ordering::Relaxed);
                slot.start.store(start, Ordering::Release);
                return Guard(Some(i));
            }
        }
        Guard(None)
    }

    /// Whether a read hit a part of the file that was gone (the file shrank under the reader).
    pub(super) fn hit(&self) -> bool {
        self.0.is_some_and(|i| GUARDED[i].hit.load(Ordering::Acquire))
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(i) = self.0 {
            GUARDED[i].start.store(0, Ordering::Release);
        }
    }
}

fn install() {
    INSTALL.call_once(|| {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if page > 0 {
            PAGE.store(page as usize, Ordering::Relaxed);
        }
        // SAFETY: a zeroed sigaction is valid; the handler below only uses async-signal-safe
        // operations (atomics, mmap, calling the previous handler).
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_NODEFER;
            libc::sigemptyset(&mut action.sa_mask);
            let mut previous: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGBUS, &action, &mut previous) == 0 {
                PREVIOUS = Some(previous);
            }
        }
    });
}

extern "C" fn handler(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    for slot in &GUARDED {
        let start = slot.start.load(Ordering::Acquire);
        if start != 0 && start != usize::MAX && addr >= start && addr < slot.end.load(Ordering::Relaxed) {
            // SAFETY: mmap is a plain system call; the page lies inside a read-only mapping this
            // process made and still owns (the guard is dropped before munmap).
            unsafe {
                let page = PAGE.load(Ordering::Relaxed);
                let at = addr & !(page - 1);
                let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED;
                if libc::mmap(at as *mut libc::c_void, page, libc::PROT_READ, flags, -1, 0) != libc::MAP_FAILED {
                    slot.hit.store(true, Ordering::Release);
                    return;
                }
            }
        }
    }
    // Not ours: as if this handler had never been installed.
    // SAFETY: PREVIOUS is written once, before the handler is installed.
    unsafe {
        match *std::ptr::addr_of!(PREVIOUS) {
            Some(previous) if previous.sa_flags & libc::SA_SIGINFO != 0 && previous.sa_sigaction > 1 => {
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) = std::mem::transmute(previous.sa_sigaction);
                f(signal, info, context);
            }
            Some(previous) if previous.sa_sigaction > 1 => {
                let f: extern "C" fn(libc::c_int) = std::mem::transmute(previous.sa_sigaction);
                f(signal);
            }
            _ => {
                // The default action: restore it; the faulting access repeats and ends the process.
                let mut default: libc::sigaction = std::mem::zeroed();
                default.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(libc::SIGBUS, &default, std::ptr::null_mut());
            }
        }
    }
}
