//! Golden exposition through the public core API. `tests/fixtures/*.prom` are also checked by
//! `promtool check metrics` from the RSpec suite, so the expected text is itself validated.

use tasker_metrics::core::exposition::{prometheus, snapshot};
use tasker_metrics::core::labels::encode_key;
use tasker_metrics::core::metric::{Buckets, MetricKind};
use tasker_metrics::core::registry::{FamilyDesc, Number, Outcome, Registry, Update};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// A registry shaped like a Tasker app's: task and step counters, a queue gauge, step durations.
pub fn tasker_like() -> Registry {
    let reg = Registry::default();
    let tasks = reg
        .register(FamilyDesc::new("task_completed_total", "Tasks completed", MetricKind::Counter, &["namespace", "status"], None).unwrap())
        .unwrap();
    assert_eq!(tasks.update(&encode_key(&["payments", "complete"]), Update::Increment(Number::Int(42))).unwrap(), Outcome::Applied);
    assert_eq!(tasks.update(&encode_key(&["inventory", "complete"]), Update::Increment(Number::Int(7))).unwrap(), Outcome::Applied);
    let failed = reg
        .register(FamilyDesc::new("step_failed", "Steps failed\nby handler \\ class", MetricKind::Counter, &["handler"], None).unwrap())
        .unwrap();
    assert_eq!(failed.update(&encode_key(&["Charge\"Card\""]), Update::Increment(Number::Float(1.5))).unwrap(), Outcome::Applied);
    let depth = reg.register(FamilyDesc::new("queue_depth", "Queued jobs", MetricKind::Gauge, &["queue"], None).unwrap()).unwrap();
    assert_eq!(depth.update(&encode_key(&["default"]), Update::Set(12.0)).unwrap(), Outcome::Applied);
    assert_eq!(depth.update(&encode_key(&["crit\nical"]), Update::Set(-0.25)).unwrap(), Outcome::Applied);
    let steps = reg
        .register(
            FamilyDesc::new(
                "step_duration_seconds",
                "Step time",
                MetricKind::Histogram,
                &["handler"],
                Some(Buckets::new(&[0.01, 0.1, 1.0]).unwrap()),
            )
            .unwrap(),
        )
        .unwrap();
    for v in [0.005, 0.01, 0.05, 0.5, 2.0] {
        assert_eq!(steps.update(&encode_key(&["ünïcode"]), Update::Observe(v)).unwrap(), Outcome::Applied);
    }
    reg.register(FamilyDesc::new("boots_total", "Boots", MetricKind::Counter, &[] as &[&str], None).unwrap()).unwrap();
    reg
}

#[test]
fn prometheus_text_matches_the_golden_file() {
    assert_eq!(prometheus::render(&snapshot(&tasker_like())), fixture("tasker_like.prom"));
}

#[test]
fn exact_totals_from_eight_threads() {
    let reg = std::sync::Arc::new(Registry::default());
    let fam = reg.register(FamilyDesc::new("hits_total", "h", MetricKind::Counter, &["k"], None).unwrap()).unwrap();
    let held = fam.series(&encode_key(&["held"])).unwrap();
    std::thread::scope(|s| {
        for t in 0..8 {
            let (fam, held) = (&fam, &held);
            s.spawn(move || {
                for i in 0..100_000u32 {
                    held.increment(Number::Int(1)).unwrap();
                    if i % 10 == 0 {
                        assert_eq!(
                            fam.update(&encode_key(&[format!("t{}", (t + i) % 3)]), Update::Increment(Number::Int(1))).unwrap(),
                            Outcome::Applied
                        );
                    }
                }
            });
        }
    });
    assert_eq!(held.read().as_f64(), 800_000.0);
    let others: f64 = fam.all_series().iter().filter(|s| s.label_values() != ["held"]).map(|s| s.read().as_f64()).sum();
    assert_eq!(others, 80_000.0);
}
