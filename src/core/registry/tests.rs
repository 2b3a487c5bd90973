//! Registry, family and series behaviour.

use super::*;
use crate::core::labels::encode_key;
use crate::core::labels::{self, KEY_SEPARATOR};
use crate::core::metric::{Buckets, MetricKind, Sample};

fn counter(reg: &Registry, name: &str, labels: &[&str]) -> Result<Arc<Family>> {
    reg.register(FamilyDesc::new(name, "help", MetricKind::Counter, labels, None)?)
}

#[test]
fn get_or_create_series() {
    let reg = Registry::default();
    let fam = counter(&reg, "jobs_total", &["queue", "status"]).unwrap();
    let key = encode_key(&["default", "ok"]);
    fam.with_series(&key, |s| s.increment(Number::Int(2))).unwrap();
    fam.with_series(&key, |s| s.increment(Number::Int(3))).unwrap();
    assert_eq!(fam.find(&key).unwrap().read(), Sample::Counter { int: 5, float: None });
    assert_eq!(fam.len(), 1);
    assert_eq!(fam.find(&key).unwrap().label_values(), vec!["default", "ok"]);
    assert_eq!(&**fam.find(&key).unwrap().rendered_labels(), r#"queue="default",status="ok""#);
}

#[test]
fn a_full_family_drops_new_label_sets_and_counts_them() {
    let reg = Registry::default();
    let desc = FamilyDesc::new("capped_total", "c", MetricKind::Counter, &["k"], None).unwrap().with_max_series(3).unwrap();
    let fam = reg.register(desc).unwrap();
    for i in 0..3 {
        assert_eq!(fam.update(&encode_key(&[format!("v{i}")]), Update::Increment(Number::Int(1))).unwrap(), Outcome::Applied);
    }
    assert_eq!(fam.update(&encode_key(&["new"]), Update::Increment(Number::Int(1))).unwrap(), Outcome::Dropped { first: true });
    assert_eq!(fam.update(&encode_key(&["newer"]), Update::Increment(Number::Int(1))).unwrap(), Outcome::Dropped { first: false });
    assert_eq!(
        fam.update(&encode_key(&["v0"]), Update::Increment(Number::Int(1))).unwrap(),
        Outcome::Applied,
        "existing series still count"
    );
    assert!(matches!(fam.series(&encode_key(&["x"])), Err(Error::Cardinality { limit: 3, .. })));
    assert_eq!((fam.len(), fam.dropped()), (3, 2));
    assert!(fam.remove(&encode_key(&["v1"])));
    assert_eq!(fam.update(&encode_key(&["new"]), Update::Increment(Number::Int(1))).unwrap(), Outcome::Applied, "room again");
    assert!(FamilyDesc::new("z", "", MetricKind::Gauge, &[] as &[&str], None).unwrap().with_max_series(0).is_err());
}

#[test]
fn the_limit_holds_under_racing_creators() {
    let reg = Registry::default();
    let fam =
        reg.register(FamilyDesc::new("race_total", "r", MetricKind::Counter, &["k"], None).unwrap().with_max_series(100).unwrap()).unwrap();
    std::thread::scope(|s| {
        for t in 0..8 {
            let fam = &fam;
            s.spawn(move || {
                for i in 0..1_000 {
                    let _ = fam.update(&encode_key(&[format!("{t}-{i}")]), Update::Increment(Number::Int(1))).unwrap();
                }
            });
        }
    });
    assert_eq!(fam.len(), 100);
    assert_eq!(fam.dropped(), 8_000 - 100);
}

#[test]
fn series_expire_after_a_quiet_period() {
    let reg = Registry::default();
    let desc = FamilyDesc::new("seen", "s", MetricKind::Gauge, &["k"], None).unwrap().with_expires_after(0.05).unwrap();
    let fam = reg.register(desc).unwrap();
    assert_eq!(fam.update(&encode_key(&["old"]), Update::Set(1.0)).unwrap(), Outcome::Applied);
    let held = fam.series(&encode_key(&["held"])).unwrap();
    advance_clock(80);
    held.set(2.0).unwrap();
    assert_eq!(fam.expire_stale(), 1);
    assert!(fam.find(&encode_key(&["old"])).is_none());
    assert!(fam.find(&encode_key(&["held"])).is_some(), "an update through a handle keeps it alive");
    assert!(FamilyDesc::new("z", "", MetricKind::Gauge, &[] as &[&str], None).unwrap().with_expires_after(f64::NAN).is_err());
}

#[test]
fn an_expired_series_written_through_its_handle_comes_back_once() {
    let reg = Registry::default();
    let desc = FamilyDesc::new("jobs_total", "j", MetricKind::Counter, &["k"], None).unwrap().with_expires_after(0.001).unwrap();
    let fam = reg.register(desc).unwrap();
    let held = fam.series(&encode_key(&["held"])).unwrap();
    held.increment(Number::Int(2)).unwrap();
    let removed = fam.series(&encode_key(&["removed"])).unwrap();
    advance_clock(10);
    assert_eq!(fam.expire_stale(), 2);
    assert!(held.is_removed() && fam.all_series().is_empty());
    held.increment(Number::Int(3)).unwrap();
    assert!(!held.is_removed(), "the write brought it back");
    assert!(Arc::ptr_eq(&fam.find(&encode_key(&["held"])).unwrap(), &held));
    assert_eq!(fam.all_series().len(), 1, "listed once");
    assert_eq!(held.read().as_f64(), 5.0, "nothing written while it was out was lost");
    // Expired again, the order list compacted meanwhile, and back again: still listed once.
    advance_clock(10);
    assert_eq!(fam.expire_stale(), 1);
    fam.compact_order();
    held.increment(Number::Int(1)).unwrap();
    assert_eq!(fam.all_series().len(), 1);
    // remove and clear are final: a held handle keeps working, unexported.
    assert!(fam.remove(&encode_key(&["held"])));
    held.increment(Number::Int(1)).unwrap();
    assert!(held.is_removed() && fam.all_series().is_empty());
    // A key a new series took meanwhile stays the new one's.
    drop(removed);
    let again = fam.series(&encode_key(&["k2"])).unwrap();
    advance_clock(10);
    fam.expire_stale();
    let newer = fam.series(&encode_key(&["k2"])).unwrap();
    again.increment(Number::Int(1)).unwrap();
    assert!(Arc::ptr_eq(&fam.find(&encode_key(&["k2"])).unwrap(), &newer));
}

#[test]
fn refused_updates_create_nothing() {
    let reg = Registry::default();
    let fam = counter(&reg, "jobs_total", &["queue"]).unwrap();
    let key = encode_key(&["a"]);
    assert!(fam.update(&key, Update::Increment(Number::Int(-1))).is_err());
    assert!(fam.update(&key, Update::Increment(Number::Float(f64::NAN))).is_err());
    assert!(fam.update(&key, Update::Set(1.0)).is_err());
    assert!(fam.is_empty());
    assert_eq!(fam.update(&key, Update::Increment(Number::Int(2))).unwrap(), Outcome::Applied);
    assert_eq!(fam.read(&key).unwrap().as_f64(), 2.0);
}

#[test]
fn bad_label_sets_create_nothing() {
    let reg = Registry::default();
    let fam = counter(&reg, "jobs_total", &["queue"]).unwrap();
    assert!(fam.with_series(&encode_key(&["a", "b"]), |s| s.increment(Number::Int(1))).is_err());
    assert!(fam.with_series(b"", |s| s.increment(Number::Int(1))).is_err());
    assert!(fam.with_series(&[0xC3, KEY_SEPARATOR], |s| s.increment(Number::Int(1))).is_err());
    assert!(fam.is_empty());
}

#[test]
fn re_registration_rules() {
    let reg = Registry::default();
    let a = counter(&reg, "x_total", &["a"]).unwrap();
    let b = counter(&reg, "x_total", &["a"]).unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    let err = counter(&reg, "x_total", &["b"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "metric \"x_total\" is already registered as a counter with \"a\", cannot register it as a counter with \"b\""
    );
    let gauge = FamilyDesc::new("x_total", "h", MetricKind::Gauge, &["a"], None).unwrap();
    assert!(reg.register(gauge).is_err());
    // `x` as a counter would expose `x_total` too.
    assert!(counter(&reg, "x", &["a"]).is_err());
    assert!(reg.unregister("x_total"));
    assert!(counter(&reg, "x", &["a"]).is_ok());
    assert!(!reg.unregister("nope"));
}

#[test]
fn unlabelled_families_start_at_zero() {
    let reg = Registry::default();
    let fam = counter(&reg, "boot_total", &[]).unwrap();
    assert_eq!(fam.len(), 1);
    assert_eq!(fam.read(b"").unwrap(), Sample::Counter { int: 0, float: None });
}

#[test]
fn read_does_not_create() {
    let reg = Registry::default();
    let fam = counter(&reg, "x_total", &["a"]).unwrap();
    assert_eq!(fam.read(&encode_key(&["v"])).unwrap().as_f64(), 0.0);
    assert!(fam.read(b"").is_err());
    assert!(fam.is_empty());
}

#[test]
fn dynamic_families_take_any_label_set() {
    let reg = Registry::default();
    let fam = reg.register(FamilyDesc::dynamic("task_completed_total", "T", MetricKind::Counter, None).unwrap()).unwrap();
    assert!(fam.is_empty(), "no implicit unlabelled series");
    let mut a = labels::KeyBuf::new();
    labels::push_pairs(&mut a, &mut [(b"status", b"ok"), (b"handler", b"H")]).unwrap();
    assert_eq!(fam.update(a.as_bytes(), Update::Increment(Number::Int(1))).unwrap(), Outcome::Applied);
    assert_eq!(fam.update(b"", Update::Increment(Number::Int(2))).unwrap(), Outcome::Applied);
    let all = fam.all_series();
    assert_eq!(fam.label_pairs(&all[0]), vec![("handler", "H"), ("status", "ok")]);
    assert_eq!(&**all[0].rendered_labels(), r#"handler="H",status="ok""#);
    assert!(fam.update(&encode_key(&["1x", "v"]), Update::Increment(Number::Int(1))).is_err());
    let fixed = FamilyDesc::new("task_completed_total", "T", MetricKind::Counter, &["a"], None).unwrap();
    assert!(reg.register(fixed).is_err());
    let g = reg.generation();
    reg.unregister("task_completed_total");
    assert!(reg.generation() > g);
}

#[test]
fn detached_series_are_not_registered() {
    let (fam, s) = Family::detached(FamilyDesc::dynamic("any", "", MetricKind::Gauge, None).unwrap()).unwrap();
    s.set(2.0).unwrap();
    assert_eq!(fam.len(), 1);
}

#[test]
fn descriptions_validate() {
    assert!(FamilyDesc::new("1x", "", MetricKind::Gauge, &[] as &[&str], None).is_err());
    assert!(FamilyDesc::new("h", "", MetricKind::Histogram, &["le"], None).is_err());
    assert!(FamilyDesc::new("g", "", MetricKind::Gauge, &["le"], None).is_ok());
    let b = Buckets::new(&[1.0]).unwrap();
    assert!(FamilyDesc::new("g", "", MetricKind::Gauge, &[] as &[&str], Some(b)).is_err());
}

#[test]
fn kind_specific_operations() {
    let reg = Registry::default();
    let g = reg.register(FamilyDesc::new("g", "", MetricKind::Gauge, &[] as &[&str], None).unwrap()).unwrap();
    let s = g.series(b"").unwrap();
    s.increment(Number::Int(-3)).unwrap();
    assert_eq!(s.decrement(1.5).unwrap(), -4.5);
    assert!(s.observe(1.0).is_err());
    let c = counter(&reg, "c_total", &[]).unwrap().series(b"").unwrap();
    assert_eq!(c.increment(Number::Int(-1)).unwrap_err().to_string(), "invalid by: -1 (counters can only increase)");
    assert!(c.set(1.0).is_err());
    c.increment(Number::Float(0.5)).unwrap();
    assert_eq!(c.read().as_f64(), 0.5);
}

#[test]
fn exact_totals_from_many_threads_creating_and_updating() {
    let reg = Arc::new(Registry::default());
    let fam = counter(&reg, "hits_total", &["worker"]).unwrap();
    let ts: Vec<_> = (0..8)
        .map(|t| {
            let fam = Arc::clone(&fam);
            std::thread::spawn(move || {
                for i in 0..100_000 {
                    let key = encode_key(&[format!("w{}", (t + i) % 4)]);
                    fam.with_series(&key, |s| s.increment(Number::Int(1))).unwrap();
                }
            })
        })
        .collect();
    ts.into_iter().for_each(|t| t.join().unwrap());
    let total: f64 = fam.all_series().iter().map(|s| s.read().as_f64()).sum();
    assert_eq!(total, 800_000.0);
    assert_eq!(fam.len(), 4);
}

/// Series created and removed (or expired) without any in-process render, as in multi-process
/// mode where scrapes read files: the creation-order list kept every removed series, and so
/// its memory, forever (+70 MiB for 200,000 rounds).
#[test]
fn removed_and_expired_series_leave_the_order_list_without_a_render() {
    let reg = Registry::default();
    let fam = counter(&reg, "jobs_total", &["id"]).unwrap();
    for i in 0..10_000 {
        let key = encode_key(&[&i.to_string()]);
        fam.with_series(&key, |s| s.increment(Number::Int(1))).unwrap();
        assert!(fam.remove(&key));
    }
    assert!(fam.order.read().len() <= 130, "{} series still listed", fam.order.read().len());
    let expiring =
        reg.register(FamilyDesc::new("seen", "h", MetricKind::Gauge, &["id"], None).unwrap().with_expires_after(1.0).unwrap()).unwrap();
    for round in 0..100 {
        for i in 0..100 {
            expiring.with_series(&encode_key(&[&format!("{round}-{i}")]), |s| s.set(1.0)).unwrap();
        }
        advance_clock(2_000);
        assert_eq!(expiring.expire_stale(), 100);
    }
    assert!(expiring.order.read().len() <= 230, "{} series still listed", expiring.order.read().len());
}

/// A walk paused between steps keeps positions: series removed meanwhile stay listed (so no
/// series shifts under the walk and none is read twice or skipped), series created meanwhile
/// come after its end; the last walk to end drops the removed ones from the list.
#[test]
fn a_paused_walk_keeps_positions_and_the_last_one_tidies_the_list() {
    let reg = Registry::default();
    let fam = counter(&reg, "jobs_total", &["id"]).unwrap();
    let key = |i: usize| encode_key(&[&i.to_string()]);
    for i in 0..1_000 {
        fam.with_series(&key(i), |s| s.increment(Number::Int(i as i64))).unwrap();
    }
    let mut seen = Vec::new();
    let mut walk = fam.walk();
    assert!(walk.step(100, |s| seen.push(s.read())));
    for i in 0..900 {
        assert!(fam.remove(&key(i)));
    }
    fam.with_series(&key(5_000), |s| s.increment(Number::Int(1))).unwrap();
    assert_eq!(fam.order.read().len(), 1_001, "nothing dropped from the list while a walk is open");
    while walk.step(100, |s| seen.push(s.read())) {}
    let expected: Vec<Sample> = (0..100).chain(900..1_000).map(|i| Sample::Counter { int: i, float: None }).collect();
    assert_eq!(seen, expected);
    drop(walk);
    assert_eq!(fam.order.read().len(), 101, "the last walk to end dropped the removed series");
}

/// A render paused inside a family (its visitor blocked mid-walk) does not keep another thread
/// from creating a series there: before, the creator waited for the render's lock on the
/// creation-order list — holding Ruby's GVL, so every Ruby thread stopped for the whole render.
/// Removed series stay readable by the paused walk.
#[test]
fn a_creator_proceeds_while_a_render_is_paused_inside_the_family() {
    use std::sync::mpsc;
    let reg = Registry::default();
    let fam = counter(&reg, "jobs_total", &["id"]).unwrap();
    for i in 0..200 {
        fam.with_series(&encode_key(&[&i.to_string()]), |s| s.increment(Number::Int(1))).unwrap();
    }
    let (paused_tx, paused_rx) = mpsc::channel();
    let (resume_tx, resume_rx) = mpsc::channel::<()>();
    let (created_tx, created_rx) = mpsc::channel();
    let fam = &fam;
    std::thread::scope(|s| {
        let render = s.spawn(move || {
            let mut seen = 0;
            fam.visit_series(|series| {
                if seen == 0 {
                    paused_tx.send(()).unwrap();
                    resume_rx.recv().unwrap();
                }
                seen += 1;
                let _ = series.read(); // still readable, removed or not
            });
            seen
        });
        paused_rx.recv().unwrap();
        s.spawn(move || {
            fam.with_series(&encode_key(&["new"]), |s| s.increment(Number::Int(1))).unwrap();
            for i in 0..150 {
                assert!(fam.remove(&encode_key(&[&i.to_string()]))); // compacts the order list
            }
            created_tx.send(()).unwrap();
        });
        // Only a bound for a hang (a failing test must not hang the suite), not a speed check.
        let created = created_rx.recv_timeout(std::time::Duration::from_secs(30));
        resume_tx.send(()).unwrap();
        assert!(created.is_ok(), "the creator waited for the paused render");
        assert!(render.join().unwrap() >= 1);
    });
    assert!(fam.find(&encode_key(&["new"])).is_some());
    assert_eq!(fam.len(), 51);
}

/// The process-wide expiry clock refuses steps back and non-finite steps, moving nothing.
#[test]
fn the_process_clock_refuses_negative_and_non_finite_steps() {
    for (bad, why) in [(-1.0, "must not be negative, got -1"), (f64::NAN, "must be finite, got NaN"), (f64::INFINITY, "must be finite")] {
        let before = super::expiry::now_ms();
        let err = advance_process_clock(bad).unwrap_err();
        assert!(err.to_string().contains(why), "{err}");
        assert!(super::expiry::now_ms() < before + 1_000, "{bad} moved the clock");
    }
}
