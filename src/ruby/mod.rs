//! magnus glue: Ruby classes, value conversion and errors. No metric rules live here; each
//! function converts its arguments, makes one core call and converts the result.
//!
//! Nothing here may `unwrap` or `expect` what a caller controls: a panic in a method becomes an
//! exception at best, and in a free or mark function it aborts the process.
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod convert;
mod counter;
mod errors;
mod event_mapping;
mod event_router;
mod gauge;
mod gvl;
mod histogram;
mod metric;
mod metrics_backend;
mod payload;
mod prometheus_exporter;
mod rails;
mod registry;
mod stream;

use magnus::{Error, Ruby};

/// Defines every class under `TaskerMetrics`, in dependency order.
pub(crate) fn init(ruby: &Ruby) -> Result<(), Error> {
    let module = ruby.define_module("TaskerMetrics")?;
    registry::init(ruby, module)?;
    stream::init(ruby, module)?;
    counter::init(ruby, module)?;
    gauge::init(ruby, module)?;
    histogram::init(ruby, module)?;
    event_mapping::init(ruby, module)?;
    event_router::init(ruby, module)?;
    metrics_backend::init(ruby, module)?;
    prometheus_exporter::init(ruby, module)?;
    rails::init(ruby, module)?;
    resolve_wrapped_classes(ruby);
    Ok(())
}

/// magnus finds a wrapped type's class lazily, with a Ruby call inside a once-lock, the first
/// time an object of that type is made. If the first two threads to do so race, the one calling
/// Ruby can give up the GVL to the other, which then blocks on the lock while holding the GVL: a
/// deadlock (seen in the stress suite). Resolving every class here, on the loading thread,
/// means no lock is ever initialised by two threads.
fn resolve_wrapped_classes(ruby: &Ruby) {
    use magnus::TypedData;
    let _ = (
        counter::Counter::class(ruby),
        counter::BoundCounter::class(ruby),
        gauge::Gauge::class(ruby),
        gauge::BoundGauge::class(ruby),
        histogram::Histogram::class(ruby),
        histogram::BoundHistogram::class(ruby),
        registry::Registry::class(ruby),
        event_mapping::EventMapping::class(ruby),
        metrics_backend::Listener::class(ruby),
        rails::RequestListener::class(ruby),
        rails::JobListener::class(ruby),
    );
}

#[cfg(test)]
pub(crate) mod test_support {
    use magnus::{Ruby, Value};

    /// Defines the classes (idempotent), loads the Ruby half of the API from `lib/` (everything
    /// `lib/tasker_metrics.rb` loads except the compiled library itself), and evaluates `code`.
    pub(crate) fn eval<T: magnus::TryConvert>(code: &str) -> Result<T, magnus::Error> {
        let ruby = Ruby::get().expect("ruby_test runs on the VM thread");
        let lib = concat!(env!("CARGO_MANIFEST_DIR"), "/lib/tasker_metrics");
        let _: Value = ruby.eval(&format!("require '{lib}/errors'"))?;
        super::init(&ruby)?;
        for file in RUBY_PARTS {
            let _: Value = ruby.eval(&format!("require '{lib}/{file}'"))?;
        }
        ruby.eval(code)
    }

    /// Ruby files that complete the native classes, in load order.
    const RUBY_PARTS: &[&str] = &["logging", "registry", "metric", "counter", "gauge", "histogram"];
}
