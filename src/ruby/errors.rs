//! The one place that knows Ruby's exception classes. Core errors become `ArgumentError`,
//! `TypeError` or a `TaskerMetrics::Error` subclass (declared in `lib/tasker_metrics/errors.rb`,
//! which is loaded before the native library); panics become `TaskerMetrics::InternalError`.
//!
//! Every native method is registered through [`rb_method!`] or [`rb_function!`], which run its
//! body under [`guard`]: a panic becomes an exception instead of magnus's unrescuable `fatal`, and
//! a core error becomes a Ruby exception there, with the `&Ruby` magnus hands the method.

use crate::core::{Error as CoreError, ErrorKind};
use magnus::{error::IntoError, prelude::*, value::Lazy, Error, ExceptionClass, RModule, Ruby};
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

/// Why a glue function failed: a core rule refused, or Ruby raised. A core refusal becomes an
/// exception only where a `&Ruby` is at hand (the method boundary, or [`Failure::into_rb`]).
#[derive(Debug)]
pub(crate) enum Failure {
    Core(CoreError),
    Ruby(Error),
}

impl From<CoreError> for Failure {
    #[inline]
    fn from(e: CoreError) -> Self {
        Failure::Core(e)
    }
}

impl From<Error> for Failure {
    #[inline]
    fn from(e: Error) -> Self {
        Failure::Ruby(e)
    }
}

impl IntoError for Failure {
    fn into_error(self, ruby: &Ruby) -> Error {
        self.into_rb(ruby)
    }
}

impl Failure {
    /// The Ruby exception this failure raises.
    pub(crate) fn into_rb(self, ruby: &Ruby) -> Error {
        match self {
            Failure::Core(e) => to_rb(ruby, e),
            Failure::Ruby(e) => e,
        }
    }
}

/// `ArgumentError` with `msg`.
pub(crate) fn arg_error(msg: impl Into<String>) -> Failure {
    CoreError::argument(msg.into()).into()
}

/// `TypeError` with `msg`.
pub(crate) fn type_error(msg: impl Into<String>) -> Failure {
    CoreError::type_error(msg.into()).into()
}

/// What a method body may return: a `Result` (its error a [`Failure`] or anything that becomes
/// one), or a plain value that cannot fail.
pub(crate) trait Outcome {
    type Value;
    fn outcome(self) -> Result<Self::Value, Failure>;
}

impl<T, E: Into<Failure>> Outcome for Result<T, E> {
    type Value = T;
    #[inline]
    fn outcome(self) -> Result<T, Failure> {
        self.map_err(Into::into)
    }
}

// Plain return types are listed: a blanket impl over every `IntoValue` would overlap the
// `Result` impl as far as coherence can tell.
macro_rules! infallible {
    ($($t:ty),*) => {$(
        impl Outcome for $t {
            type Value = $t;
            #[inline]
            fn outcome(self) -> Result<$t, Failure> {
                Ok(self)
            }
        }
    )*};
}
infallible!(
    (),
    bool,
    usize,
    i64,
    f64,
    String,
    Option<String>,
    Option<u8>,
    Vec<String>,
    magnus::Value,
    Option<magnus::Value>,
    magnus::RArray,
    magnus::RHash,
    magnus::RString,
    magnus::Symbol,
    crate::ruby::registry::Registry
);

/// Runs a method body, turning a Rust panic into `TaskerMetrics::InternalError` instead of the
/// unrescuable `fatal` magnus would raise, and a [`Failure`] into its exception.
#[inline]
pub(crate) fn guard<O: Outcome>(ruby: &Ruby, f: impl FnOnce() -> O) -> Result<O::Value, Error> {
    match catch_unwind(AssertUnwindSafe(|| f().outcome())) {
        Ok(result) => result.map_err(|e| e.into_rb(ruby)),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            Err(Error::new(ruby.get_inner(&INTERNAL), format!("internal error in tasker_metrics: {msg}")))
        }
    }
}

