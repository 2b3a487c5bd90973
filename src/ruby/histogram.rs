//! `TaskerMetrics::Histogram` and its bound handle `TaskerMetrics::Histogram::Bound`.

use crate::core::metric::histogram::DEFAULT_BUCKETS;
use crate::core::registry::{Family, Update};
use crate::ruby::convert;
use crate::ruby::errors::{rb_method, Failure};
use crate::ruby::metric::{self, bind_bound_common, bind_common, BoundInner, MetricInner};
use magnus::rb_sys::AsRawValue;
use magnus::{prelude::*, Error, RArray, RHash, RModule, Ruby, Value};
use std::sync::Arc;

/// A histogram family.
#[derive(magnus::TypedData)]
#[magnus(class = "TaskerMetrics::Histogram", free_immediately, size, mark)]
pub(crate) struct Histogram {
    pub(crate) inner: MetricInner,
}

impl magnus::DataTypeFunctions for Histogram {
    fn mark(&self, _marker: &magnus::gc::Marker) {
        self.inner.mark();
    }
}

/// One histogram series with its labels fixed.
#[magnus::wrap(class = "TaskerMetrics::Histogram::Bound", free_immediately, size)]
pub(crate) struct BoundHistogram {
    pub(crate) inner: BoundInner,
}

impl Histogram {
    pub(crate) fn new(family: Arc<Family>) -> Self {
        Histogram { inner: MetricInner::new(family) }
    }
}

/// `_observe(value, labels)`, behind the Ruby keyword method `observe(value, labels: nil)`.
fn observe(rb_self: Value, value: Value, labels: Option<Value>, exemplar: Option<Value>) -> Result<(), Failure> {
    let update = Update::Observe(convert::float("value", value)?);
    convert::this::<Histogram>(rb_self)?.inner.update_maybe_exemplar(labels, update, exemplar)
}

/// `native:` of a histogram: `true`, `false`/`nil` (none), or a Hash of settings (`factor:`,
/// `max_buckets:`, `zero_threshold:`, `min_reset_interval:`), each defaulting as `true` does.
pub(crate) fn native_settings(v: Value) -> Result<Option<crate::core::metric::native::NativeConfig>, Failure> {
    use crate::core::metric::native::NativeConfig as N;
    let raw = v.as_raw();
    if v.is_nil() || raw == rb_sys::Qfalse as rb_sys::VALUE {
        return Ok(None);
    }
    if raw == rb_sys::Qtrue as rb_sys::VALUE {
        return Ok(Some(N::default()));
    }
    let hash = RHash::from_value(v).ok_or_else(|| {
        crate::ruby::errors::type_error(format!("native must be true, false or a Hash of settings, got {}", convert::describe(v)))
    })?;
    let (mut factor, mut max_buckets, mut zero_threshold, mut min_reset) =
        (N::DEFAULT_FACTOR, N::DEFAULT_MAX_BUCKETS, N::DEFAULT_ZERO_THRESHOLD, N::DEFAULT_MIN_RESET_INTERVAL);
    convert::each_pair(hash, |k, x| {
        match convert::name("native setting", k)?.as_str() {
            "factor" => factor = convert::float("native factor", x)?,
            "max_buckets" => max_buckets = convert::count("native max_buckets", x)?,
            "zero_threshold" => zero_threshold = convert::float("native zero_threshold", x)?,
            "min_reset_interval" => min_reset = convert::float("native min_reset_interval", x)?,
            other => {
                return Err(crate::ruby::errors::arg_error(format!(
                    "unknown native setting :{other} (known: :factor, :max_buckets, :zero_threshold, :min_reset_interval)"
                )))
            }
        }
        Ok(())
    })?;
    Ok(Some(N::new(factor, max_buckets, zero_threshold, min_reset)?))
}

fn buckets(ruby: &Ruby, rb_self: &Histogram) -> RArray {
    bounds(ruby, &rb_self.inner.family)
}

fn bounds(ruby: &Ruby, family: &Family) -> RArray {
    let a = ruby.ary_from_vec(family.desc().buckets.as_ref().map(|b| b.bounds().to_vec()).unwrap_or_default());
    a.freeze();
    a
}

fn with_labels(rb_self: &Histogram, args: &[Value]) -> Result<BoundHistogram, Failure> {
    Ok(BoundHistogram { inner: metric::bind(&rb_self.inner, args)? })
}

fn bound_observe(rb_self: Value, value: Value) -> Result<(), Failure> {
    Ok(convert::this::<BoundHistogram>(rb_self)?.inner.series.observe(convert::float("value", value)?).map(drop)?)
}

pub(crate) fn init(ruby: &Ruby, module: RModule) -> Result<(), Error> {
    let class = module.define_class("Histogram", ruby.class_object())?;
    let defaults = ruby.ary_from_vec(DEFAULT_BUCKETS.to_vec());
    defaults.freeze();
    class.const_set("DEFAULT_BUCKETS", defaults)?;
    bind_common!(class, Histogram, "TaskerMetrics::Histogram");
    class.define_private_method("_observe", rb_method!(observe, 3))?;
    class.define_method("buckets", rb_method!(ruby buckets, 0))?;
    class.define_method("with_labels", rb_method!(with_labels, -1))?;

    let bound = class.define_class("Bound", ruby.class_object())?;
    bind_bound_common!(bound, BoundHistogram);
    bound.define_method("observe", rb_method!(bound_observe, 1))?;
    bound.define_method("buckets", rb_method!(ruby |r: &Ruby, s: &BoundHistogram| bounds(r, &s.inner.family), 0))?;
    bound.define_private_method(
        "_tasker_observe",
        rb_method!(
            |s: &BoundHistogram, v: Value| {
                crate::core::tasker::histogram_observe(&s.inner.series, crate::ruby::payload::tasker_amount(v))
            },
            1
        ),
    )?;
    Ok(())
}
