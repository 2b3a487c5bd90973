//! Metrics from Rails' own instrumentation: one request (`process_action.action_controller`)
//! and one job (`perform.active_job`, `enqueue.active_job`) at a time, into families registered
//! once. Labels are bounded by construction: controller, action, method and status for
//! requests (never the path), job class and queue for jobs.

use crate::core::error::Result;
use crate::core::labels::KeyBuf;
use crate::core::metric::{Buckets, MetricKind};
use crate::core::registry::{Family, FamilyDesc, Number, Registry, Update};
use std::sync::Arc;

/// Requests served, by controller, action, method and status.
pub const REQUESTS_TOTAL: &str = "rails_requests_total";
/// Request time, by the same labels.
pub const REQUEST_DURATION: &str = "rails_request_duration_seconds";
/// Time in views, by controller and action.
pub const VIEW_RUNTIME: &str = "rails_view_runtime_seconds";
/// Time in the database, by controller and action.
pub const DB_RUNTIME: &str = "rails_db_runtime_seconds";
/// Jobs enqueued, by job class and queue.
pub const JOBS_ENQUEUED: &str = "active_job_enqueued_total";
/// Jobs performed, by job class, queue and outcome (`success`, `error`).
pub const JOBS_PERFORMED: &str = "active_job_performed_total";
/// Job time, by job class and queue.
pub const JOB_DURATION: &str = "active_job_duration_seconds";

const REQUEST_LABELS: [&str; 4] = ["controller", "action", "method", "status"];
const RUNTIME_LABELS: [&str; 2] = ["controller", "action"];
const JOB_LABELS: [&str; 2] = ["job", "queue"];

/// One served request, as `process_action.action_controller` reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Request<'a> {
    /// `ArticlesController`.
    pub controller: &'a [u8],
    /// `index`.
    pub action: &'a [u8],
    /// `GET`.
    pub method: &'a [u8],
    /// The response status.
    pub status: u16,
    /// Wall time, in seconds.
    pub seconds: f64,
    /// Time in views, in milliseconds, when measured.
    pub view_ms: Option<f64>,
    /// Time in the database, in milliseconds, when measured.
    pub db_ms: Option<f64>,
}

// A full family counts its own drops (tasker_metrics_series_dropped_total), so the update
// outcomes here are not inspected.

/// The request families.
#[derive(Debug, Clone)]
pub struct RequestMetrics {
    requests: Arc<Family>,
    duration: Arc<Family>,
    view: Arc<Family>,
    db: Arc<Family>,
}

fn register(
    registry: &Registry,
    name: &str,
    help: &str,
    kind: MetricKind,
    labels: &[&str],
    buckets: Option<Buckets>,
) -> Result<Arc<Family>> {
    registry.register(FamilyDesc::new(name, help, kind, labels, buckets)?)
}

impl RequestMetrics {
    /// Registers (or finds, when registered alike) the request families.
    ///
    /// # Errors
    /// A family of the same name registered with another type or labels.
    pub fn register(registry: &Registry, buckets: Option<Buckets>) -> Result<Self> {
        Ok(RequestMetrics {
            requests: register(
                registry,
                REQUESTS_TOTAL,
                "Requests served, by controller, action, method and status",
                MetricKind::Counter,
                &REQUEST_LABELS,
                None,
            )?,
            duration: register(
                registry,
                REQUEST_DURATION,
                "Request time, by controller, action, method and status",
                MetricKind::Histogram,
                &REQUEST_LABELS,
                buckets,
            )?,
            view: register(
                registry,
                VIEW_RUNTIME,
                "Time spent rendering views, by controller and action",
                MetricKind::Histogram,
                &RUNTIME_LABELS,
                None,
            )?,
            db: register(
                registry,
                DB_RUNTIME,
                "Time spent in the database, by controller and action",
                MetricKind::Histogram,
                &RUNTIME_LABELS,
                None,
            )?,
        })
    }

    /// Counts one request and observes its times.
    ///
    /// # Errors
    /// Label values that are not UTF-8 or too long, or a time that is not finite; nothing is
    /// updated then.
    pub fn record(&self, r: &Request<'_>) -> Result<()> {
        crate::core::metric::check_finite("duration", r.seconds)?;
        let mut key = KeyBuf::new();
        key.push(r.controller);
        key.push(r.action);
        key.push(r.method);
        key.push(itoa::Buffer::new().format(r.status).as_bytes());
        let key = key.checked(&self.requests.desc().labels)?;
        let mut short = KeyBuf::new();
        short.push(r.controller);
        short.push(r.action);
        let short = short.checked(&self.view.desc().labels)?;
        let view = r.view_ms.filter(|v| v.is_finite() && *v >= 0.0);
        let db = r.db_ms.filter(|v| v.is_finite() && *v >= 0.0);
        self.requests.update(key, Update::Increment(Number::Int(1))).map(drop)?;
        self.duration.update(key, Update::Observe(r.seconds)).map(drop)?;
        if let Some(ms) = view {
            self.view.update(short, Update::Observe(ms / 1000.0)).map(drop)?;
        }
        if let Some(ms) = db {
            self.db.update(short, Update::Observe(ms / 1000.0)).map(drop)?;
        }
        Ok(())
    }
}

