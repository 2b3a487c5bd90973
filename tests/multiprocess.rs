//! Multi-process storage across real processes: the tests fork, children write through their
//! own files, and the parent scrapes the merge. Forking tests run one at a time (a fork copies
//! only the calling thread, so no other test may hold a lock at that moment).

use std::path::Path;
use std::sync::{Arc, Mutex};
use tasker_metrics::core::exposition::parse::{parse, Syntax};
use tasker_metrics::core::exposition::prometheus;
use tasker_metrics::core::labels::encode_key;
use tasker_metrics::core::metric::{Buckets, MetricKind};
use tasker_metrics::core::multiprocess::{self, ARCHIVE};
use tasker_metrics::core::registry::{Family, FamilyDesc, Number, Registry, Update};

static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `f` in a child process; returns its pid. The child exits 0 if `f` returns, 1 if it panics.
fn fork(f: impl FnOnce()) -> libc::pid_t {
    // SAFETY: the child only runs `f` and exits without returning into the test harness.
    match unsafe { libc::fork() } {
        -1 => panic!("fork failed"),
        0 => {
            let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_ok();
            // SAFETY: leaves the child at once, skipping the harness's atexit work.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) }
        }
        pid => pid,
    }
}

fn wait(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    // SAFETY: waiting for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    status
}

fn setup(dir: &Path) -> (Arc<Registry>, Arc<Family>, Arc<Family>) {
    let reg = Arc::new(Registry::default());
    let jobs = reg.register(FamilyDesc::new("jobs_total", "Jobs", MetricKind::Counter, &["queue"], None).unwrap()).unwrap();
    let lat = reg
        .register(FamilyDesc::new::<&str>("latency_seconds", "L", MetricKind::Histogram, &[], Some(Buckets::new(&[0.5]).unwrap())).unwrap())
        .unwrap();
    multiprocess::enable(&reg, dir).unwrap();
    (reg, jobs, lat)
}

fn scrape(reg: &Registry) -> (String, Vec<multiprocess::Problem>) {
    let s = multiprocess::file_store(reg).unwrap().scrape(reg);
    (prometheus::render(&s.families), s.problems)
}

fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    parse(text, Syntax::Prometheus)
        .unwrap()
        .into_iter()
        .find(|s| s.name == name && s.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>() == labels)
        .map_or(0.0, |s| s.value)
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[test]
fn writers_in_several_processes_sum_exactly() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let (reg, jobs, lat) = setup(dir.path());
    let held = jobs.series(&encode_key(&["default"])).unwrap();
    held.increment(Number::Int(5)).unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| {
            let (held, lat) = (Arc::clone(&held), Arc::clone(&lat));
            fork(move || {
                assert!(multiprocess::after_fork().is_empty());
                std::thread::scope(|s| {
                    for _ in 0..2 {
                        s.spawn(|| {
                            for i in 0..25_000 {
                                held.increment(Number::Int(1)).unwrap();
                                if i % 25 == 0 {
                                    let _ = lat.update(b"", Update::Observe(1.0)).unwrap();
                                }
                            }
                        });
                    }
                });
            })
        })
        .collect();
    for pid in children {
        assert_eq!(wait(pid), 0);
    }
    let (text, problems) = scrape(&reg);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(value(&text, "jobs_total", &[("queue", "default")]), 5.0 + 4.0 * 50_000.0, "parent's 5 counted once");
    assert_eq!(value(&text, "latency_seconds_count", &[]), 4.0 * 2.0 * 1_000.0);
    assert_eq!(value(&text, "latency_seconds_bucket", &[("le", "0.5")]), 0.0);
    let names = files(dir.path());
    assert_eq!(names.iter().filter(|n| n.starts_with("proc-")).count(), 1, "children's files compacted: {names:?}");
    assert!(names.contains(&ARCHIVE.to_owned()));
    assert_eq!(value(&scrape(&reg).0, "jobs_total", &[("queue", "default")]), 200_005.0, "and not counted twice");
}

#[test]
fn counters_never_go_backwards_while_writers_run_and_die() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let (reg, jobs, _) = setup(dir.path());
    let children: Vec<_> = (0..3)
        .map(|i| {
            let jobs = Arc::clone(&jobs);
            fork(move || {
                assert!(multiprocess::after_fork().is_empty());
                let key = encode_key(&[format!("q{}", i % 2)]);
                let n = if i == 0 { u64::MAX } else { 200_000 };
                for _ in 0..n {
                    let _ = jobs.update(&key, Update::Increment(Number::Int(1))).unwrap();
                }
            })
        })
        .collect();
    let mut last = 0.0;
    for round in 0..40 {
        if round == 20 {
            // SAFETY: killing our own child mid-update.
            unsafe { libc::kill(children[0], libc::SIGKILL) };
        }
        let (text, problems) = scrape(&reg);
        assert!(problems.is_empty(), "{problems:?}");
        let total = value(&text, "jobs_total", &[("queue", "q0")]) + value(&text, "jobs_total", &[("queue", "q1")]);
        assert!(total >= last, "round {round}: {total} < {last}");
        last = total;
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    for pid in &children[1..] {
        assert_eq!(wait(*pid), 0);
    }
    wait(children[0]);
    let (text, _) = scrape(&reg);
    let q1 = value(&text, "jobs_total", &[("queue", "q1")]);
    assert_eq!(q1, 200_000.0, "the finished writer's total is exact");
    let q0 = value(&text, "jobs_total", &[("queue", "q0")]);
    assert!(q0 >= 200_000.0 && q0 >= last - q1, "the killed writer's updates stay counted: {q0}");
    assert_eq!(files(dir.path()).iter().filter(|n| n.starts_with("proc-")).count(), 1);
}

#[test]
fn two_hundred_short_lived_processes_leave_one_archive() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let (reg, jobs, _) = setup(dir.path());
    let gauge = reg
        .register(
            FamilyDesc::new::<&str>("last_seen", "g", MetricKind::Gauge, &[], None)
                .unwrap()
                .with_aggregation(tasker_metrics::core::registry::GaugeMode::Max)
                .unwrap(),
        )
        .unwrap();
    for batch in 0..10 {
        let pids: Vec<_> = (0..20)
            .map(|i| {
                let (jobs, gauge) = (Arc::clone(&jobs), Arc::clone(&gauge));
                fork(move || {
                    assert!(multiprocess::after_fork().is_empty());
                    let _ = jobs.update(&encode_key(&["churn"]), Update::Increment(Number::Int(1))).unwrap();
                    let _ = gauge.update(b"", Update::Set(f64::from(batch * 20 + i))).unwrap();
                })
            })
            .collect();
        pids.into_iter().for_each(|p| assert_eq!(wait(p), 0));
        let (text, _) = scrape(&reg);
        assert_eq!(value(&text, "jobs_total", &[("queue", "churn")]), f64::from((batch + 1) * 20));
        // The lock, the compaction reserve, the archive and this process's file.
        assert!(files(dir.path()).len() <= 4, "{:?}", files(dir.path()));
    }
    let (text, _) = scrape(&reg);
    assert_eq!(value(&text, "jobs_total", &[("queue", "churn")]), 200.0);
    assert_eq!(value(&text, "last_seen", &[]), 199.0, "max over exited processes, from the archive");
    let left = files(dir.path());
    assert_eq!(left[..3], [".compact.lock".to_owned(), ".compact.reserve".to_owned(), ARCHIVE.to_owned()]);
    assert!(left.len() == 4 && left[3].starts_with("proc-"), "{left:?}");
}
