//! Running pure-Rust work without the GVL, so other Ruby threads keep running meanwhile.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

struct Call<F, R> {
    func: Option<F>,
    result: Option<std::thread::Result<R>>,
}

unsafe extern "C" fn trampoline<F: FnOnce() -> R, R>(data: *mut c_void) -> *mut c_void {
    // SAFETY: `data` is the `Call` that `without_gvl` passed and keeps alive for this call.
    let call = unsafe { &mut *(data as *mut Call<F, R>) };
    if let Some(func) = call.func.take() {
        call.result = Some(catch_unwind(AssertUnwindSafe(func)));
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
