//! `TaskerMetrics::Gauge` and its bound handle `TaskerMetrics::Gauge::Bound`.

use crate::core::registry::{Family, Number, Update};
use crate::core::tasker;
use crate::ruby::convert::{self, split_kwargs, sym_by, take_kwargs};
use crate::ruby::errors::{rb_method, Failure};
use crate::ruby::metric::{self, bind_bound_common, bind_common, BoundInner, MetricInner};
use crate::ruby::payload::tasker_amount;
use magnus::{prelude::*, Error, RModule, Ruby, Value};
use std::sync::Arc;

/// A gauge family.
#[derive(magnus::TypedData)]
#[magnus(class = "TaskerMetrics::Gauge", free_immediately, size, mark)]
pub(crate) struct Gauge {
    pub(crate) inner: MetricInner,
}

impl magnus::DataTypeFunctions for Gauge {
    fn mark(&self, _marker: &magnus::gc::Marker) {
        self.inner.mark();
    }
}

/// One gauge series with its labels fixed.
#[magnus::wrap(class = "TaskerMetrics::Gauge::Bound", free_immediately, size)]
pub(crate) struct BoundGauge {
    pub(crate) inner: BoundInner,
}

impl Gauge {
    pub(crate) fn new(family: Arc<Family>) -> Self {
        Gauge { inner: MetricInner::new(family) }
    }
}

fn by(v: Option<Value>) -> Result<f64, Failure> {
    v.map_or(Ok(1.0), |v| convert::float("by", v))
}

/// `_set(value, labels)`, behind the Ruby keyword method `set(value, labels: nil)`.
fn set(rb_self: Value, value: Value, labels: Option<Value>) -> Result<(), Failure> {
    convert::this::<Gauge>(rb_self)?.inner.update(labels, Update::Set(convert::float("value", value)?))
}

/// `_increment(by, labels)` and `_decrement(by, labels)`, behind Ruby keyword methods.
fn add(rb_self: Value, amount: Value, labels: Option<Value>, sign: f64) -> Result<(), Failure> {
    let rb_self = convert::this::<Gauge>(rb_self)?;
    rb_self.inner.update(labels, add_update(amount, sign)?)
}

fn add_update(amount: Value, sign: f64) -> Result<Update, Failure> {
    let amount = convert::float("by", amount)?;
    Ok(if sign > 0.0 { Update::Increment(Number::Float(amount)) } else { Update::Decrement(amount) })
}

/// `_set_value`, `_increment_value`, `_decrement_value`: as `_set`, `_increment` and
/// `_decrement`, returning the new value (client_ruby's return).
fn set_value(rb_self: Value, value: Value, labels: Option<Value>) -> Result<Option<f64>, Failure> {
    convert::this::<Gauge>(rb_self)?.inner.update_value(labels, Update::Set(convert::float("value", value)?))
}

fn add_value(rb_self: Value, amount: Value, labels: Option<Value>, sign: f64) -> Result<Option<f64>, Failure> {
    convert::this::<Gauge>(rb_self)?.inner.update_value(labels, add_update(amount, sign)?)
}

fn with_labels(rb_self: &Gauge, args: &[Value]) -> Result<BoundGauge, Failure> {
    Ok(BoundGauge { inner: metric::bind(&rb_self.inner, args)? })
}

fn bound_set(rb_self: Value, value: Value) -> Result<(), Failure> {
    Ok(convert::this::<BoundGauge>(rb_self)?.inner.series.set(convert::float("value", value)?).map(drop)?)
}

fn bound_add(rb_self: Value, args: &[Value], sign: f64) -> Result<(), Failure> {
    let rb_self = convert::this::<BoundGauge>(rb_self)?;
    let (pos, kw) = split_kwargs(args);
    convert::arity(pos, 0, 0)?;
    let [amount] = take_kwargs(kw, [sym_by()])?;
    let amount = by(amount)?;
    let series = &rb_self.inner.series;
    Ok(if sign > 0.0 { series.increment(Number::Float(amount)) } else { series.decrement(amount).map(drop) }?)
}

pub(crate) fn init(ruby: &Ruby, module: RModule) -> Result<(), Error> {
    let class = module.define_class("Gauge", ruby.class_object())?;
    bind_common!(class, Gauge, "TaskerMetrics::Gauge");
    class.define_private_method("_set", rb_method!(set, 2))?;
    class.define_private_method("_increment", rb_method!(|s: Value, by: Value, l: Option<Value>| add(s, by, l, 1.0), 2))?;
    class.define_private_method("_decrement", rb_method!(|s: Value, by: Value, l: Option<Value>| add(s, by, l, -1.0), 2))?;
    class.define_private_method("_set_value", rb_method!(set_value, 2))?;
    class.define_private_method("_increment_value", rb_method!(|s: Value, by: Value, l: Option<Value>| add_value(s, by, l, 1.0), 2))?;
    class.define_private_method("_decrement_value", rb_method!(|s: Value, by: Value, l: Option<Value>| add_value(s, by, l, -1.0), 2))?;
    class.define_method("with_labels", rb_method!(with_labels, -1))?;

    let bound = class.define_class("Bound", ruby.class_object())?;
    bind_bound_common!(bound, BoundGauge);
    bound.define_method("set", rb_method!(bound_set, 1))?;
    bound.define_method("increment", rb_method!(|s: Value, a: &[Value]| bound_add(s, a, 1.0), -1))?;
    bound.define_method("decrement", rb_method!(|s: Value, a: &[Value]| bound_add(s, a, -1.0), -1))?;
    bound.define_private_method(
        "_tasker_set",
        rb_method!(|s: &BoundGauge, v: Value| tasker::gauge_set(&s.inner.series, tasker_amount(v)), 1),
    )?;
    bound.define_private_method(
        "_tasker_increment",
        rb_method!(|s: &BoundGauge, v: Value| tasker::gauge_increment(&s.inner.series, tasker_amount(v)), 1),
    )?;
    bound.define_private_method(
        "_tasker_decrement",
        rb_method!(|s: &BoundGauge, v: Value| tasker::gauge_decrement(&s.inner.series, tasker_amount(v)), 1),
    )?;
    Ok(())
}
