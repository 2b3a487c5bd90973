//! `TaskerMetrics::EventMapping`: an immutable, validated routing rule (Tasker's EventMapping).
//! The keyword constructor is Ruby (lib/tasker_metrics/event_mapping.rb); this file converts the
//! fields, including metadata, which is copied into Rust as plain data.

use crate::core::tasker::router::{self, Backend, EventMapping as CoreMapping, MappingSpec, Meta};
use crate::ruby::convert::{describe, text};
use crate::ruby::errors::arg_error;
use crate::ruby::errors::{rb_function, rb_method, Failure};
use magnus::{prelude::*, Error, Float, Integer, RArray, RHash, RModule, RString, Ruby, Symbol, Value};
use std::sync::Arc;

/// A routing rule for one event.
#[magnus::wrap(class = "TaskerMetrics::EventMapping", free_immediately, size)]
pub(crate) struct EventMapping {
    pub(crate) inner: Arc<CoreMapping>,
}

const MAX_META_DEPTH: usize = 32;

/// Reads the six fields `(event_name, backends, enabled, sampling_rate, priority, metadata)` into
/// a spec; each bad type is an ArgumentError naming the field.
pub(crate) fn spec(fields: &[Value]) -> Result<MappingSpec, Failure> {
    crate::ruby::convert::arity(fields, 6, 6)?;
    let [name, backends, enabled, rate, priority, metadata] = [fields[0], fields[1], fields[2], fields[3], fields[4], fields[5]];
    let event_name = text(name).filter(|n| !n.trim().is_empty()).ok_or_else(|| field_error("event_name", name))?;
    let backends = match RArray::from_value(backends) {
        Some(array) => {
            array.into_iter().map(|b| text(b).ok_or_else(|| field_error("backends", backends))).collect::<Result<Vec<_>, _>>()?
        }
        None => vec![text(backends).ok_or_else(|| field_error("backends", backends))?],
    };
    let sampling_rate = crate::ruby::convert::float("sampling_rate", rate).map_err(|_| field_error("sampling_rate", rate))?;
    let priority = text(priority).ok_or_else(|| field_error("priority", priority))?;
    if RHash::from_value(metadata).is_none() {
        return Err(field_error("metadata", metadata));
    }
    Ok(MappingSpec { event_name, backends, enabled: enabled.to_bool(), sampling_rate, priority, metadata: meta(metadata, 0)? })
}

fn field_error(field: &str, v: Value) -> Failure {
    router::field_error(field, &inspect(v)).into()
}

fn inspect(v: Value) -> String {
    v.funcall::<_, _, String>("inspect", ()).unwrap_or_else(|_| describe(v))
}

fn meta(v: Value, depth: usize) -> Result<Meta, Failure> {
    if depth > MAX_META_DEPTH {
        return Err(arg_error(format!("metadata is nested deeper than {MAX_META_DEPTH} levels")));
    }
    let ruby = ruby();
    Ok(if v.is_nil() {
        Meta::Nil
    } else if v.is_kind_of(ruby.class_true_class()) || v.is_kind_of(ruby.class_false_class()) {
        Meta::Bool(v.to_bool())
    } else if let Some(i) = Integer::from_value(v) {
        match i.to_i64() {
            Ok(n) => Meta::Int(n),
            Err(_) => Meta::Float(i.funcall("to_f", ())?),
        }
    } else if let Some(f) = Float::from_value(v) {
        Meta::Float(f.to_f64())
    } else if let Some(s) = Symbol::from_value(v) {
        Meta::Sym(s.name()?.into_owned())
    } else if let Some(s) = RString::from_value(v) {
        Meta::Str(s.to_string().map_err(|_| arg_error("metadata strings must be valid UTF-8"))?)
    } else if let Some(a) = RArray::from_value(v) {
        Meta::Array(a.into_iter().map(|x| meta(x, depth + 1)).collect::<Result<_, _>>()?)
    } else if let Some(h) = RHash::from_value(v) {
        let mut pairs = Vec::with_capacity(h.len());
        crate::ruby::convert::each_pair(h, |k, x| {
            pairs.push((meta(k, depth + 1)?, meta(x, depth + 1)?));
            Ok(())
        })?;
        Meta::Hash(pairs)
    } else {
        return Err(arg_error(format!(
            "metadata may hold nil, true, false, numbers, Strings, Symbols, Arrays and Hashes, got: {}",
            crate::ruby::payload::class_name(v)
        )));
    })
}

