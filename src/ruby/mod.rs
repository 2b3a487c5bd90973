//! magnus glue: Ruby classes, value conversion and errors. No metric rules live here; each
//! function converts its arguments, makes one core call and converts the result.

mod convert;
mod counter;
mod errors;
mod gauge;
mod gvl;
mod histogram;
mod metric;
mod registry;

use magnus::{Error, Ruby};

/// Defines every class under `TaskerMetrics`, in dependency order.
pub(crate) fn init(ruby: &Ruby) -> Result<(), Error> {
    let module = ruby.define_module("TaskerMetrics")?;
    registry::init(ruby, module)?;
    counter::init(ruby, module)?;
    gauge::init(ruby, module)?;
    histogram::init(ruby, module)?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod test_support {
    use magnus::{Ruby, Value};

    /// Defines the classes (idempotent) and evaluates `code` in the embedded VM.
    pub(crate) fn eval<T: magnus::TryConvert>(code: &str) -> Result<T, magnus::Error> {
        let ruby = Ruby::get().expect("ruby_test runs on the VM thread");
        super::init(&ruby)?;
        let _: Value = ruby.eval(
            "module TaskerMetrics; class Error < StandardError; end; class InternalError < Error; end; \
             class CardinalityError < Error; end; class StoreError < Error; end; end",
        )?;
        ruby.eval(code)
    }
}
