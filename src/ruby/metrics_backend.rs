//! `TaskerMetrics::MetricsBackend` (a stdlib `Singleton`, see lib/tasker_metrics/metrics_backend.rb)
//! and `TaskerMetrics.record`, the one native call subscribers make per event.

use crate::core::metric::{Buckets, MetricKind};
use crate::core::registry::Number;
use crate::core::tasker;
use crate::core::tasker::backend::MetricsBackend as CoreBackend;
use crate::core::tasker::exposition as tasker_format;
use crate::core::tasker::router::EventRouter;
use crate::ruby::convert::{LabelText, Notification};
use crate::ruby::errors::{arg_error, type_error};
use crate::ruby::errors::{rb_function, rb_method, Failure};
use crate::ruby::event_router::event_name;
use crate::ruby::gvl::without_gvl;
use crate::ruby::{convert, metric, payload};
use magnus::error::ErrorType;
use magnus::value::Opaque;
use magnus::{prelude::*, Error, Float, RArray, RHash, RModule, RString, Ruby, Symbol, Value};

fn backend() -> &'static CoreBackend {
    CoreBackend::global()
}

fn kind_of(v: Symbol) -> Result<MetricKind, Failure> {
    match &*v.name()? {
        "counter" => Ok(MetricKind::Counter),
        "gauge" => Ok(MetricKind::Gauge),
        "histogram" => Ok(MetricKind::Histogram),
        other => Err(arg_error(format!("unknown metric kind :{other}"))),
    }
}

/// Label text for Tasker's arbitrary label values: [`LabelText`]'s rule, then `to_s` for
/// anything else (Tasker interpolated every value); a `to_s` that raises or gives invalid UTF-8
/// is a TypeError naming the label.
fn label_text(label: &str, v: Value) -> Result<String, Failure> {
    let text = match LabelText::of(v)? {
        Some(t) => t.into_string(),
        None => v.funcall::<_, _, RString>("to_s", ()).ok().and_then(|s| s.to_string().ok()),
    };
    text.ok_or_else(|| {
        type_error(format!("label {label:?} value has no usable text (its to_s raised or is not UTF-8): {}", convert::describe(v)))
    })
}

/// `_series(kind, name, labels, buckets)`: get-or-create; returns `[key, bound handle]`, the key
/// being Tasker's stable `name{k="v",...}` (label names sorted).
fn series(ruby: &Ruby, _rb_self: Value, kind: Symbol, name: Value, labels: RHash, buckets: Option<RArray>) -> Result<RArray, Failure> {
    let kind = kind_of(kind)?;
    let name = convert::text(name).ok_or_else(|| arg_error(tasker::NAME_EMPTY))?;
    let name = tasker::check_name(Some(&name))?.to_owned();
    let owned = label_pairs(labels)?;
    let buckets = match buckets {
        None => None,
        Some(a) => Some(tasker::buckets(Some(a.into_iter().map(payload::tasker_amount).collect()))?),
    };
    let family = backend().family(&name, kind, buckets)?;
    let mut pairs: Vec<(&[u8], &[u8])> = owned.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())).collect();
    let series = backend().series(&family, &mut pairs)?;
    let key = crate::core::tasker::backend::series_key(&family, &series);
    Ok(ruby.ary_new_from_values(&[ruby.str_new(&key).as_value(), metric::wrap_bound(ruby, metric::BoundInner { family, series })]))
}

/// `MetricsBackend._stable_key(name, labels)`: the key [`series`] gives a series of `name` with
/// `labels` (values through `to_s` as for any Tasker label).
fn stable_key(name: Value, labels: RHash) -> Result<String, Failure> {
    let name = convert::text(name).ok_or_else(|| arg_error(tasker::NAME_EMPTY))?;
    let pairs = label_pairs(labels)?;
    Ok(crate::core::tasker::backend::stable_key(&name, pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()))
}

/// A Tasker labels Hash as `(name, text)` pairs, in its order.
pub(crate) fn label_pairs(labels: RHash) -> Result<Vec<(String, String)>, Failure> {
    let mut owned: Vec<(String, String)> = Vec::with_capacity(labels.len());
    convert::each_pair(labels, |k, v| {
        let key =
            convert::text(k).ok_or_else(|| type_error(format!("label names must be Strings or Symbols, got {}", convert::describe(k))))?;
        let text = label_text(&key, v)?;
        owned.push((key, text));
        Ok(())
    })?;
    Ok(owned)
}