/// A deep-frozen Ruby copy of metadata.
pub(crate) fn meta_to_ruby(ruby: &Ruby, m: &Meta) -> Result<Value, Failure> {
    let v = match m {
        Meta::Nil => ruby.qnil().as_value(),
        Meta::Bool(b) => ruby.into_value(*b),
        Meta::Int(i) => ruby.into_value(*i),
        Meta::Float(f) => ruby.into_value(*f),
        Meta::Sym(s) => ruby.to_symbol(s).as_value(),
        Meta::Str(s) => {
            let s = ruby.str_new(s);
            s.freeze();
            s.as_value()
        }
        Meta::Array(items) => {
            let a = ruby.ary_new_capa(items.len());
            for item in items {
                a.push(meta_to_ruby(ruby, item)?)?;
            }
            a.freeze();
            a.as_value()
        }
        Meta::Hash(pairs) => {
            let h = ruby.hash_new();
            for (k, x) in pairs {
                h.aset(meta_to_ruby(ruby, k)?, meta_to_ruby(ruby, x)?)?;
            }
            h.freeze();
            h.as_value()
        }
    };
    Ok(v)
}

impl EventMapping {
    pub(crate) fn wrap(ruby: &Ruby, inner: Arc<CoreMapping>) -> Value {
        let obj = ruby.obj_wrap(EventMapping { inner });
        obj.freeze();
        obj.as_value()
    }
}

fn build(ruby: &Ruby, fields: &[Value]) -> Result<Value, Failure> {
    Ok(EventMapping::wrap(ruby, Arc::new(CoreMapping::new(spec(fields)?)?)))
}

fn backends(ruby: &Ruby, rb_self: &EventMapping) -> RArray {
    let a = ruby.ary_from_iter(rb_self.inner.backends().iter().map(|b| ruby.to_symbol(b.as_str())));
    a.freeze();
    a
}

fn to_h(ruby: &Ruby, rb_self: &EventMapping) -> Result<RHash, Failure> {
    let m = &rb_self.inner;
    let h = ruby.hash_new();
    h.aset(ruby.to_symbol("event_name"), m.event_name())?;
    h.aset(ruby.to_symbol("backends"), backends(ruby, rb_self))?;
    h.aset(ruby.to_symbol("enabled"), m.enabled())?;
    h.aset(ruby.to_symbol("sampling_rate"), m.sampling_rate())?;
    h.aset(ruby.to_symbol("priority"), ruby.to_symbol(m.priority().as_str()))?;
    h.aset(ruby.to_symbol("metadata"), meta_to_ruby(ruby, m.metadata())?)?;
    Ok(h)
}

fn eq(rb_self: &EventMapping, other: Value) -> bool {
    <&EventMapping>::try_convert(other).is_ok_and(|o| o.inner == rb_self.inner)
}

fn ruby() -> Ruby {
    // SAFETY: only called from methods Ruby invoked, on a Ruby thread.
    unsafe { Ruby::get_unchecked() }
}

pub(crate) fn init(ruby: &Ruby, module: RModule) -> Result<(), Error> {
    let class = module.define_class("EventMapping", ruby.class_object())?;
    class.undef_default_alloc_func();
    class.define_singleton_method("_build", rb_function!(ruby build, -1))?;
    class.define_method(
        "event_name",
        rb_method!(
            ruby |r: &Ruby, s: &EventMapping| {
                let n = r.str_new(s.inner.event_name());
                n.freeze();
                n
            },
            0
        ),
    )?;
    class.define_method("backends", rb_method!(ruby backends, 0))?;
    class.define_method("enabled", rb_method!(|s: &EventMapping| s.inner.enabled(), 0))?;
    class.define_method("sampling_rate", rb_method!(|s: &EventMapping| s.inner.sampling_rate(), 0))?;
    class.define_method("priority", rb_method!(ruby |r: &Ruby, s: &EventMapping| r.to_symbol(s.inner.priority().as_str()), 0))?;
    class.define_method("metadata", rb_method!(ruby |r: &Ruby, s: &EventMapping| meta_to_ruby(r, s.inner.metadata()), 0))?;
    class.define_method("routes_to_traces?", rb_method!(|s: &EventMapping| s.inner.routes_to(Backend::Trace), 0))?;
    class.define_method("routes_to_metrics?", rb_method!(|s: &EventMapping| s.inner.routes_to(Backend::Metrics), 0))?;
    class.define_method("routes_to_logs?", rb_method!(|s: &EventMapping| s.inner.routes_to(Backend::Logs), 0))?;
    class.define_method("should_sample?", rb_method!(|s: &EventMapping| s.inner.should_sample(), 0))?;
    class.define_method("active?", rb_method!(|s: &EventMapping| s.inner.is_active(), 0))?;
    class.define_method("description", rb_method!(|s: &EventMapping| s.inner.description(), 0))?;
    class.define_method("to_h", rb_method!(ruby to_h, 0))?;
    class.define_method("==", rb_method!(eq, 1))?;
    class.define_alias("eql?", "==")?;
    Ok(())
}
