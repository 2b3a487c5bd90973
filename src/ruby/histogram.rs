//! `TaskerMetrics::Histogram` and its bound handle `TaskerMetrics::Histogram::Bound`.

use crate::core::metric::histogram::DEFAULT_BUCKETS;
use crate::core::registry::{Family, Update};
use crate::ruby::convert;
use crate::ruby::errors::{rb_method, Failure};
use crate::ruby::metric::{self, bind_bound_common, bind_common, BoundInner, MetricInner};
use magnus::{prelude::*, Error, RArray, RModule, Ruby, Value};
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
