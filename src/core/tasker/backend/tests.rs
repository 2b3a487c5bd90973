//! Derivation, plans, the per-thread memory and Tasker's keys.

use super::*;
use crate::core::metric::Sample;
use crate::core::tasker::router::{EventMapping, MappingSpec};
use crate::core::tasker::Amount;

fn backend() -> MetricsBackend {
    MetricsBackend::new(Arc::new(Registry::default()))
}

fn value(b: &MetricsBackend, key: &str) -> Option<Sample> {
    b.all_series().into_iter().find(|(k, _, _)| k == key).map(|(_, _, s)| s.read())
}

fn num(v: f64) -> Option<Amount> {
    Some(Amount::Num(Number::Float(v)))
}

#[test]
fn suffix_rules_with_labels_and_durations() {
    let b = backend();
    let p = Payload { labels: [Some(b"Charge"), None, Some(b"ok")], duration: num(0.5), ..Payload::default() };
    b.handle_event("task.completed", &p).unwrap();
    b.handle_event("task.completed", &Payload { execution_duration: num(2.0), ..p.clone() }).unwrap();
    b.handle_event("step.failed", &Payload::default()).unwrap();
    b.handle_event("task.started", &Payload::default()).unwrap();
    b.handle_event("task.cancelled", &Payload::default()).unwrap();
    b.handle_event("task.retry_requested", &Payload::default()).unwrap();
    assert_eq!(value(&b, r#"task_completed_total{handler="Charge",status="ok"}"#), Some(Sample::Counter { int: 2, float: None }));
    assert_eq!(value(&b, r#"task_duration_seconds{handler="Charge",status="ok"}"#).unwrap().as_f64(), 2.0);
    assert_eq!(value(&b, "step_failed_total").unwrap().as_f64(), 1.0);
    assert!(value(&b, "step_duration_seconds").is_none(), "no duration, no observation");
    assert_eq!(value(&b, "task_started_total").unwrap().as_f64(), 1.0);
    assert_eq!(value(&b, "task_cancelled_total").unwrap().as_f64(), 1.0);
    assert_eq!(value(&b, r#"tasker_events_total{event="task.completed"}"#).unwrap().as_f64(), 2.0);
    assert_eq!(value(&b, r#"tasker_events_total{event="task.retry_requested"}"#).unwrap().as_f64(), 1.0);
}

#[test]
fn workflow_and_health_gauges() {
    let b = backend();
    b.handle_event(
        "workflow.iteration.done",
        &Payload { active_task_count: num(7.0), iteration_duration: num(0.25), ..Payload::default() },
    )
    .unwrap();
    b.handle_event("system.health.check", &Payload { healthy_task_count: num(10.0), failed_task_count: num(2.0), ..Payload::default() })
        .unwrap();
    assert_eq!(value(&b, "workflow_active_tasks"), Some(Sample::Gauge(7.0)));
    assert_eq!(value(&b, "workflow_iteration_duration_seconds").unwrap().as_f64(), 1.0);
    assert_eq!(value(&b, "system_healthy_tasks"), Some(Sample::Gauge(10.0)));
    assert_eq!(value(&b, "system_failed_tasks"), Some(Sample::Gauge(2.0)));
}

#[test]
fn failures_are_errors_and_type_conflicts_are_named() {
    let b = backend();
    let bad = Payload { duration: Some(Amount::NotNumeric("String".into())), ..Payload::default() };
    assert_eq!(b.handle_event("task.completed", &bad).unwrap_err().to_string(), "Observed value must be numeric, got: String");
    b.registry().register(FamilyDesc::new("step_completed_total", "x", MetricKind::Gauge, &[] as &[&str], None).unwrap()).unwrap();
    let err = b.handle_event("step.completed", &Payload::default()).unwrap_err();
    assert_eq!(err.to_string(), "metric \"step_completed_total\" is already registered as a gauge, cannot use it as a counter");
}

#[test]
fn a_refused_event_changes_nothing() {
    let b = backend();
    let bad = Payload { labels: [None, None, Some(b"ok")], duration: num(f64::NAN), ..Payload::default() };
    assert!(b.handle_event("task.completed", &bad).is_err());
    assert!(b.all_series().is_empty(), "{:?}", b.all_series().iter().map(|s| s.0.clone()).collect::<Vec<_>>());
}

#[test]
fn plans_follow_registry_changes() {
    let b = backend();
    b.handle_event("task.completed", &Payload::default()).unwrap();
    assert_eq!(b.clear(), 2);
    b.handle_event("task.completed", &Payload::default()).unwrap();
    assert_eq!(value(&b, "task_completed_total").unwrap().as_f64(), 1.0);
}

#[test]
fn record_samples_once() {
    let b = backend();
    let router = EventRouter::with_defaults();
    let spec = MappingSpec { backends: vec!["metrics".into()], sampling_rate: 0.1, ..MappingSpec::new("sampled.completed") };
    router.map(EventMapping::new(spec).unwrap()).unwrap();
    let recorded = (0..100_000).filter(|_| b.record(&router, "sampled.completed", &Payload::default()).unwrap()).count();
    assert!((recorded as i64 - 10_000).abs() < 600, "{recorded}");
    assert_eq!(value(&b, "sampled_completed_total").unwrap().as_f64(), recorded as f64, "once, not squared");
    assert!(!b.record(&router, "unmapped.completed", &Payload::default()).unwrap());
    assert!(!b.record(&router, "observability.task.finalize", &Payload::default()).unwrap(), "trace only");
}

#[test]
fn record_derives_under_the_mapped_name_of_a_dotted_event() {
    let b = backend();
    let router = EventRouter::with_defaults();
    for _ in 0..2 {
        assert!(b.record(&router, "task.start.requested", &Payload::default()).unwrap());
    }
    assert!(b.record(&router, "workflow.task.completed", &Payload::default()).unwrap());
    assert_eq!(value(&b, r#"tasker_events_total{event="task.start_requested"}"#).unwrap().as_f64(), 2.0);
    assert_eq!(value(&b, r#"tasker_events_total{event="workflow.task_completed"}"#).unwrap().as_f64(), 1.0);
    assert!(value(&b, "workflow_completed_total").is_none(), "derived from the mapped name, not the dotted one");
    // The same thread then deriving the dotted name itself (no router) derives that name.
    b.handle_event("task.start.requested", &Payload::default()).unwrap();
    assert_eq!(value(&b, r#"tasker_events_total{event="task.start.requested"}"#).unwrap().as_f64(), 1.0);
    // And a re-mapping that makes the dotted name exact is seen at once.
    router
        .map(EventMapping::new(MappingSpec { backends: vec!["metrics".into()], ..MappingSpec::new("task.start.requested") }).unwrap())
        .unwrap();
    assert!(b.record(&router, "task.start.requested", &Payload::default()).unwrap());
    assert_eq!(value(&b, r#"tasker_events_total{event="task.start.requested"}"#).unwrap().as_f64(), 2.0);
}

#[test]
fn families_registered_ahead_get_their_labels_by_name_or_refuse_changing_nothing() {
    let b = backend();
    let reg = b.registry();
    let buckets = crate::core::metric::Buckets::new(&[0.5, 5.0]).unwrap();
    reg.register(FamilyDesc::new("step_duration_seconds", "s", MetricKind::Histogram, &["status", "handler"], Some(buckets)).unwrap())
        .unwrap();
    reg.register(FamilyDesc::new("step_completed_total", "c", MetricKind::Counter, &["handler", "status"], None).unwrap()).unwrap();
    // The namespace has no place in the declared labels: left out, as the app chose.
    let p = Payload { labels: [Some(b"Ship"), Some(b"orders"), Some(b"complete")], duration: num(1.0), ..Payload::default() };
    b.handle_event("step.completed", &p).unwrap();
    b.handle_event("step.completed", &Payload { labels: [Some(b"Ship"), None, Some(b"complete")], ..p.clone() }).unwrap();
    assert_eq!(value(&b, r#"step_completed_total{handler="Ship",status="complete"}"#).unwrap().as_f64(), 2.0);
    assert_eq!(value(&b, r#"step_duration_seconds{handler="Ship",status="complete"}"#).unwrap().as_f64(), 2.0);
    assert!(b.all_series().iter().all(|(k, _, _)| !k.contains("status=\"status\"") && !k.contains("handler=\"complete\"")));
    b.handle_event("step.completed", &Payload { labels: [None, None, Some(b"retry")], ..Payload::default() }).unwrap();
    assert!(value(&b, r#"step_completed_total{handler="",status="retry"}"#).is_some(), "an absent label is empty");
    reg.register(FamilyDesc::new("task_completed_total", "t", MetricKind::Counter, &["region"], None).unwrap()).unwrap();
    let before = b.all_series().len();
    let err = b.handle_event("task.completed", &Payload::default()).unwrap_err();
    assert!(err.to_string().contains("carry only [:handler, :namespace, :status]"), "{err}");
    assert_eq!(b.all_series().len(), before, "the refused event counted nothing, tasker_events_total included");
}

#[test]
fn derived_histograms_take_the_configured_buckets() {
    let b = backend();
    let mut buckets = HashMap::new();
    buckets.insert("step_duration_seconds".to_owned(), Buckets::new(&[0.5, 5.0]).unwrap());
    b.set_derived_buckets(buckets).unwrap();
    b.handle_event("step.completed", &Payload { duration: num(1.0), ..Payload::default() }).unwrap();
    b.handle_event("task.completed", &Payload { duration: num(1.0), ..Payload::default() }).unwrap();
    let bounds = |name: &str| b.registry().get(name).unwrap().desc().buckets.clone().unwrap().bounds().to_vec();
    assert_eq!(bounds("step_duration_seconds"), [0.5, 5.0]);
    assert_eq!(bounds("task_duration_seconds"), crate::core::metric::histogram::DEFAULT_BUCKETS.to_vec());
    let one = |name: &str, v: &[f64]| HashMap::from([(name.to_owned(), Buckets::new(v).unwrap())]);
    assert_eq!(
        b.set_derived_buckets(one("step_duration_seconds", &[1.0])).unwrap_err().to_string(),
        "derived_buckets for \"step_duration_seconds\" come too late: it already exists with buckets [0.5, 5.0]"
    );
    assert!(b.set_derived_buckets(one("queue_size", &[1.0])).unwrap_err().to_string().contains("<entity>_duration_seconds"));
    assert!(b.set_derived_buckets(one("step_duration_seconds", &[0.5, 5.0])).is_ok(), "the same buckets again are fine");
}

#[test]
fn derivation_lists_what_handle_event_does() {
    let b = backend();
    let p = Payload { labels: [Some(b"Ship"), None, Some(b"ok")], duration: num(0.5), active_task_count: num(3.0), ..Payload::default() };
    let listed = b.derivation("task.completed", &p).unwrap();
    let labels = vec![("handler", "Ship".to_owned()), ("status", "ok".to_owned())];
    let derived = |kind, name: &str, labels, update| Derived { kind, name: name.to_owned(), labels, update };
    assert_eq!(
        listed,
        vec![
            derived(MetricKind::Counter, "task_completed_total", labels.clone(), DerivedUpdate::Increment),
            derived(MetricKind::Histogram, "task_duration_seconds", labels, DerivedUpdate::Observe(0.5)),
            derived(MetricKind::Counter, EVENTS_TOTAL, vec![("event", "task.completed".to_owned())], DerivedUpdate::Increment),
        ]
    );
    let w = b.derivation("workflow.iteration", &Payload { active_task_count: num(3.0), ..Payload::default() }).unwrap();
    assert_eq!(
        w[0],
        Derived { kind: MetricKind::Gauge, name: "workflow_active_tasks".into(), labels: vec![], update: DerivedUpdate::Set(3.0) }
    );
    let bad = Payload { duration: Some(Amount::NotNumeric("String".into())), ..Payload::default() };
    assert_eq!(b.derivation("task.failed", &bad).unwrap_err().to_string(), "Observed value must be numeric, got: String");
    assert!(b.all_series().is_empty(), "listing updates nothing");
}

/// A thread remembers its last event's route, series and labels; each must give way when
/// what it stands for changes.
#[test]
fn remembered_routes_and_series_follow_changes() {
    let b = backend();
    let router = EventRouter::with_defaults();
    let spec = |enabled| MappingSpec { backends: vec!["metrics".into()], enabled, ..MappingSpec::new("job.completed") };
    router.map(EventMapping::new(spec(true)).unwrap()).unwrap();
    let labelled = |status: &'static str| Payload { labels: [None, None, Some(status.as_bytes())], ..Payload::default() };
    assert!(b.record(&router, "job.completed", &labelled("ok")).unwrap());
    assert!(b.record(&router, "job.completed", &labelled("ok")).unwrap());
    assert!(b.record(&router, "job.completed", &labelled("error")).unwrap());
    router.map(EventMapping::new(spec(false)).unwrap()).unwrap();
    assert!(!b.record(&router, "job.completed", &labelled("error")).unwrap(), "a disabled mapping is seen at once");
    router.map(EventMapping::new(spec(true)).unwrap()).unwrap();
    assert!(b.record(&router, "job.completed", &labelled("error")).unwrap());
    assert_eq!(value(&b, "job_completed_total{status=\"ok\"}").unwrap().as_f64(), 2.0);
    assert_eq!(value(&b, "job_completed_total{status=\"error\"}").unwrap().as_f64(), 2.0);
    // Another router (a new version) and another event name each start afresh.
    let other = EventRouter::with_defaults();
    assert!(!b.record(&other, "job.completed", &labelled("error")).unwrap(), "not mapped there");
    assert!(b.record(&router, "job.completed", &labelled("error")).unwrap());
    assert!(b.record(&router, "task.completed", &labelled("error")).unwrap());
    assert_eq!(value(&b, "job_completed_total{status=\"error\"}").unwrap().as_f64(), 3.0);
    assert_eq!(value(&b, "task_completed_total{status=\"error\"}").unwrap().as_f64(), 1.0);
}

#[test]
fn native_histograms_give_every_derived_histogram_native_buckets() {
    let b = backend();
    let mut buckets = HashMap::new();
    buckets.insert("step_duration_seconds".to_owned(), Buckets::new(&[0.5, 5.0]).unwrap());
    b.set_derived_buckets(buckets).unwrap();
    let native = crate::core::metric::native::NativeConfig::default();
    b.set_derived_native(Some(native.clone())).unwrap();
    b.handle_event("step.completed", &Payload { duration: num(1.0), ..Payload::default() }).unwrap();
    b.handle_event("task.completed", &Payload { duration: num(1.0), ..Payload::default() }).unwrap();
    let buckets = |name: &str| b.registry().get(name).unwrap().desc().buckets.clone().unwrap();
    assert_eq!(buckets("step_duration_seconds").bounds(), [0.5, 5.0], "classic buckets kept beside the native ones");
    assert_eq!(buckets("step_duration_seconds").native(), Some(&native));
    assert_eq!(buckets("task_duration_seconds").native(), Some(&native));
    assert_eq!(buckets("task_duration_seconds").bounds(), crate::core::metric::histogram::DEFAULT_BUCKETS);
    assert_eq!(
        b.set_derived_native(None).unwrap_err().to_string(),
        "native_histograms come too late: \"step_duration_seconds\" already exists with other native settings"
    );
    assert!(b.set_derived_native(Some(native)).is_ok(), "the same settings again are fine");
}