/// Runs an ActiveSupport listener's body under [`guard`]. A StandardError goes to `report`
/// instead of to the instrumented code; anything else (an Interrupt, a signal) propagates.
pub(crate) fn listen(
    ruby: &Ruby,
    body: impl FnOnce() -> Result<(), Failure>,
    report: impl FnOnce(Error) -> Result<(), Error>,
) -> Result<(), Error> {
    guard(ruby, body).or_else(|e| if e.is_kind_of(ruby.exception_standard_error()) { report(e) } else { Err(e) })
}

/// `magnus::method!` with the body under [`guard`]. `rb_method!(ruby f, n)` passes `&Ruby` to
/// `f` first; `n` is the Ruby arity (-1 for `f(self, &[Value])`).
macro_rules! rb_method {
    (@ $r:ident [$($pre:tt)*] $f:expr, -1) => {
        magnus::method!(|$r: &magnus::Ruby, s, args: &[magnus::Value]| $crate::ruby::errors::guard($r, || ($f)($($pre)* s, args)), -1)
    };
    (@ $r:ident [$($pre:tt)*] $f:expr, 0) => {
        magnus::method!(|$r: &magnus::Ruby, s| $crate::ruby::errors::guard($r, || ($f)($($pre)* s)), 0)
    };
    (@ $r:ident [$($pre:tt)*] $f:expr, 1) => {
        magnus::method!(|$r: &magnus::Ruby, s, a| $crate::ruby::errors::guard($r, || ($f)($($pre)* s, a)), 1)
    };
    (@ $r:ident [$($pre:tt)*] $f:expr, 2) => {
        magnus::method!(|$r: &magnus::Ruby, s, a, b| $crate::ruby::errors::guard($r, || ($f)($($pre)* s, a, b)), 2)
    };
    (@ $r:ident [$($pre:tt)*] $f:expr, 3) => {
        magnus::method!(|$r: &magnus::Ruby, s, a, b, c| $crate::ruby::errors::guard($r, || ($f)($($pre)* s, a, b, c)), 3)
    };
    (@ $r:ident [$($pre:tt)*] $f:expr, 4) => {
        magnus::method!(|$r: &magnus::Ruby, s, a, b, c, d| $crate::ruby::errors::guard($r, || ($f)($($pre)* s, a, b, c, d)), 4)
    };
    (@ $r:ident [$($pre:tt)*] $f:expr, 5) => {
        magnus::method!(|$r: &magnus::Ruby, s, a, b, c, d, e| $crate::ruby::errors::guard($r, || ($f)($($pre)* s, a, b, c, d, e)), 5)
    };
    (ruby $f:expr, $($n:tt)+) => { $crate::ruby::errors::rb_method!(@ ruby [ruby,] $f, $($n)+) };
    ($f:expr, $($n:tt)+) => { $crate::ruby::errors::rb_method!(@ ruby [] $f, $($n)+) };
}

