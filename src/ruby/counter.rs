//! `TaskerMetrics::Counter` and its bound handle `TaskerMetrics::Counter::Bound`.

use crate::core::registry::{Family, Number, Update};
use crate::ruby::convert::{self, split_kwargs, sym_by, take_kwargs};
use crate::ruby::errors::{rb_method, Failure};
use crate::ruby::metric::{self, bind_bound_common, bind_common, BoundInner, MetricInner};
use magnus::{prelude::*, Error, RModule, Ruby, Value};
use std::sync::Arc;

/// A counter family.
#[derive(magnus::TypedData)]
#[magnus(class = "TaskerMetrics::Counter", free_immediately, size, mark)]
pub(crate) struct Counter {
    pub(crate) inner: MetricInner,
}

impl magnus::DataTypeFunctions for Counter {
    fn mark(&self, _marker: &magnus::gc::Marker) {
        self.inner.mark();
    }
}

/// One counter series with its labels fixed: the fastest way to count.
#[magnus::wrap(class = "TaskerMetrics::Counter::Bound", free_immediately, size)]
pub(crate) struct BoundCounter {
    pub(crate) inner: BoundInner,
}

impl Counter {
    pub(crate) fn new(family: Arc<Family>) -> Self {
        Counter { inner: MetricInner::new(family) }
    }
}

#[inline]
fn by(v: Option<Value>) -> Result<Number, Failure> {
    v.map_or(Ok(Number::Int(1)), |v| convert::number("by", v))
}

/// `_increment(by, labels)`: the keyword method `increment(by: 1, labels: nil)` is Ruby
/// (lib/tasker_metrics/counter.rb), because Ruby passes keywords to Ruby methods without
/// allocating the Hash it must build for a C method.
fn increment(rb_self: Value, amount: Value, labels: Option<Value>, exemplar: Option<Value>) -> Result<(), Failure> {
    let update = Update::Increment(convert::number("by", amount)?);
    convert::this::<Counter>(rb_self)?.inner.update_maybe_exemplar(labels, update, exemplar)
}

/// `with_labels(**labels)`
fn with_labels(rb_self: &Counter, args: &[Value]) -> Result<BoundCounter, Failure> {
    Ok(BoundCounter { inner: metric::bind(&rb_self.inner, args)? })
}

/// `Bound#increment(by: 1)`
fn bound_increment(rb_self: Value, args: &[Value]) -> Result<(), Failure> {
    let rb_self = convert::this::<BoundCounter>(rb_self)?;
    let [amount] = match args {
        [] => [None],
        _ => {
            let (pos, kw) = split_kwargs(args);
            convert::arity(pos, 0, 0)?;
            take_kwargs(kw, [sym_by()])?
        }
    };
    Ok(rb_self.inner.series.increment(by(amount)?)?)
}

/// Tasker's `Counter#increment(amount)`: contract messages, returns the new value.
fn tasker_increment(ruby: &Ruby, rb_self: &BoundCounter, amount: Value) -> Result<Value, Failure> {
    let sample = crate::core::tasker::counter_increment(&rb_self.inner.series, crate::ruby::payload::tasker_amount(amount))?;
    convert::sample(ruby, sample, None)
}

pub(crate) fn init(ruby: &Ruby, module: RModule) -> Result<(), Error> {
    let class = module.define_class("Counter", ruby.class_object())?;
    bind_common!(class, Counter, "TaskerMetrics::Counter");
    class.define_private_method("_increment", rb_method!(increment, 3))?;
    class.define_private_method(
        "_increment_value",
        rb_method!(
            |s: Value, by: Value, l: Option<Value>| {
                convert::this::<Counter>(s)?.inner.update_value(l, Update::Increment(convert::number("by", by)?))
            },
            2
        ),
    )?;
    class.define_method("with_labels", rb_method!(with_labels, -1))?;

    let bound = class.define_class("Bound", ruby.class_object())?;
    bind_bound_common!(bound, BoundCounter);
    bound.define_method("increment", rb_method!(bound_increment, -1))?;
    bound.define_private_method("_tasker_increment", rb_method!(ruby tasker_increment, 1))?;
    Ok(())
}
