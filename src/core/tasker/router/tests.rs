//! Routing, mapping and the contract's messages.

use super::*;

fn spec(name: &str, backends: &[&str]) -> MappingSpec {
    MappingSpec { backends: backends.iter().map(|b| (*b).to_owned()).collect(), ..MappingSpec::new(name) }
}

#[test]
fn validation_messages() {
    let err = |s: MappingSpec| EventMapping::new(s).unwrap_err().to_string();
    assert_eq!(err(spec("", &["trace"])), "event_name must be a non-empty String or Symbol, got: \"\"");
    assert_eq!(err(spec("x", &[])), "backends must be a non-empty Array of :trace, :metrics, :logs, got: []");
    assert_eq!(err(spec("x", &["email"])), "Invalid backend: :email. Valid backends: :trace, :metrics, :logs");
    assert_eq!(
        err(MappingSpec { sampling_rate: 1.5, ..spec("x", &["trace"]) }),
        "sampling_rate must be a Numeric between 0.0 and 1.0, got: 1.5"
    );
    assert_eq!(
        err(MappingSpec { priority: "urgent".into(), ..spec("x", &["trace"]) }),
        "priority must be one of :low, :normal, :high, :critical, got: :urgent"
    );
    assert_eq!(err(MappingSpec { metadata: Meta::Nil, ..spec("x", &["trace"]) }), "metadata must be a Hash, got: a non-Hash");
}

#[test]
fn description_and_predicates() {
    let m = EventMapping::new(MappingSpec { sampling_rate: 0.75, ..spec("task.completed", &["trace", "metrics", "trace"]) }).unwrap();
    assert_eq!(m.description(), "task.completed \u{2192} trace, metrics (75.0% sampled)");
    assert_eq!(m.backends(), &[Backend::Trace, Backend::Metrics]);
    assert!(m.routes_to(Backend::Metrics) && !m.routes_to(Backend::Logs));
    let off = EventMapping::new(MappingSpec { sampling_rate: 0.0, ..spec("x", &["metrics"]) }).unwrap();
    assert!(!off.is_routable_to(Backend::Metrics));
    assert!(!off.should_sample());
}

#[test]
fn defaults_and_stats() {
    let r = EventRouter::with_defaults();
    assert_eq!(r.stats().total_mappings, DEFAULT_MAPPINGS.len());
    assert!(DEFAULT_MAPPINGS.len() - 8 >= 25);
    let m = r.mapping_for("database.query_executed").unwrap();
    assert_eq!(m.sampling_rate(), 0.1);
    assert!(r.routes_to("database.query_executed", Backend::Metrics), "deterministic despite sampling");
    assert!(!r.routes_to("nope", Backend::Trace));
    assert_eq!(r.stats().high_priority, DEFAULT_MAPPINGS.iter().filter(|d| matches!(d.3, Priority::High | Priority::Critical)).count());
}

#[test]
fn remapping_keeps_position_and_updates_backend_lists() {
    let r = EventRouter::with_defaults();
    assert!(r.events_for(Backend::Metrics).contains(&"task.completed".to_owned()));
    r.map(EventMapping::new(spec("task.completed", &["logs"])).unwrap()).unwrap();
    assert!(!r.events_for(Backend::Metrics).contains(&"task.completed".to_owned()));
    assert_eq!(r.snapshot().mappings()[2].event_name(), "task.completed");
    r.reset();
    assert!(r.routes_to("task.completed", Backend::Metrics));
}

#[test]
fn one_draw_per_decision() {
    let r = EventRouter::with_defaults();
    r.map(EventMapping::new(MappingSpec { sampling_rate: 0.1, ..spec("x", &["metrics"]) }).unwrap()).unwrap();
    let n = 100_000;
    let routed = (0..n).filter(|_| r.decide("x").is_some()).count();
    assert!((routed as i64 - 10_000).abs() < 600, "{routed}");
    assert_eq!(r.decide("unmapped"), None);
}

#[test]
fn readers_never_see_a_missing_mapping_while_writers_remap() {
    let r = EventRouter::with_defaults();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..20_000 {
                    assert!(r.mapping_for("task.completed").is_some());
                }
            });
        }
        s.spawn(|| {
            for i in 0..2_000 {
                r.map(EventMapping::new(spec("task.completed", if i % 2 == 0 { &["logs"] } else { &["metrics"] })).unwrap()).unwrap();
                r.map(EventMapping::new(spec(&format!("custom.{i}"), &["trace"])).unwrap()).unwrap();
            }
        });
    });
    assert_eq!(r.stats().total_mappings, DEFAULT_MAPPINGS.len() + 2_000);
}

#[test]
fn names_as_taskers_subscriber_passes_them_find_their_mapping() {
    let r = EventRouter::with_defaults();
    let m = r.mapping_for("task.start.requested").expect("dots for underscores");
    assert_eq!(m.event_name(), "task.start_requested");
    assert!(r.routes_to("workflow.task.reenqueue.failed", Backend::Metrics));
    let (_, mapped) = r.resolve("step.retry.requested").unwrap();
    assert_eq!(mapped.as_deref(), Some("step.retry_requested"));
    assert_eq!(r.resolve("task.completed").unwrap().1, None, "an exact hit names no other mapping");
    // Only that direction: an underscore asked for never finds a mapping with a dot.
    r.map(EventMapping::new(spec("test.event", &["trace"])).unwrap()).unwrap();
    assert!(r.mapping_for("test_event").is_none());
    // An exact mapping wins over the reading.
    r.map(EventMapping::new(spec("task.start.requested", &["logs"])).unwrap()).unwrap();
    assert_eq!(r.mapping_for("task.start.requested").unwrap().backends(), &[Backend::Logs]);
    assert_eq!(r.mapping_for("task.start_requested").unwrap().backends(), &[Backend::Trace, Backend::Metrics]);
}

#[test]
fn mappings_that_would_answer_the_same_dotted_name_are_refused() {
    let r = EventRouter::with_defaults();
    r.map(EventMapping::new(spec("order.paid_late", &["metrics"])).unwrap()).unwrap();
    let err = r.map(EventMapping::new(spec("order_paid.late", &["metrics"])).unwrap()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "event_name \"order_paid.late\" is ambiguous with the mapped \"order.paid_late\": Tasker's subscriber passes both on as \"order.paid.late\""
    );
    assert!(r.mapping_for("order_paid.late").is_none(), "refused, nothing changed");
    let all = vec![EventMapping::new(spec("a.b_c", &["trace"])).unwrap(), EventMapping::new(spec("a_b.c", &["trace"])).unwrap()];
    assert!(r.map_all(all).is_err());
    assert!(r.mapping_for("a.b_c").is_none(), "a refused bulk change registers none");
    r.map(EventMapping::new(spec("order.paid_late", &["logs"])).unwrap()).expect("re-mapping the same name is no conflict");
}