/// `magnus::function!` with the body under [`guard`]; as [`rb_method!`], without a receiver.
macro_rules! rb_function {
    (@ $r:ident [$($pre:tt)*] $f:expr, -1) => {
        magnus::function!(|$r: &magnus::Ruby, args: &[magnus::Value]| $crate::ruby::errors::guard($r, || ($f)($($pre)* args)), -1)
    };
    (@ $r:ident [$($pre:tt)*] $f:expr, 0) => {
        magnus::function!(|$r: &magnus::Ruby| $crate::ruby::errors::guard($r, || ($f)($($pre)*)), 0)
    };
    (@ $r:ident [$($pre:tt)*] $f:expr, 1) => {
        magnus::function!(|$r: &magnus::Ruby, a| $crate::ruby::errors::guard($r, || ($f)($($pre)* a)), 1)
    };
    (@ $r:ident [$($pre:tt)*] $f:expr, 2) => {
        magnus::function!(|$r: &magnus::Ruby, a, b| $crate::ruby::errors::guard($r, || ($f)($($pre)* a, b)), 2)
    };
    (@ $r:ident [$($pre:tt)*] $f:expr, 3) => {
        magnus::function!(|$r: &magnus::Ruby, a, b, c| $crate::ruby::errors::guard($r, || ($f)($($pre)* a, b, c)), 3)
    };
    (@ $r:ident [$($pre:tt)*] $f:expr, 4) => {
        magnus::function!(|$r: &magnus::Ruby, a, b, c, d| $crate::ruby::errors::guard($r, || ($f)($($pre)* a, b, c, d)), 4)
    };
    (@ $r:ident [$($pre:tt)*] $f:expr, 6) => {
        magnus::function!(|$r: &magnus::Ruby, a, b, c, d, e, g| $crate::ruby::errors::guard($r, || ($f)($($pre)* a, b, c, d, e, g)), 6)
    };
    (ruby $f:expr, $($n:tt)+) => { $crate::ruby::errors::rb_function!(@ ruby [ruby,] $f, $($n)+) };
    ($f:expr, $($n:tt)+) => { $crate::ruby::errors::rb_function!(@ ruby [] $f, $($n)+) };
}

pub(crate) use {rb_function, rb_method};

#[cfg(test)]
mod tests {
    use super::{arg_error, guard, Failure};
    use crate::ruby::test_support::eval;
    use magnus::{prelude::*, Ruby, Value};
    use rb_sys_test_helpers::ruby_test;

    #[ruby_test]
    fn a_panic_becomes_a_rescuable_internal_error() {
        let _: Value = eval("nil").unwrap();
        let ruby = Ruby::get().unwrap();
        let err = guard(&ruby, || -> Result<(), Failure> { panic!("boom") }).unwrap_err();
        assert!(err.to_string().contains("internal error in tasker_metrics: boom"), "{err}");
        let class: String = eval("TaskerMetrics::InternalError.ancestors.include?(StandardError).to_s").unwrap();
        assert_eq!(class, "true");
    }

    /// Methods registered through the macros: a panic in any arity, with or without `&Ruby`, is
    /// rescued as InternalError (magnus alone raises `fatal`), and a core error raises its class.
    #[ruby_test]
    fn methods_registered_through_the_macros_raise_rescuable_errors() {
        let _: Value = eval("nil").unwrap();
        let ruby = Ruby::get().unwrap();
        let class = ruby.define_class("GuardProbe", ruby.class_object()).unwrap();
        class.define_method("panic0", rb_method!(|_s: Value| -> i64 { panic!("zero") }, 0)).unwrap();
        class.define_method("panic_ruby", rb_method!(ruby |_r: &Ruby, _s: Value, _a: Value| -> i64 { panic!("with ruby") }, 1)).unwrap();
        class.define_method("panic_var", rb_method!(|_s: Value, _a: &[Value]| -> i64 { panic!("variadic") }, -1)).unwrap();
        class
            .define_singleton_method("refuse", rb_function!(|v: Value| -> Result<(), Failure> { Err(arg_error(format!("bad {v:?}"))) }, 1))
            .unwrap();
        let seen: Vec<String> = eval(
            r##"p = GuardProbe.new
               [-> { p.panic0 }, -> { p.panic_ruby(1) }, -> { p.panic_var(1, 2) }, -> { GuardProbe.refuse(3) }].map do |call|
                 call.call
                 "nothing raised"
               rescue StandardError => e
                 "#{e.class}: #{e.message}"
               end"##,
        )
        .unwrap();
        assert_eq!(seen[0], "TaskerMetrics::InternalError: internal error in tasker_metrics: zero");
        assert_eq!(seen[1], "TaskerMetrics::InternalError: internal error in tasker_metrics: with ruby");
        assert_eq!(seen[2], "TaskerMetrics::InternalError: internal error in tasker_metrics: variadic");
        assert_eq!(seen[3], "ArgumentError: bad 3");
    }
}