/// The job families.
#[derive(Debug, Clone)]
pub struct JobMetrics {
    enqueued: Arc<Family>,
    performed: Arc<Family>,
    duration: Arc<Family>,
}

impl JobMetrics {
    /// Registers (or finds) the job families.
    ///
    /// # Errors
    /// As [`RequestMetrics::register`].
    pub fn register(registry: &Registry, buckets: Option<Buckets>) -> Result<Self> {
        Ok(JobMetrics {
            enqueued: register(registry, JOBS_ENQUEUED, "Jobs enqueued, by job class and queue", MetricKind::Counter, &JOB_LABELS, None)?,
            performed: register(
                registry,
                JOBS_PERFORMED,
                "Jobs performed, by job class, queue and outcome",
                MetricKind::Counter,
                &["job", "queue", "outcome"],
                None,
            )?,
            duration: register(registry, JOB_DURATION, "Job time, by job class and queue", MetricKind::Histogram, &JOB_LABELS, buckets)?,
        })
    }

    /// Counts one enqueued job.
    ///
    /// # Errors
    /// Label values that are not UTF-8 or too long.
    pub fn enqueued(&self, job: &[u8], queue: &[u8]) -> Result<()> {
        let mut key = KeyBuf::new();
        key.push(job);
        key.push(queue);
        self.enqueued.update(key.checked(&self.enqueued.desc().labels)?, Update::Increment(Number::Int(1))).map(drop)
    }

    /// Counts one performed job (`failed`: it raised) and observes its time.
    ///
    /// # Errors
    /// As [`JobMetrics::enqueued`], or a time that is not finite.
    pub fn performed(&self, job: &[u8], queue: &[u8], failed: bool, seconds: f64) -> Result<()> {
        crate::core::metric::check_finite("duration", seconds)?;
        let mut key = KeyBuf::new();
        key.push(job);
        key.push(queue);
        let short = key.checked(&self.duration.desc().labels)?.to_vec();
        key.push(if failed { b"error" } else { b"success" });
        let key = key.checked(&self.performed.desc().labels)?;
        self.performed.update(key, Update::Increment(Number::Int(1))).map(drop)?;
        self.duration.update(&short, Update::Observe(seconds)).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::exposition::{prometheus, snapshot};

    #[test]
    fn requests_by_controller_action_method_and_status_with_view_and_db_time() {
        let reg = Registry::default();
        let m = RequestMetrics::register(&reg, None).unwrap();
        let r = Request {
            controller: b"OrdersController",
            action: b"show",
            method: b"GET",
            status: 200,
            seconds: 0.02,
            view_ms: Some(5.0),
            db_ms: None,
        };
        m.record(&r).unwrap();
        m.record(&Request { status: 404, view_ms: None, db_ms: Some(2.5), ..r }).unwrap();
        let text = prometheus::render(&snapshot(&reg));
        assert!(
            text.contains("rails_requests_total{controller=\"OrdersController\",action=\"show\",method=\"GET\",status=\"200\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("rails_requests_total{controller=\"OrdersController\",action=\"show\",method=\"GET\",status=\"404\"} 1\n"));
        assert!(text.contains(
            "rails_request_duration_seconds_count{controller=\"OrdersController\",action=\"show\",method=\"GET\",status=\"404\"} 1\n"
        ));
        assert!(text.contains("rails_view_runtime_seconds_sum{controller=\"OrdersController\",action=\"show\"} 0.005\n"));
        assert!(text.contains("rails_db_runtime_seconds_sum{controller=\"OrdersController\",action=\"show\"} 0.0025\n"));
        assert!(m.record(&Request { seconds: f64::NAN, ..r }).is_err());
        assert!(m.record(&Request { controller: b"\xff", ..r }).is_err());
        assert!(RequestMetrics::register(&reg, None).is_ok(), "registering again finds the same families");
    }

    #[test]
    fn jobs_by_class_queue_and_outcome() {
        let reg = Registry::default();
        let m = JobMetrics::register(&reg, None).unwrap();
        m.enqueued(b"ShipOrderJob", b"default").unwrap();
        m.performed(b"ShipOrderJob", b"default", false, 1.5).unwrap();
        m.performed(b"ShipOrderJob", b"default", true, 0.5).unwrap();
        let text = prometheus::render(&snapshot(&reg));
        assert!(text.contains("active_job_enqueued_total{job=\"ShipOrderJob\",queue=\"default\"} 1\n"), "{text}");
        assert!(text.contains("active_job_performed_total{job=\"ShipOrderJob\",queue=\"default\",outcome=\"error\"} 1\n"));
        assert!(text.contains("active_job_performed_total{job=\"ShipOrderJob\",queue=\"default\",outcome=\"success\"} 1\n"));
        assert!(text.contains("active_job_duration_seconds_sum{job=\"ShipOrderJob\",queue=\"default\"} 2\n"));
    }
}
