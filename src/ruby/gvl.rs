//! Running pure-Rust work without the GVL, so other Ruby threads keep running meanwhile.
//!
//! Such work takes locks (a family's series list, the store) that a forked child needs: a fork
//! while another thread holds one would leave the child waiting forever. The fork hook therefore
//! closes a gate that this work holds open, waits for work in flight to finish, forks, and opens
//! the gate again in both processes.

use parking_lot::lock_api::{RawRwLock as _, RawRwLockTimed as _};
use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

static FORK_GATE: parking_lot::RawRwLock = parking_lot::RawRwLock::INIT;
static GATE_CLOSED: AtomicBool = AtomicBool::new(false);

/// Before a fork: waits (up to 5 s, then forks anyway) for GVL-free work to finish and keeps new
/// work out until [`open_fork_gate`].
pub(crate) fn close_fork_gate() {
    if FORK_GATE.try_lock_exclusive_for(std::time::Duration::from_secs(5)) {
        GATE_CLOSED.store(true, Ordering::Release);
    }
}

/// After a fork, in the parent and in the child.
pub(crate) fn open_fork_gate() {
    if GATE_CLOSED.swap(false, Ordering::AcqRel) {
        // SAFETY: `close_fork_gate` took the exclusive lock (recorded in GATE_CLOSED), and in
        // the child the lock's state is the parent's copy; this raw lock has no owner thread.
        unsafe { FORK_GATE.unlock_exclusive() };
    }
}

struct Call<F, R> {
    func: Option<F>,
    result: Option<std::thread::Result<R>>,
}

unsafe extern "C" fn trampoline<F: FnOnce() -> R, R>(data: *mut c_void) -> *mut c_void {
    // SAFETY: `data` is the `Call` that `without_gvl` passed and keeps alive for this call.
    let call = unsafe { &mut *(data as *mut Call<F, R>) };
    if let Some(func) = call.func.take() {
        FORK_GATE.lock_shared();
        call.result = Some(catch_unwind(AssertUnwindSafe(func)));
        // SAFETY: taken just above on this thread.
        unsafe { FORK_GATE.unlock_shared() };
    }
    std::ptr::null_mut()
}

/// Runs `func` with the GVL released. `func` must not touch any Ruby object or call Ruby.
/// A panic inside is carried back and resumed here, where `guard` can turn it into an exception.
pub(crate) fn without_gvl<F: FnOnce() -> R, R>(func: F) -> R {
    let mut call = Call { func: Some(func), result: None };
    // SAFETY: the trampoline only touches `call`, which outlives the blocking call; no unblocking
    // function is needed because the work is bounded.
    unsafe {
        rb_sys::rb_thread_call_without_gvl(
            Some(trampoline::<F, R>),
            &mut call as *mut Call<F, R> as *mut c_void,
            None,
            std::ptr::null_mut(),
        );
    }
    match call.result {
        Some(Ok(r)) => r,
        Some(Err(panic)) => std::panic::resume_unwind(panic),
        None => std::panic::panic_any("work skipped by rb_thread_call_without_gvl"),
    }
}
