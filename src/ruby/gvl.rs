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

/// Forks waiting at the gate right now (read by tests).
static GATE_WAITERS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Before a fork: waits (up to 5 s, then forks anyway) for GVL-free work to finish and keeps new
/// work out until [`open_fork_gate`]. The wait releases the GVL, so other Ruby threads keep
/// running while a long scrape drains (they used to stop for all of it).
///
/// # Errors
/// An interrupt (`Thread#raise`, a signal) that arrived meanwhile; the gate is open again then,
/// as no fork follows.
pub(crate) fn close_fork_gate() -> Result<(), magnus::Error> {
    let waited = run_without_gvl::<_, _, false>(|| {
        GATE_WAITERS.fetch_add(1, Ordering::SeqCst);
        if FORK_GATE.try_lock_exclusive_for(std::time::Duration::from_secs(5)) {
            GATE_CLOSED.store(true, Ordering::Release);
        }
        GATE_WAITERS.fetch_sub(1, Ordering::SeqCst);
    });
    if let Err(e) = waited {
        open_fork_gate();
        return Err(e);
    }
    Ok(())
}

/// Forks waiting at the gate right now.
pub(crate) fn fork_gate_waiters() -> usize {
    GATE_WAITERS.load(Ordering::SeqCst)
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

unsafe extern "C" fn trampoline<F: FnOnce() -> R, R, const GATED: bool>(data: *mut c_void) -> *mut c_void {
    // SAFETY: `data` is the `Call` that `without_gvl` passed and keeps alive for this call.
    let call = unsafe { &mut *(data as *mut Call<F, R>) };
    if let Some(func) = call.func.take() {
        if GATED {
            FORK_GATE.lock_shared();
        }
        call.result = Some(catch_unwind(AssertUnwindSafe(func)));
        if GATED {
            // SAFETY: taken just above on this thread.
            unsafe { FORK_GATE.unlock_shared() };
        }
    }
    std::ptr::null_mut()
}

/// Runs `func` with the GVL released. `func` must not touch any Ruby object or call Ruby.
/// A panic inside is carried back and resumed here, where `guard` can turn it into an exception.
///
/// Interrupt-safe: `rb_thread_call_without_gvl` raises a pending interrupt (`Thread#raise`,
/// `Timeout`, a signal) by longjmp right after the work, over this frame, so the result (a whole
/// scrape body) was never dropped. Here the call is `rb_thread_call_without_gvl2`, which never
/// raises, and pending interrupts are delivered afterwards through `rb_protect`: the result is
/// dropped first, then the exception comes back as an ordinary `Err`.
///
/// # Errors
/// The exception of an interrupt that arrived before or during the work.
pub(crate) fn without_gvl<F: FnOnce() -> R, R>(func: F) -> Result<R, magnus::Error> {
    run_without_gvl::<F, R, true>(func)
}

/// [`without_gvl`]; `GATED` work holds the fork gate open while it runs (the gate's own wait
/// must not).
fn run_without_gvl<F: FnOnce() -> R, R, const GATED: bool>(func: F) -> Result<R, magnus::Error> {
    let mut call = Call { func: Some(func), result: None };
    loop {
        // SAFETY: the trampoline only touches `call`, which outlives the blocking call. No
        // unblocking function: the work is bounded, so an interrupt waits for it to finish.
        unsafe {
            rb_sys::rb_thread_call_without_gvl2(
                Some(trampoline::<F, R, GATED>),
                &mut call as *mut Call<F, R> as *mut c_void,
                None,
                std::ptr::null_mut(),
            );
        }
        // Delivers a pending interrupt as an Err, without unwinding over Rust frames.
        let interrupted = magnus::rb_sys::protect(|| {
            // SAFETY: called with the GVL held, on a Ruby thread.
            unsafe { rb_sys::rb_thread_check_ints() };
            rb_sys::Qnil as rb_sys::VALUE
        });
        match (call.result.take(), interrupted) {
            (_, Err(e)) => return Err(e), // the result, if any, is dropped here
            (Some(Ok(r)), Ok(_)) => return Ok(r),
            (Some(Err(panic)), Ok(_)) => std::panic::resume_unwind(panic),
            // Skipped because an interrupt was pending, which turned out to raise nothing
            // (a trap that returned): run the work now.
            (None, Ok(_)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ruby::test_support::eval;
    use rb_sys_test_helpers::ruby_test;

    /// Thread#raise aimed at a thread inside a GVL-free scrape arrives as an ordinary exception,
    /// after the Rust state is dropped, and the registry keeps working.
    #[ruby_test]
    fn an_interrupt_during_gvl_free_work_raises_after_rust_state_is_dropped() {
        let seen: String = eval(
            r#"r = TaskerMetrics::Registry.new
               c = r.counter(:big_total, docstring: "b", labels: [:k], max_series: 30_000)
               20_000.times { |i| c.increment(labels: { k: "value-#{i}" }) }
               raised = 0
               200.times do
                 t = Thread.new { loop { r.export } }
                 sleep 0.001
                 t.raise(RuntimeError, "stop")
                 begin
                   t.join
                 rescue RuntimeError
                   raised += 1
                 end
               end
               [raised, r.export.lines.size].inspect"#,
        )
        .unwrap();
        assert_eq!(seen, "[200, 20002]");
    }
}
