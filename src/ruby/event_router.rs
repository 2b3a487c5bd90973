//! `TaskerMetrics::EventRouter`: the process-wide router's methods. The instance (a stdlib
//! `Singleton`, see lib/tasker_metrics/event_router.rb) holds no state of its own; every method
//! reads or swaps the core router's snapshot.

use crate::core::tasker::router::{self, Backend, EventMapping as CoreMapping, EventRouter as CoreRouter};
use crate::ruby::convert::text;
use crate::ruby::errors::arg_error;
use crate::ruby::errors::{rb_method, Failure};
use crate::ruby::event_mapping::{self, EventMapping};
use magnus::{prelude::*, Error, RArray, RHash, RModule, Ruby, Value};
use std::sync::Arc;

fn router() -> &'static CoreRouter {
    CoreRouter::global()
}

/// An event name: String or Symbol; nil is Tasker's "event_name cannot be nil".
pub(crate) fn event_name(v: Value) -> Result<String, Failure> {
    if v.is_nil() {
        return Err(arg_error("event_name cannot be nil"));
    }
    text(v).ok_or_else(|| arg_error(format!("event_name must be a String or Symbol, got: {}", crate::ruby::convert::describe(v))))
}

fn map(ruby: &Ruby, _rb_self: Value, args: &[Value]) -> Result<Value, Failure> {
    crate::ruby::convert::arity(args, 6, 6)?;
    event_name(args[0])?;
    let spec = event_mapping::spec(args)?;
    Ok(EventMapping::wrap(ruby, router().map(CoreMapping::new(spec)?)?))
}

fn mapping_for(ruby: &Ruby, _rb_self: Value, name: Value) -> Option<Value> {
    text(name).and_then(|n| router().mapping_for(&n)).map(|m| EventMapping::wrap(ruby, m))
}

fn predicate(name: Value, backend: Backend) -> bool {
    text(name).is_some_and(|n| router().routes_to(&n, backend))
}

fn events_for_backend(ruby: &Ruby, _rb_self: Value, backend: Value) -> Result<RArray, Failure> {
    let b = text(backend).and_then(|n| Backend::from_query_name(&n)).ok_or_else(|| {
        let shown = backend.funcall::<_, _, String>("inspect", ()).unwrap_or_else(|_| "?".into());
        Failure::from(router::unknown_backend(&shown))
    })?;
    let a = ruby.ary_from_iter(router().events_for(b).into_iter().map(|n| ruby.str_new(&n)));
    a.freeze();
    Ok(a)
}

/// Bit added to [`decide`]'s mask when the event was found under another mapping's name.
const MAPPED_ELSEWHERE: u8 = 8;

/// The one sampling draw: `nil` when unmapped, disabled or not sampled, else the backend mask
/// (trace 1, metrics 2, logs 4), plus 8 when the mapping has another name than the one asked
/// for (Tasker's subscriber turned its `_` into `.`).
fn decide(_rb_self: Value, name: Value) -> Option<u8> {
    let (route, mapped) = text(name).and_then(|n| router().resolve(&n))?;
    route.draw().map(|b| b.bits() | if mapped.is_some() { MAPPED_ELSEWHERE } else { 0 })
}

fn routing_stats(ruby: &Ruby, _rb_self: Value) -> Result<RHash, Failure> {
    let s = router().stats();
    let h = ruby.hash_new();
    for (k, v) in [
        ("total_mappings", s.total_mappings),
        ("trace_events", s.trace_events),
        ("metrics_events", s.metrics_events),
        ("log_events", s.log_events),
        ("enabled_mappings", s.enabled_mappings),
        ("high_priority", s.high_priority),
        ("sampled_mappings", s.sampled_mappings),
    ] {
        h.aset(ruby.to_symbol(k), v)?;
    }
    Ok(h)
}

fn configured_events(ruby: &Ruby, _rb_self: Value) -> RArray {
    ruby.ary_from_iter(router().snapshot().mappings().iter().map(|m| ruby.str_new(m.event_name())))
}

fn mappings(ruby: &Ruby, _rb_self: Value) -> Result<RHash, Failure> {
    let h = ruby.hash_new();
    for m in router().snapshot().mappings() {
        h.aset(ruby.str_new(m.event_name()), EventMapping::wrap(ruby, Arc::clone(m)))?;
    }
    h.freeze();
    Ok(h)
}

pub(crate) fn init(ruby: &Ruby, module: RModule) -> Result<(), Error> {
    let class = module.define_class("EventRouter", ruby.class_object())?;
    class.define_private_method("_map", rb_method!(ruby map, -1))?;
    class.define_private_method("_decide", rb_method!(decide, 1))?;
    class.define_method("mapping_for", rb_method!(ruby mapping_for, 1))?;
    class.define_method(
        "mapping_exists?",
        rb_method!(|_s: Value, n: Value| text(n).is_some_and(|n| router().mapping_for(&n).is_some()), 1),
    )?;
    class.define_method("routes_to_traces?", rb_method!(|_s: Value, n: Value| predicate(n, Backend::Trace), 1))?;
    class.define_method("routes_to_metrics?", rb_method!(|_s: Value, n: Value| predicate(n, Backend::Metrics), 1))?;
    class.define_method("routes_to_logs?", rb_method!(|_s: Value, n: Value| predicate(n, Backend::Logs), 1))?;
    class.define_method("events_for_backend", rb_method!(ruby events_for_backend, 1))?;
    class.define_method("routing_stats", rb_method!(ruby routing_stats, 0))?;
    class.define_method("configured_events", rb_method!(ruby configured_events, 0))?;
    class.define_method("mappings", rb_method!(ruby mappings, 0))?;
    class.define_private_method("_reset", rb_method!(|_s: Value| router().reset(), 0))?;
    Ok(())
}
