//! The one place that knows Ruby's exception classes. Core errors become `ArgumentError`,
//! `TypeError` or a `TaskerMetrics::Error` subclass (declared in `lib/tasker_metrics/errors.rb`,
//! which is loaded before the native library); panics become `TaskerMetrics::InternalError`.

use crate::core::{Error as CoreError, ErrorKind};
use magnus::{prelude::*, value::Lazy, Error, ExceptionClass, RModule, Ruby};
use std::panic::{catch_unwind, AssertUnwindSafe};

fn lookup(ruby: &Ruby, name: &str) -> ExceptionClass {
    ruby.class_object()
        .const_get::<_, RModule>("TaskerMetrics")
        .and_then(|m| m.const_get::<_, ExceptionClass>(name))
        .unwrap_or_else(|_| ruby.exception_standard_error())
}

static CARDINALITY: Lazy<ExceptionClass> = Lazy::new(|ruby| lookup(ruby, "CardinalityError"));
static STORE: Lazy<ExceptionClass> = Lazy::new(|ruby| lookup(ruby, "StoreError"));
static INTERNAL: Lazy<ExceptionClass> = Lazy::new(|ruby| lookup(ruby, "InternalError"));

/// Converts a core error into the Ruby exception its kind calls for.
pub(crate) fn to_rb(ruby: &Ruby, e: CoreError) -> Error {
    let class = match e.kind() {
        ErrorKind::Argument => ruby.exception_arg_error(),
        ErrorKind::Type => ruby.exception_type_error(),
        ErrorKind::Cardinality => ruby.get_inner(&CARDINALITY),
        ErrorKind::Store => ruby.get_inner(&STORE),
    };
    Error::new(class, e.to_string())
}

impl From<CoreError> for Error {
    fn from(e: CoreError) -> Self {
        // SAFETY: core errors are only converted inside methods Ruby called, on a Ruby thread
        // holding the GVL.
        to_rb(&unsafe { Ruby::get_unchecked() }, e)
    }
}

/// `ArgumentError` with `msg`.
pub(crate) fn arg_error(msg: impl Into<String>) -> Error {
    CoreError::argument(msg.into()).into()
}

/// `TypeError` with `msg`.
pub(crate) fn type_error(msg: impl Into<String>) -> Error {
    CoreError::type_error(msg.into()).into()
}

/// Runs a method body, turning a Rust panic into `TaskerMetrics::InternalError` instead of the
/// unrescuable `fatal` magnus would raise.
#[inline]
pub(crate) fn guard<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            // SAFETY: as in `From<CoreError>`.
            let ruby = unsafe { Ruby::get_unchecked() };
            Err(Error::new(ruby.get_inner(&INTERNAL), format!("internal error in tasker_metrics: {msg}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::guard;
    use crate::ruby::test_support::eval;
    use rb_sys_test_helpers::ruby_test;

    #[ruby_test]
    fn a_panic_becomes_a_rescuable_internal_error() {
        let _: magnus::Value = eval("nil").unwrap();
        let err = guard(|| -> Result<(), magnus::Error> { panic!("boom") }).unwrap_err();
        assert!(err.to_string().contains("internal error in tasker_metrics: boom"), "{err}");
        let class: String = eval("TaskerMetrics::InternalError.ancestors.include?(StandardError).to_s").unwrap();
        assert_eq!(class, "true");
    }
}