/// `TaskerMetrics._set_derived_buckets({name => [bounds]})`
fn set_derived_buckets(buckets: RHash) -> Result<(), Failure> {
    let mut map = std::collections::HashMap::new();
    convert::each_pair(buckets, |name, bounds| {
        let name = convert::name("derived_buckets", name)?;
        let bounds =
            RArray::from_value(bounds).ok_or_else(|| type_error(format!("derived_buckets for {name:?} must be an Array of numbers")))?;
        let bounds = bounds.into_iter().map(|v| convert::float("derived_buckets", v)).collect::<Result<Vec<f64>, Failure>>()?;
        map.insert(name, Buckets::new(&bounds)?);
        Ok(())
    })?;
    Ok(backend().set_derived_buckets(map)?)
}

/// `TaskerMetrics._set_derived_native(native)`: `false`, `true` or a Hash of native settings.
fn set_derived_native(native: Value) -> Result<(), Failure> {
    Ok(backend().set_derived_native(crate::ruby::histogram::native_settings(native)?)?)
}

/// `_handle_event(name, payload)`: derive; raises what failed (the Ruby side warns).
fn handle_event(_rb_self: Value, name: Value, payload: RHash) -> Result<(), Failure> {
    let name = event_name(name)?;
    let mut read = payload::read(payload)?;
    Ok(backend().handle_event(&name, &read.payload())?)
}

/// `_derivation(name, payload)`: the updates deriving would make, as
/// `[[type, name, labels, method, argument or nil], ...]` for the Ruby side to apply through the
/// backend's own `counter`/`gauge`/`histogram` when those were replaced.
fn derivation(ruby: &Ruby, _rb_self: Value, name: Value, payload: RHash) -> Result<RArray, Failure> {
    use crate::core::tasker::backend::DerivedUpdate;
    let name = event_name(name)?;
    let mut read = payload::read(payload)?;
    let out = ruby.ary_new();
    for d in backend().derivation(&name, &read.payload())? {
        let labels = ruby.hash_new();
        for (k, v) in &d.labels {
            labels.aset(ruby.str_new(k), ruby.str_new(v))?;
        }
        let (method, argument) = match d.update {
            DerivedUpdate::Increment => ("increment", ruby.qnil().as_value()),
            DerivedUpdate::Observe(v) => ("observe", ruby.float_from_f64(v).as_value()),
            DerivedUpdate::Set(v) => ("set", ruby.float_from_f64(v).as_value()),
        };
        out.push((ruby.to_symbol(d.kind.as_str()), ruby.str_new(&d.name), labels, ruby.to_symbol(method), argument))?;
    }
    Ok(out)
}

/// `TaskerMetrics.record(event_name, payload = {}, duration = nil)`: route (one sampling draw),
/// derive, update.
fn record(args: &[Value]) -> Result<bool, Failure> {
    let (name, payload, duration) = match args {
        [name] => (*name, None, None),
        [name, payload] => (*name, Some(*payload), None),
        [name, payload, duration] => (*name, Some(*payload), Some(*duration)),
        _ => return Err(arg_error(format!("wrong number of arguments (given {}, expected 1..3)", args.len()))),
    };
    let payload = match payload {
        Some(v) if !v.is_nil() => {
            Some(RHash::from_value(v).ok_or_else(|| type_error(format!("payload must be a Hash, got {}", convert::describe(v))))?)
        }
        _ => None,
    };
    record_event(name, payload, duration.filter(|d| !d.is_nil()).map(payload::tasker_amount), "")
}

