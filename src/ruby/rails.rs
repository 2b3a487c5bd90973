//! `TaskerMetrics::RailsMetrics::RequestListener` and `JobListener`: native callables that
//! ActiveSupport::Notifications hands Rails' request and job events to (one C call per event).
//! They read the few payload fields they need and make one core call; a failure goes to
//! `TaskerMetrics::RailsMetrics.failed` (counted and logged there), never to the request.

use crate::core::rails::{JobMetrics, Request, RequestMetrics};
use crate::ruby::convert::{Notification, StaticSym};
use crate::ruby::errors::{rb_function, rb_method, Failure};
use crate::ruby::registry::Registry;
use magnus::{prelude::*, Error, Fixnum, Float, RHash, RModule, RString, Ruby, Value};
use once_cell::sync::OnceCell;

#[derive(Clone, Copy)]
struct Keys {
    controller: StaticSym,
    action: StaticSym,
    method: StaticSym,
    status: StaticSym,
    view_runtime: StaticSym,
    db_runtime: StaticSym,
    job: StaticSym,
    exception_object: StaticSym,
}

fn keys() -> &'static Keys {
    static KEYS: OnceCell<Keys> = OnceCell::new();
    KEYS.get_or_init(|| Keys {
        controller: StaticSym::new("controller"),
        action: StaticSym::new("action"),
        method: StaticSym::new("method"),
        status: StaticSym::new("status"),
        view_runtime: StaticSym::new("view_runtime"),
        db_runtime: StaticSym::new("db_runtime"),
        job: StaticSym::new("job"),
        exception_object: StaticSym::new("exception_object"),
    })
}

fn seconds(started: Value, finished: Value) -> f64 {
    match (Float::from_value(started), Float::from_value(finished)) {
        (Some(s), Some(f)) => f.to_f64() - s.to_f64(),
        _ => 0.0,
    }
}

fn number(v: Option<Value>) -> Option<f64> {
    let v = v?;
    Float::from_value(v).map(Float::to_f64).or_else(|| Fixnum::from_value(v).map(|i| i.to_i64() as f64))
}

/// The bytes of a String value, copied (the label key is built from them after other reads).
fn text(v: Option<Value>) -> Vec<u8> {
    v.and_then(RString::from_value).map(|s| unsafe { s.as_slice() }.to_vec()).unwrap_or_default()
}

fn rails_module(ruby: &Ruby) -> Result<RModule, Error> {
    ruby.class_object().const_get::<_, RModule>("TaskerMetrics")?.const_get("RailsMetrics")
}

#[cold]
fn report(ruby: &Ruby, name: Value, e: Error) -> Result<(), Error> {
    rails_module(ruby)?.funcall::<_, _, Value>("failed", (name, e.to_string())).map(drop)
}

/// `RequestListener.new(registry)`: for `process_action.action_controller`.
#[magnus::wrap(class = "TaskerMetrics::RailsMetrics::RequestListener", free_immediately, size)]
pub(crate) struct RequestListener {
    metrics: RequestMetrics,
}

fn request_new(registry: &Registry) -> Result<RequestListener, Failure> {
    Ok(RequestListener { metrics: RequestMetrics::register(&registry.inner, None)? })
}

/// `call(name, started, finished, id, payload)`. A request without a status raised: its status
/// comes from `RailsMetrics.status_for(payload)` (ActionDispatch's mapping of the exception).
fn request_call(ruby: &Ruby, rb_self: &RequestListener, args: &[Value]) -> Result<(), Error> {
    let Notification { name, started, finished, payload } = Notification::from_args(args).map_err(|e| e.into_rb(ruby))?;
    let body = || -> Result<(), Failure> {
        let Some(payload) = RHash::from_value(payload) else { return Ok(()) };
        let k = keys();
        let status = match k.status.lookup(payload).and_then(Fixnum::from_value) {
            Some(s) => s.to_i64(),
            None => rails_module(ruby)?.funcall::<_, _, i64>("status_for", (payload,))?,
        };
        let (controller, action, method) =
            (text(k.controller.lookup(payload)), text(k.action.lookup(payload)), text(k.method.lookup(payload)));
        let request = Request {
            controller: &controller,
            action: &action,
            method: &method,
            status: u16::try_from(status).unwrap_or(0),
            seconds: seconds(started, finished),
            view_ms: number(k.view_runtime.lookup(payload)),
            db_ms: number(k.db_runtime.lookup(payload)),
        };
        Ok(rb_self.metrics.record(&request)?)
    };
    crate::ruby::errors::listen(ruby, body, |e| report(ruby, name, e))
}

/// `JobListener.new(registry)`: for `enqueue.active_job` and `perform.active_job`.
#[magnus::wrap(class = "TaskerMetrics::RailsMetrics::JobListener", free_immediately, size)]
pub(crate) struct JobListener {
    metrics: JobMetrics,
}

fn job_new(registry: &Registry) -> Result<JobListener, Failure> {
    Ok(JobListener { metrics: JobMetrics::register(&registry.inner, None)? })
}

fn job_call(ruby: &Ruby, rb_self: &JobListener, args: &[Value]) -> Result<(), Error> {
    let Notification { name, started, finished, payload } = Notification::from_args(args).map_err(|e| e.into_rb(ruby))?;
    let body = || -> Result<(), Failure> {
        let Some(payload) = RHash::from_value(payload) else { return Ok(()) };
        let k = keys();
        let Some(job) = k.job.lookup(payload) else { return Ok(()) };
        // SAFETY: the class name is copied out at once.
        let class = unsafe { job.classname() }.into_owned();
        let queue = job.funcall::<_, _, Value>("queue_name", ())?.to_r_string()?.to_string()?;
        let event = RString::from_value(name).map(|s| s.to_string()).transpose()?.unwrap_or_default();
        if event.starts_with("enqueue") {
            Ok(rb_self.metrics.enqueued(class.as_bytes(), queue.as_bytes())?)
        } else {
            let failed = k.exception_object.lookup(payload).is_some_and(|e| !e.is_nil());
            Ok(rb_self.metrics.performed(class.as_bytes(), queue.as_bytes(), failed, seconds(started, finished))?)
        }
    };
    crate::ruby::errors::listen(ruby, body, |e| report(ruby, name, e))
}

pub(crate) fn init(ruby: &Ruby, module: RModule) -> Result<(), Error> {
    let rails = module.define_module("RailsMetrics")?;
    let request = rails.define_class("RequestListener", ruby.class_object())?;
    request.undef_default_alloc_func();
    request.define_singleton_method("new", rb_function!(request_new, 1))?;
    request.define_method("call", rb_method!(ruby request_call, -1))?;
    let job = rails.define_class("JobListener", ruby.class_object())?;
    job.undef_default_alloc_func();
    job.define_singleton_method("new", rb_function!(job_new, 1))?;
    job.define_method("call", rb_method!(ruby job_call, -1))?;
    Ok(())
}