/// Routes and records one event: `name` with `suffix` taken off its end, the payload's fields,
/// and `duration` when the payload carries none of its own.
#[inline(always)] // returning the payload structs through calls cost more copying than work
fn record_event(name: Value, payload: Option<RHash>, duration: Option<tasker::Amount>, suffix: &str) -> Result<bool, Failure> {
    let mut read = payload.map(payload::read).transpose()?;
    let mut payload = read.as_mut().map(payload::Read::payload).unwrap_or_default();
    if let Some(d) = duration {
        if payload.duration.is_none() && payload.execution_duration.is_none() {
            payload.duration = Some(d);
        }
    }
    let record = |n: &str| backend().record(EventRouter::global(), n.strip_suffix(suffix).unwrap_or(n), &payload);
    match convert::with_text(name, record) {
        Some(recorded) => Ok(recorded?),
        None => Err(event_name(name).err().unwrap_or_else(|| arg_error("event_name must be valid UTF-8"))),
    }
}

/// `TaskerMetrics::Subscriber::Listener`: the callable ActiveSupport::Notifications hands each
/// event to. Native, so an event costs ActiveSupport one C method call instead of a block call
/// plus a method call from it.
#[derive(magnus::TypedData)]
#[magnus(class = "TaskerMetrics::Subscriber::Listener", free_immediately, size, mark)]
pub(crate) struct Listener {
    /// The Ruby `Subscriber`, told about failures (it counts and warns).
    subscriber: Opaque<Value>,
    suffix: String,
}

impl magnus::DataTypeFunctions for Listener {
    fn mark(&self, marker: &magnus::gc::Marker) {
        marker.mark(self.subscriber);
    }
}

/// `Listener.new(subscriber, suffix)`
fn listener_new(subscriber: Value, suffix: RString) -> Result<Listener, Failure> {
    let suffix = suffix.to_string()?;
    Ok(Listener { subscriber: subscriber.into(), suffix })
}

/// `Listener#call(name, started, finished, id, payload)`: records the event (the suffix taken
/// off its name, the duration `finished - started` unless the payload has one, a payload that
/// is not a Hash ignored). A StandardError goes to the subscriber's `failed` instead of to the
/// instrumented code; anything else (an Interrupt in a label's `to_s`) propagates.
fn listener_call(ruby: &Ruby, rb_self: &Listener, args: &[Value]) -> Result<(), Error> {
    let Notification { name, started, finished, payload } = Notification::from_args(args).map_err(|e| e.into_rb(ruby))?;
    let body = || {
        let seconds = |v: Value| Float::from_value(v).map(Float::to_f64);
        let duration = seconds(started).zip(seconds(finished)).map(|(s, f)| tasker::Amount::Num(Number::Float(f - s)));
        record_event(name, RHash::from_value(payload), duration, &rb_self.suffix).map(drop)
    };
    crate::ruby::errors::listen(ruby, body, |e| report_failure(ruby, rb_self, name, e))
}

#[cold]
fn report_failure(ruby: &Ruby, listener: &Listener, name: Value, e: Error) -> Result<(), Error> {
    let exception = match e.error_type() {
        ErrorType::Error(class, msg) => class.new_instance((ruby.str_new(msg.as_ref()),))?.as_value(),
        ErrorType::Exception(ex) => ex.as_value(),
        ErrorType::Jump(_) => return Err(e),
    };
    ruby.get_inner(listener.subscriber).funcall::<_, _, Value>("failed", (name, exception)).map(drop)
}

/// `_all_series`: `[[key, bound handle], ...]` in family then creation order.
fn all_series(ruby: &Ruby, _rb_self: Value) -> Result<RArray, Failure> {
    let out = ruby.ary_new();
    for (key, family, series) in backend().all_series() {
        out.push((key, metric::wrap_bound(ruby, metric::BoundInner { family, series })))?;
    }
    Ok(out)
}

/// `_export(generated)`: Tasker's exporter text, rendered without the GVL.
fn export(ruby: &Ruby, _rb_self: Value, generated: String) -> Result<RString, Failure> {
    let text =
        without_gvl(move || tasker_format::render(&crate::core::multiprocess::collect(backend().registry()).families, &generated, None))?;
    Ok(ruby.str_new(&text))
}

/// `_standalone(kind, name, buckets, initial)`: Tasker's `MetricTypes::X.new`.
fn standalone(ruby: &Ruby, kind: Symbol, name: Value, buckets: Value, initial: Value) -> Result<Value, Failure> {
    let kind = kind_of(kind)?;
    let name = if name.is_nil() { None } else { convert::text(name) };
    // Tasker's rules apply to what was given: nil buckets are "not an array", nil initial value
    // "not numeric".
    let buckets: Option<Buckets> = match kind {
        MetricKind::Histogram => {
            Some(tasker::buckets(RArray::from_value(buckets).map(|a| a.into_iter().map(payload::tasker_amount).collect()))?)
        }
        _ => None,
    };
    let initial = (kind == MetricKind::Gauge).then(|| payload::tasker_amount(initial));
    let (family, series) = tasker::standalone(name.as_deref().or(Some("")), kind, buckets, initial)?;
    Ok(metric::wrap_bound(ruby, metric::BoundInner { family, series }))
}

pub(crate) fn init(ruby: &Ruby, module: RModule) -> Result<(), Error> {
    module.define_module_function("record", rb_function!(record, -1))?;
    module.define_singleton_method("_set_derived_buckets", rb_function!(set_derived_buckets, 1))?;
    module.define_singleton_method("_set_derived_native", rb_function!(set_derived_native, 1))?;
    module.define_singleton_method("_reseed_sampler", rb_function!(crate::core::tasker::sampler::reseed_after_fork, 0))?;
    let class = module.define_class("MetricsBackend", ruby.class_object())?;
    class.define_singleton_method("_stable_key", rb_function!(stable_key, 2))?;
    class.define_private_method("_series", rb_method!(ruby series, 4))?;
    class.define_private_method("_handle_event", rb_method!(handle_event, 2))?;
    class.define_private_method("_derivation", rb_method!(ruby derivation, 2))?;
    class.define_private_method("_all_series", rb_method!(ruby all_series, 0))?;
    class.define_private_method("_clear", rb_method!(|_s: Value| backend().clear(), 0))?;
    class.define_private_method("_export", rb_method!(ruby export, 1))?;
    let subscriber = module.define_class("Subscriber", ruby.class_object())?;
    let listener = subscriber.define_class("Listener", ruby.class_object())?;
    listener.undef_default_alloc_func();
    listener.define_singleton_method("new", rb_function!(listener_new, 2))?;
    listener.define_method("call", rb_method!(ruby listener_call, -1))?;
    let types = module.define_module("MetricTypes")?;
    types.define_singleton_method("_standalone", rb_function!(ruby standalone, 4))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::ruby::test_support::eval;
    use rb_sys_test_helpers::ruby_test;

    /// The listener ActiveSupport calls: keeps its subscriber alive, records under GC.stress and
    /// compaction, hands a StandardError to the subscriber, ignores a payload that is not a Hash.
    #[ruby_test]
    fn listener_records_and_reports_failures_under_gc_stress() {
        let seen: String = eval(
            r##"require "weakref"
               failures = []
               make = lambda do
                 subscriber = Object.new
                 subscriber.define_singleton_method(:failed) { |name, e| failures << "#{name}: #{e.class}" }
                 [TaskerMetrics::Subscriber::Listener.new(subscriber, ".tasker"), WeakRef.new(subscriber)]
               end
               listener, kept = make.call
               3.times { GC.start(full_mark: true, immediate_sweep: true) }
               raise "the listener let its subscriber be collected" unless kept.weakref_alive?
               GC.stress = true
               5.times { listener.call("step.completed.tasker", 1.0, 1.25, "id", { status: "glue" }) }
               listener.call("step.completed.tasker", 1.0, 1.25, "id", { status: "glue", duration: "slow" })
               listener.call("step.completed.tasker", 1.0, 1.5, "id", nil)
               GC.stress = false
               GC.compact if GC.respond_to?(:compact)
               listener.call("step.completed", 2.0, 2.25, "id", { status: "glue" })
               series = TaskerMetrics::MetricsBackend.allocate.__send__(:_all_series).to_h { |key, s| [key, s.get] }
               [series['step_completed_total{status="glue"}'], series['step_duration_seconds{status="glue"}'][:sum],
                series['step_completed_total'], failures].inspect"##,
        )
        .unwrap();
        assert_eq!(seen, r#"[6, 1.5, 1, ["step.completed.tasker: ArgumentError"]]"#);
    }
}
