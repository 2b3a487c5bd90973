//! Multi-process behaviour across stores in one test process (forks are tested in tests/ and RSpec).

use super::*;
use crate::core::desc::GaugeMode;
use crate::core::exposition::parse::{parse, Syntax};
use crate::core::exposition::prometheus;
use crate::core::labels::encode_key;
use crate::core::metric::Buckets;
use crate::core::metric::MetricKind;
use crate::core::registry::{FamilyDesc, Registry};
use crate::core::registry::{Number, Update};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn registry(dir: &Path) -> (Arc<Registry>, Arc<FileStore>) {
    std::fs::create_dir_all(dir).unwrap();
    let reg = Arc::new(Registry::default());
    let store = Arc::new(FileStore::create(dir, "").unwrap());
    reg.use_store(store.clone(), false).unwrap();
    (reg, store)
}

fn text(store: &FileStore, reg: &Registry) -> (String, Vec<Problem>) {
    let scrape = store.scrape(reg);
    (prometheus::render(&scrape.families), scrape.problems)
}

fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    parse(text, Syntax::Prometheus)
        .unwrap()
        .into_iter()
        .find(|s| s.name == name && s.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect::<Vec<_>>() == labels)
        .map(|s| s.value)
}

fn counter(reg: &Registry, name: &str, labels: &[&str]) -> Arc<crate::core::registry::Family> {
    reg.register(FamilyDesc::new(name, "help", MetricKind::Counter, labels, None).unwrap()).unwrap()
}

fn inc(fam: &crate::core::registry::Family, key: &[&str], n: i64) {
    let _ = fam.update(&encode_key(key), Update::Increment(Number::Int(n))).unwrap();
}

/// A copy of `src` that looks like the file of an exited process `pid`.
fn dead_copy(src: &Path, dir: &Path, pid: u32, nonce: u64) -> PathBuf {
    let mut bytes = std::fs::read(src).unwrap();
    bytes[format::H_PID..format::H_PID + 4].copy_from_slice(&pid.to_ne_bytes());
    bytes[format::H_NONCE..format::H_NONCE + 8].copy_from_slice(&nonce.to_ne_bytes());
    let path = dir.join(format!("proc-{pid}-{nonce:016x}.tmm"));
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Scrapes `store` in another thread, pausing it after it opened the process files and before
/// the archive (holding the directory lock); runs `meanwhile` during the pause.
fn paused_scrape<R>(dir: &Path, store: &FileStore, reg: &Registry, meanwhile: impl FnOnce() -> R) -> ((String, Vec<Problem>), R) {
    use std::sync::mpsc;
    let (paused_tx, paused_rx) = mpsc::channel();
    let (resume_tx, resume_rx) = mpsc::channel::<()>();
    let resume_rx = parking_lot::Mutex::new(resume_rx);
    scrape::pause::set(dir, move || {
        paused_tx.send(()).unwrap();
        resume_rx.lock().recv().unwrap();
    });
    std::thread::scope(|s| {
        let scraper = s.spawn(|| text(store, reg));
        paused_rx.recv().unwrap();
        scrape::pause::clear(dir);
        let out = meanwhile();
        resume_tx.send(()).unwrap();
        (scraper.join().unwrap(), out)
    })
}

/// Two registries on `dir` (two processes' stores), each with `jobs_total{id}`; the first's family.
#[allow(clippy::type_complexity)]
fn writer_and_reader(dir: &Path) -> ((Arc<Registry>, Arc<FileStore>), (Arc<Registry>, Arc<FileStore>), Arc<crate::core::registry::Family>) {
    let a = registry(dir);
    let b = registry(dir);
    let jobs = counter(&a.0, "jobs_total", &["id"]);
    counter(&b.0, "jobs_total", &["id"]);
    (a, b, jobs)
}

#[test]
fn reset_removes_what_no_live_process_owns_and_keeps_live_files() {
    let dir = tempfile::tempdir().unwrap();
    let (src, ss) = registry(&dir.path().join("src"));
    inc(&counter(&src, "jobs_total", &["queue"]), &["q"], 5);
    let (reg, store) = registry(dir.path());
    inc(&counter(&reg, "jobs_total", &["queue"]), &["q"], 2);
    for i in 0..3 {
        dead_copy(ss.path(), dir.path(), 4_000_000 + i, 70 + u64::from(i));
    }
    assert_eq!(value(&text(&store, &reg).0, "jobs_total", &[("queue", "q")]), Some(17.0), "compacted into the archive");
    dead_copy(ss.path(), dir.path(), 4_000_009, 79);
    std::fs::write(dir.path().join("notes.txt"), b"not ours").unwrap();
    std::os::unix::fs::symlink("/etc/hostname", dir.path().join("proc-9-0000000000000009.tmm")).unwrap();
    assert_eq!(reset_dir(dir.path()).unwrap(), 2, "the archive and the dead file");
    let mut left: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    left.retain(|n| n != "src" && !n.starts_with(".compact"));
    left.sort();
    assert_eq!(left.len(), 3, "this process's own file, the stranger's text and the planted link: {left:?}");
    assert_eq!(value(&text(&store, &reg).0, "jobs_total", &[("queue", "q")]), Some(2.0), "the live file's 2 stay, the rest is gone");
}

#[test]
fn meets_the_store_contract() {
    let dir = tempfile::tempdir().unwrap();
    crate::core::store::contract::check(&FileStore::create(dir.path(), "").unwrap());
}

#[test]
fn a_registry_moves_into_its_file_with_its_values() {
    let dir = tempfile::tempdir().unwrap();
    let reg = Arc::new(Registry::default());
    let jobs = counter(&reg, "jobs_total", &["queue"]);
    inc(&jobs, &["a"], 5);
    let held = jobs.series(&encode_key(&["b"])).unwrap();
    enable(&reg, dir.path()).unwrap();
    enable(&reg, dir.path()).unwrap();
    held.increment(Number::Int(2)).unwrap();
    inc(&jobs, &["a"], 1);
    let store = file_store(&reg).unwrap();
    let (t, problems) = text(&store, &reg);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(value(&t, "jobs_total", &[("queue", "a")]), Some(6.0));
    assert_eq!(value(&t, "jobs_total", &[("queue", "b")]), Some(2.0));
    assert_eq!(value(&t, FILES_GAUGE, &[("state", "live")]), Some(1.0));
    let other = Arc::new(Registry::default());
    assert!(enable(&other, dir.path()).unwrap_err().to_string().contains("already used by another registry"));
    assert!(jobs.remove(&encode_key(&["b"])));
    let (t, _) = text(&store, &reg);
    assert_eq!(value(&t, "jobs_total", &[("queue", "b")]), None, "a removed series leaves the merged view");
    assert!(reg.unregister("jobs_total"));
    assert!(!text(&store, &reg).0.contains("jobs_total"));
}

#[test]
fn files_of_one_directory_merge_by_kind_and_gauge_mode() {
    let dir = tempfile::tempdir().unwrap();
    let (a, sa) = registry(dir.path());
    let (b, sb) = registry(dir.path());
    sb.set_identity("worker_1");
    for (reg, n, g) in [(&a, 3, 1.5), (&b, 4, 7.0)] {
        inc(&counter(reg, "jobs_total", &["queue"]), &["q"], n);
        let h = reg
            .register(
                FamilyDesc::new::<&str>("latency_seconds", "h", MetricKind::Histogram, &[], Some(Buckets::new(&[1.0]).unwrap())).unwrap(),
            )
            .unwrap();
        let _ = h.update(b"", Update::Observe(g)).unwrap();
        for mode in GaugeMode::ALL {
            let desc = FamilyDesc::new::<&str>(&format!("g_{}", mode.as_str()), "g", MetricKind::Gauge, &[], None).unwrap();
            let fam = reg.register(desc.with_aggregation(mode).unwrap()).unwrap();
            let _ = fam.update(b"", Update::Set(g)).unwrap();
        }
    }
    let (t, problems) = text(&sa, &a);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(value(&t, "jobs_total", &[("queue", "q")]), Some(7.0));
    assert_eq!(value(&t, "latency_seconds_count", &[]), Some(2.0));
    assert_eq!(value(&t, "latency_seconds_bucket", &[("le", "1.0")]), Some(0.0));
    assert_eq!(value(&t, "latency_seconds_sum", &[]), Some(8.5));
    assert_eq!(value(&t, "g_sum", &[]), Some(8.5));
    assert_eq!(value(&t, "g_livesum", &[]), Some(8.5));
    assert_eq!(value(&t, "g_max", &[]), Some(7.0));
    assert_eq!(value(&t, "g_min", &[]), Some(1.5));
    assert_eq!(value(&t, "g_mostrecent", &[]), Some(7.0), "b set its gauge last");
    let me = std::process::id().to_string();
    assert_eq!(value(&t, "g_all", &[("pid", me.as_str())]), Some(1.5));
    assert_eq!(value(&t, "g_all", &[("pid", "worker_1")]), Some(7.0));
    let sorted = |t: &str| {
        let mut v: Vec<String> = t.lines().map(str::to_owned).collect();
        v.sort();
        v
    };
    assert_eq!(sorted(&text(&sb, &b).0), sorted(&t), "every process scrapes the same merge");
}

#[test]
fn files_of_exited_processes_fold_into_the_archive_once() {
    let dir = tempfile::tempdir().unwrap();
    let (src, ss) = registry(&dir.path().join("src"));
    let jobs = counter(&src, "jobs_total", &["queue"]);
    inc(&jobs, &["q"], 10);
    let live_gauge = src
        .register(FamilyDesc::new::<&str>("busy", "g", MetricKind::Gauge, &[], None).unwrap().with_aggregation(GaugeMode::LiveSum).unwrap())
        .unwrap();
    let _ = live_gauge.update(b"", Update::Set(3.0)).unwrap();
    let (reg, store) = registry(dir.path());
    inc(&counter(&reg, "jobs_total", &["queue"]), &["q"], 1);
    for i in 0..50 {
        dead_copy(ss.path(), dir.path(), 4_000_000 + i, 1000 + u64::from(i));
    }
    let (t, problems) = text(&store, &reg);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(value(&t, "jobs_total", &[("queue", "q")]), Some(501.0));
    assert_eq!(value(&t, "busy", &[]), None, "live-only gauges of exited processes are gone");
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names.iter().filter(|n| n.starts_with("proc-")).count(), 1, "{names:?}");
    assert!(names.contains(&ARCHIVE.to_owned()));
    // A file the archive absorbed but that survived (a crash before its deletion) is not
    // counted again, and goes at the next compaction.
    let again = dead_copy(ss.path(), dir.path(), 4_000_000, 1000);
    dead_copy(ss.path(), dir.path(), 5_000_000, 9999);
    let (t, _) = text(&store, &reg);
    assert_eq!(value(&t, "jobs_total", &[("queue", "q")]), Some(511.0));
    assert!(!again.exists());
    assert_eq!(value(&text(&store, &reg).0, "jobs_total", &[("queue", "q")]), Some(511.0), "stable across scrapes");
}

#[test]
fn damaged_and_foreign_files_are_skipped_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (src, ss) = registry(&dir.path().join("src"));
    let jobs = counter(&src, "jobs_total", &["queue"]);
    for i in 0..20 {
        inc(&jobs, &[&format!("q{i}")], 1);
    }
    let (reg, store) = registry(dir.path());
    inc(&counter(&reg, "jobs_total", &["queue"]), &["q0"], 1);
    let whole = std::fs::read(ss.path()).unwrap();
    let used = u64::from_ne_bytes(whole[format::H_END..format::H_END + 8].try_into().unwrap()) as usize;
    // Truncated mid-record: what precedes the cut is kept.
    let cut = dead_copy(ss.path(), dir.path(), 4_100_000, 1);
    std::fs::write(&cut, &whole[..used - 20]).unwrap();
    // Garbage where a record length should be.
    let bad = dead_copy(ss.path(), dir.path(), 4_100_001, 2);
    let mut bytes = std::fs::read(&bad).unwrap();
    bytes[format::HEADER_LEN..format::HEADER_LEN + 4].copy_from_slice(&7u32.to_ne_bytes());
    std::fs::write(&bad, bytes).unwrap();
    std::fs::write(dir.path().join("proc-1-0000000000000003.tmm"), b"not ours at all").unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
    std::os::unix::fs::symlink(ss.path(), dir.path().join("proc-2-0000000000000004.tmm")).unwrap();
    let (t, problems) = text(&store, &reg);
    let reasons: Vec<String> = problems.iter().map(|p| format!("{}: {}", p.path, p.reason)).collect();
    assert!(reasons.iter().any(|r| r.contains("notes.txt: not a tasker_metrics file")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("symbolic link")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("bad length 7")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("plausible size") || r.contains("bad magic")), "{reasons:?}");
    let total: f64 = (0..20).filter_map(|i| value(&t, "jobs_total", &[("queue", &format!("q{i}"))])).sum();
    assert_eq!(total, 1.0 + 19.0, "the truncated file's 19 whole series count, the garbled one's none");
    assert_eq!(value(&t, FILES_GAUGE, &[("state", "skipped")]), Some(3.0));
    assert!(dir.path().join("notes.txt").exists(), "foreign files are never deleted");
    let (t2, _) = text(&store, &reg);
    assert_eq!(value(&t2, "jobs_total", &[("queue", "q1")]), value(&t, "jobs_total", &[("queue", "q1")]));
}

#[test]
fn an_expired_counter_keeps_its_share_of_the_merged_total() {
    let dir = tempfile::tempdir().unwrap();
    let (a, sa) = registry(dir.path());
    let (b, _sb) = registry(dir.path());
    let desc = || FamilyDesc::new("jobs_total", "h", MetricKind::Counter, &["q"], None).unwrap().with_expires_after(0.05).unwrap();
    let (ja, jb) = (a.register(desc()).unwrap(), b.register(desc()).unwrap());
    inc(&ja, &["x"], 3);
    crate::core::registry::advance_clock(80);
    inc(&jb, &["x"], 4);
    let (t, _) = text(&sa, &a);
    assert!(ja.find(&encode_key(&["x"])).is_none(), "expired in this process");
    assert_eq!(value(&t, "jobs_total", &[("q", "x")]), Some(7.0), "but its 3 still count: no false reset");
    inc(&ja, &["x"], 1);
    assert_eq!(value(&text(&sa, &a).0, "jobs_total", &[("q", "x")]), Some(8.0));
}

#[test]
fn conflicting_definitions_are_reported_not_merged() {
    let dir = tempfile::tempdir().unwrap();
    let (a, sa) = registry(dir.path());
    let (b, _sb) = registry(dir.path());
    inc(&counter(&a, "x_total", &["k"]), &["v"], 1);
    inc(&counter(&b, "x_total", &["other"]), &["v"], 5);
    let (t, problems) = text(&sa, &a);
    // The oldest process's definition wins, the same in every process.
    let shown = [value(&t, "x_total", &[("k", "v")]), value(&t, "x_total", &[("other", "v")])];
    assert!(shown == [Some(1.0), None] || shown == [None, Some(5.0)], "{t}");
    assert!(problems.iter().any(|p| p.reason.contains("differs from another process's definition")), "{problems:?}");
}

#[test]
fn a_file_replaced_under_the_reader_is_read_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let (one, s1) = registry(&dir.path().join("one"));
    inc(&counter(&one, "x_total", &[]), &[], 3);
    let (two, s2) = registry(&dir.path().join("two"));
    inc(&counter(&two, "x_total", &[]), &[], 40);
    let (reg, store) = registry(dir.path());
    // Two "live" files of our own pid: the reader must not compact them.
    let name = dir.path().join(format!("proc-{}-00000000000000aa.tmm", std::process::id()));
    std::fs::copy(s1.path(), &name).unwrap();
    assert_eq!(value(&text(&store, &reg).0, "x_total", &[]), Some(3.0));
    let tmp = dir.path().join(".swap");
    std::fs::copy(s2.path(), &tmp).unwrap();
    std::fs::rename(&tmp, &name).unwrap();
    assert_eq!(value(&text(&store, &reg).0, "x_total", &[]), Some(40.0));
}

/// disable then enable on the same directory: the process's counts were in its file as of
/// `disable` and are written again with their current values, so the old records must not count
/// (5 became 10 per toggle); and the file is taken back, not a new one made per toggle.
#[test]
fn reenabling_on_a_directory_counts_the_process_once() {
    let dir = tempfile::tempdir().unwrap();
    let (other, other_store) = registry(dir.path());
    let me = Arc::new(Registry::default());
    let jobs = counter(&me, "jobs_total", &["q"]);
    counter(&other, "jobs_total", &["q"]);
    enable(&me, dir.path()).unwrap();
    inc(&jobs, &["a"], 5);
    for round in 0..40 {
        disable(&me).unwrap();
        inc(&jobs, &["a"], 1);
        enable(&me, dir.path()).unwrap();
        let expected = 5.0 + f64::from(round + 1);
        assert_eq!(value(&text(&other_store, &other).0, "jobs_total", &[("q", "a")]), Some(expected), "round {round}");
    }
    let files =
        std::fs::read_dir(dir.path()).unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("proc-")).count();
    assert_eq!(files, 2, "one file per registry, however often it toggled");
    disable(&me).unwrap();
}

/// Another registry enabled on the directory a registry left does not take that file: the first
/// registry's counts as of `disable` stay in the totals.
#[test]
fn a_dormant_file_is_only_taken_back_by_its_own_registry() {
    let dir = tempfile::tempdir().unwrap();
    let (other, other_store) = registry(dir.path());
    counter(&other, "jobs_total", &["q"]);
    let first = Arc::new(Registry::default());
    inc(&counter(&first, "jobs_total", &["q"]), &["a"], 5);
    enable(&first, dir.path()).unwrap();
    disable(&first).unwrap();
    let second = Arc::new(Registry::default());
    inc(&counter(&second, "jobs_total", &["q"]), &["a"], 2);
    enable(&second, dir.path()).unwrap();
    assert_eq!(value(&text(&other_store, &other).0, "jobs_total", &[("q", "a")]), Some(7.0));
    disable(&second).unwrap();
}

/// The race of a scrape that opened a dead file, then read the archive after two compactions
/// (which counted that file twice): a scrape holds the directory lock from its first open to its
/// last read, so compactions wait until it is done, and every total stays exact.
#[test]
fn a_scrape_paused_between_its_reads_sees_each_file_once_while_others_try_to_compact() {
    let dir = tempfile::tempdir().unwrap();
    let (src, ss) = registry(&dir.path().join("src"));
    inc(&counter(&src, "jobs_total", &["queue"]), &["q"], 10);
    let (a, sa) = registry(dir.path());
    let (b, sb) = registry(dir.path());
    counter(&a, "jobs_total", &["queue"]);
    counter(&b, "jobs_total", &["queue"]);
    dead_copy(ss.path(), dir.path(), 4_100_000, 9);
    assert_eq!(value(&text(&sb, &b).0, "jobs_total", &[("queue", "q")]), Some(10.0));
    assert!(dir.path().join(ARCHIVE).exists(), "an archive from an earlier compaction");
    dead_copy(ss.path(), dir.path(), 4_100_001, 1);

    // Another process reading keeps A from compacting, so A opens the dead file itself.
    let other = compact::DirLock::shared(dir.path()).unwrap();
    let ((t, _), seen_by_b) = paused_scrape(dir.path(), &sa, &a, || {
        drop(other);
        // Two compaction attempts while A is between its reads, a new dead file in between.
        let mut seen_by_b = Vec::new();
        for round in 0..2 {
            let (t, problems) = text(&sb, &b);
            let archived =
                dir.path().read_dir().unwrap().filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("proc-4")).count();
            seen_by_b.push((value(&t, "jobs_total", &[("queue", "q")]), problems, archived));
            if round == 0 {
                dead_copy(ss.path(), dir.path(), 4_100_002, 2);
            }
        }
        seen_by_b
    });
    assert_eq!(value(&t, "jobs_total", &[("queue", "q")]), Some(30.0), "A counts the file it opened once");
    assert_eq!(seen_by_b, [(Some(20.0), vec![], 1), (Some(30.0), vec![], 2)], "B exact; no compaction while A reads");
    // A compacted once it was done; totals stay exact from every store.
    assert!(!dir.path().read_dir().unwrap().any(|e| e.unwrap().file_name().to_string_lossy().starts_with("proc-4")), "all compacted");
    assert_eq!(value(&text(&sa, &a).0, "jobs_total", &[("queue", "q")]), Some(30.0));
    assert_eq!(value(&text(&sb, &b).0, "jobs_total", &[("queue", "q")]), Some(30.0));
}

/// A process's file appears complete and locked, so compactions running all the while never
/// take it for an abandoned start and delete it ("cannot rename", and that process's counts kept
/// in its memory only).
#[test]
fn files_created_while_scrapes_compact_are_never_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (reg, store) = registry(dir.path());
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let _ = store.scrape(&reg);
            }
        });
        for _ in 0..300 {
            let w = file::Writer::create(dir.path(), "").expect("created despite compactions");
            assert!(w.path().exists());
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(!names.iter().any(|n| n.starts_with(".tmp-")), "{names:?}");
}

/// Where files must be created under a temporary name, compaction removes such a file only when
/// its creator's pid is gone, never while the creator may be about to lock it.
#[test]
fn a_temporary_file_is_removed_only_when_its_creator_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let (src, ss) = registry(&dir.path().join("src"));
    inc(&counter(&src, "jobs_total", &[]), &[], 1);
    let (reg, store) = registry(dir.path());
    let mine = dir.path().join(format!(".tmp-{}-00000000000000ab.tmm", std::process::id()));
    let gone = dir.path().join(".tmp-4194000-00000000000000ac.tmm");
    std::fs::write(&mine, b"").unwrap();
    std::fs::write(&gone, b"").unwrap();
    dead_copy(ss.path(), dir.path(), 4_100_000, 7); // gives the scrape something to compact
    let _ = text(&store, &reg);
    assert!(mine.exists(), "its creator lives: it may be locking the file right now");
    assert!(!gone.exists());
}

/// Each gauge mode's lifetime of an exited process's value: `:all` shows its series until the
/// compaction (then it leaves, or 1,000 short-lived workers would leave 1,000 series), the
/// `live*` modes drop it at once, the merging modes keep it in their merged value.
#[test]
fn an_exited_process_gauge_series_leave_at_compaction_unless_merged() {
    let dir = tempfile::tempdir().unwrap();
    let gauges = |reg: &Registry, v: f64| {
        for mode in GaugeMode::ALL {
            let desc = FamilyDesc::new::<&str>(&format!("g_{}", mode.as_str()), "g", MetricKind::Gauge, &[], None).unwrap();
            let _ = reg.register(desc.with_aggregation(mode).unwrap()).unwrap().update(b"", Update::Set(v)).unwrap();
        }
    };
    let (src, ss) = registry(&dir.path().join("src"));
    gauges(&src, 5.0);
    let (reg, store) = registry(dir.path());
    gauges(&reg, 2.0);
    dead_copy(ss.path(), dir.path(), 4_100_000, 7);
    let me = std::process::id().to_string();
    let series = |t: &str, name: &str| -> Vec<(Vec<(String, String)>, f64)> {
        parse(t, Syntax::Prometheus).unwrap().into_iter().filter(|s| s.name == name).map(|s| (s.labels, s.value)).collect()
    };
    let pid = |p: &str| vec![("pid".to_owned(), p.to_owned())];

    let reading = compact::DirLock::shared(dir.path()).unwrap(); // another scrape: no compaction yet
    let (t, _) = text(&store, &reg);
    assert_eq!(series(&t, "g_all"), [(pid("4100000"), 5.0), (pid(&me), 2.0)], "until compaction");
    drop(reading);
    let (t, _) = text(&store, &reg);
    assert!(!dir.path().join("proc-4100000-0000000000000007.tmm").exists(), "compacted");
    assert_eq!(series(&t, "g_all"), [(pid(&me), 2.0)], "gone with its file");
    assert_eq!(series(&t, "g_liveall"), [(pid(&me), 2.0)]);
    assert_eq!(value(&t, "g_livesum", &[]), Some(2.0));
    assert_eq!(value(&t, "g_sum", &[]), Some(7.0));
    assert_eq!(value(&t, "g_max", &[]), Some(5.0));
    assert_eq!(value(&t, "g_min", &[]), Some(2.0));
    assert_eq!(value(&t, "g_mostrecent", &[]), Some(2.0), "set after the exited process's");
}

/// unregister, then register the name as another type: the new metric is exported (it vanished,
/// with a warning about "another process" when there was none), and the old one's records,
/// retired in this process's file, no longer claim the name.
#[test]
fn a_name_registered_again_with_another_shape_is_exported_in_its_new_shape() {
    let dir = tempfile::tempdir().unwrap();
    let (reg, store) = registry(dir.path());
    inc(&counter(&reg, "jobs", &["queue"]), &["q"], 5);
    assert_eq!(value(&text(&store, &reg).0, "jobs", &[("queue", "q")]), Some(5.0));
    assert!(reg.unregister("jobs"));
    let g = reg.register(FamilyDesc::new::<&str>("jobs", "g", MetricKind::Gauge, &[], None).unwrap()).unwrap();
    let _ = g.update(b"", Update::Set(2.5)).unwrap();
    let (t, problems) = text(&store, &reg);
    assert!(problems.is_empty(), "{problems:?}");
    let me = std::process::id().to_string();
    assert_eq!(value(&t, "jobs", &[("pid", &me)]), Some(2.5));
    assert!(t.contains("# TYPE jobs gauge") && !t.contains("queue="), "{t}");
    // And back again, with other buckets.
    assert!(reg.unregister("jobs"));
    let h = reg
        .register(FamilyDesc::new::<&str>("jobs", "h", MetricKind::Histogram, &[], Some(Buckets::new(&[1.0, 2.0]).unwrap())).unwrap())
        .unwrap();
    let _ = h.update(b"", Update::Observe(1.5)).unwrap();
    let (t, problems) = text(&store, &reg);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(value(&t, "jobs_bucket", &[("le", "2.0")]), Some(1.0), "{t}");
}

/// FIFOs planted under the names compaction and reset look at (`.tmp-*.tmm`, `proc-*.tmm`) are
/// never opened (opening one blocks until a writer comes: every scrape hung), never deleted,
/// and the scrape goes on.
#[test]
fn fifos_in_the_directory_never_block_a_scrape_or_a_reset() {
    let dir = tempfile::tempdir().unwrap();
    let (src, ss) = registry(&dir.path().join("src"));
    inc(&counter(&src, "jobs_total", &[]), &[], 4);
    let (reg, store) = registry(dir.path());
    let fifos = [dir.path().join(".tmp-4194001-00000000000000f1.tmm"), dir.path().join("proc-4194002-00000000000000f2.tmm")];
    for f in &fifos {
        let c = std::ffi::CString::new(f.to_str().unwrap()).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    }
    dead_copy(ss.path(), dir.path(), 4_100_000, 7); // the scrape compacts, and looks at leftovers
    let (tx, rx) = std::sync::mpsc::channel();
    let dir_path = dir.path().to_owned();
    std::thread::spawn(move || {
        let (t, problems) = text(&store, &reg);
        let reset = lifecycle::reset_dir(&dir_path);
        tx.send((t, problems, reset.map_err(|e| e.to_string()))).unwrap();
    });
    // Only a bound for a hang (a failing test must not hang the suite), not a speed check.
    let (t, problems, reset) = rx.recv_timeout(std::time::Duration::from_secs(60)).expect("the scrape returned");
    assert_eq!(value(&t, "jobs_total", &[]), Some(4.0));
    assert!(
        problems.iter().any(|p| p.path.ends_with("proc-4194002-00000000000000f2.tmm") && p.reason.contains("not a regular file")),
        "{problems:?}"
    );
    assert!(reset.is_ok(), "{reset:?}");
    assert!(fifos.iter().all(|f| f.exists()), "not ours to delete");
}

/// A damaged archive is moved aside, never overwritten by the next compaction (which lost every
/// archived count): what can be read of it carries over, the rest waits in the moved file.
#[test]
fn a_damaged_archive_is_moved_aside_and_its_readable_part_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (src, ss) = registry(&dir.path().join("src"));
    let jobs = counter(&src, "jobs_total", &["queue"]);
    for i in 0..10 {
        inc(&jobs, &[&format!("q{i}")], 1);
    }
    let (reg, store) = registry(dir.path());
    counter(&reg, "jobs_total", &["queue"]);
    dead_copy(ss.path(), dir.path(), 4_100_000, 1);
    let _ = text(&store, &reg); // compacts: 10 series in the archive
    let archive = dir.path().join(ARCHIVE);
    let whole = std::fs::read(&archive).unwrap();
    std::fs::write(&archive, &whole[..whole.len() - 30]).unwrap(); // the tail cut off
    dead_copy(ss.path(), dir.path(), 4_100_001, 2);
    let (t, problems) = text(&store, &reg);
    let moved: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("archive-damaged-"))
        .collect();
    assert_eq!(moved.len(), 1, "{problems:?}");
    assert_eq!(std::fs::read(&moved[0]).unwrap(), whole[..whole.len() - 30], "kept byte for byte");
    assert!(problems.iter().any(|p| p.reason.contains("moved aside")), "{problems:?}");
    let total: f64 = (0..10).filter_map(|i| value(&t, "jobs_total", &[("queue", &format!("q{i}"))])).sum();
    assert!((18.0..20.0).contains(&total), "the new file's 10 and the archive's readable series: {total}");
    // A header that is not an archive's at all: moved aside too, nothing merged from it.
    std::fs::write(&archive, b"garbage").unwrap();
    dead_copy(ss.path(), dir.path(), 4_100_002, 3);
    let (t, problems) = text(&store, &reg);
    assert!(problems.iter().any(|p| p.reason.contains("moved aside")), "{problems:?}");
    assert_eq!(value(&t, "jobs_total", &[("queue", "q0")]), Some(1.0));
}

/// Every truncation and every single-byte change of a real file reads without a panic, and what
/// it gives renders as valid text (the fuzz target `file` does the same with arbitrary bytes).
#[test]
fn every_truncation_and_byte_flip_of_a_file_reads_safely() {
    let dir = tempfile::tempdir().unwrap();
    let (reg, store) = registry(dir.path());
    inc(&counter(&reg, "jobs_total", &["queue"]), &["q\\\"\n"], 3);
    let g = reg.register(FamilyDesc::new::<&str>("depth", "g", MetricKind::Gauge, &[], None).unwrap()).unwrap();
    let _ = g.update(b"", Update::Set(1.5)).unwrap();
    let h = reg
        .register(FamilyDesc::new::<&str>("lat", "h", MetricKind::Histogram, &["a"], Some(Buckets::new(&[1.0]).unwrap())).unwrap())
        .unwrap();
    let _ = h.update(&encode_key(&["x"]), Update::Observe(0.5)).unwrap();
    let whole = std::fs::read(store.path()).unwrap();
    let used = u64::from_ne_bytes(whole[format::H_END..format::H_END + 8].try_into().unwrap()) as usize;
    let whole = &whole[..used];
    assert_eq!(read_untrusted(whole).len(), 3);
    let check = |bytes: &[u8]| {
        let text = prometheus::render(&read_untrusted(bytes));
        parse(&text, Syntax::Prometheus).unwrap_or_else(|e| panic!("{e}: {text}"));
    };
    for len in 0..whole.len() {
        check(&whole[..len]);
    }
    let mut bytes = whole.to_vec();
    for i in 0..bytes.len() {
        for flip in [0x01, 0x80, 0xff] {
            bytes[i] ^= flip;
            check(&bytes);
            bytes[i] ^= flip;
        }
    }
}

/// A file truncated by another program after a scrape mapped it: reading it raised SIGBUS and
/// killed the process (`[BUG] Bus Error`). The read now finishes, the file is reported and left
/// out, and the totals are those of the other files.
#[test]
fn a_file_truncated_while_a_scrape_reads_it_is_skipped_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let (src, ss) = registry(&dir.path().join("src"));
    let jobs = counter(&src, "jobs_total", &["queue"]);
    for i in 0..2_000 {
        inc(&jobs, &[&format!("queue-{i:04}")], 1); // several pages of records
    }
    let (reg, store) = registry(dir.path());
    inc(&counter(&reg, "jobs_total", &["queue"]), &["queue-0000"], 5);
    let victim = dead_copy(ss.path(), dir.path(), 4_100_000, 1);
    let other = compact::DirLock::shared(dir.path()).unwrap(); // keeps the scrape from compacting
    let ((t, problems), ()) = paused_scrape(dir.path(), &store, &reg, || {
        std::fs::OpenOptions::new().write(true).open(&victim).unwrap().set_len(4096).unwrap();
    });
    drop(other);
    assert!(problems.iter().any(|p| p.path.ends_with("proc-4100000-0000000000000001.tmm") && p.reason.contains("shrank")), "{problems:?}");
    assert_eq!(value(&t, "jobs_total", &[("queue", "queue-0000")]), Some(5.0), "{problems:?}");
    assert_eq!(value(&t, "jobs_total", &[("queue", "queue-1999")]), None);
}

/// Series created and removed round after round while scraping: the scrape's merge state
/// follows what the files hold now (it grew with every series ever seen), and each removed
/// series costs its process's file one record until the process exits (the bound the README
/// states).
#[test]
fn the_merge_state_forgets_removed_series() {
    let dir = tempfile::tempdir().unwrap();
    let (reg, store) = registry(dir.path());
    let jobs = counter(&reg, "jobs_total", &["id"]);
    inc(&jobs, &["steady"], 1);
    let merged_slots = || store.merger.lock().families.iter().map(|f| f.slots.len()).sum::<usize>();
    let mut most = 0;
    for round in 0..60 {
        let keys: Vec<String> = (0..500).map(|i| format!("r{round}-{i}")).collect();
        for k in &keys {
            inc(&jobs, &[k], 1);
        }
        let (t, _) = text(&store, &reg);
        assert_eq!(value(&t, "jobs_total", &[("id", "steady")]), Some(1.0));
        assert_eq!(value(&t, "jobs_total", &[("id", &keys[499])]), Some(1.0));
        for k in &keys {
            assert!(jobs.remove(&encode_key(&[k])));
        }
        most = most.max(merged_slots());
    }
    assert!(most <= merge::STALE_MIN + 2 * 501, "merge state kept {most} slots for 501 live series at most");
    let (t, _) = text(&store, &reg);
    assert_eq!(value(&t, "jobs_total", &[("id", "steady")]), Some(1.0));
    assert_eq!(value(&t, "jobs_total", &[("id", "r59-0")]), None);
}

/// A removed series' record is reused by the next series of its size once nothing refers to
/// it (the file grew by one record per removal, to its 1 GiB end), and a reader that indexed
/// the old series attributes the reused record to the new one.
#[test]
fn removed_series_records_are_reused_and_read_as_their_new_series() {
    let dir = tempfile::tempdir().unwrap();
    let ((a, sa), (b, sb), jobs) = writer_and_reader(dir.path());
    inc(&jobs, &["steady"], 1);
    let end = || format::Header::read(&sa.writer.view()).map(|_| sa.writer.view().len()).unwrap();
    for round in 0..2_000 {
        let key = format!("r{round:05}"); // one record size
        inc(&jobs, &[&key], round + 1);
        if round % 97 == 0 {
            // B indexes the series now; the record is reused under it later.
            let (t, _) = text(&sb, &b);
            assert_eq!(value(&t, "jobs_total", &[("id", &key)]), Some((round + 1) as f64), "round {round}");
            assert_eq!(value(&t, "jobs_total", &[("id", "steady")]), Some(1.0));
        }
        assert!(jobs.remove(&encode_key(&[&key])));
    }
    let (t, _) = text(&sb, &b);
    assert_eq!(value(&t, "jobs_total", &[("id", "r01999")]), None, "removed");
    assert_eq!(value(&t, "jobs_total", &[("id", "steady")]), Some(1.0));
    let bytes = end();
    // Removed series wait in the family's order list (up to 64 of them, or as many as are live)
    // before their cells drop and their records are free: ~100 records at most, not 2,000.
    assert!(bytes < 8 * 1024, "2,000 removals grew the file to {bytes} bytes");
    // A series created after all that reads right from both stores.
    inc(&jobs, &["last"], 7);
    assert_eq!(value(&text(&sb, &b).0, "jobs_total", &[("id", "last")]), Some(7.0));
    assert_eq!(value(&text(&sa, &a).0, "jobs_total", &[("id", "last")]), Some(7.0));
}

/// A held handle keeps a removed series' record from reuse: its writes must not land in
/// another series.
#[test]
fn a_record_is_not_reused_while_a_handle_holds_its_series() {
    let dir = tempfile::tempdir().unwrap();
    let (a, sa) = registry(dir.path());
    let jobs = counter(&a, "jobs_total", &["id"]);
    let held = jobs.series(&encode_key(&["aa"])).unwrap();
    held.increment(Number::Int(1)).unwrap();
    assert!(jobs.remove(&encode_key(&["aa"])));
    inc(&jobs, &["bb"], 5); // same record size
    held.increment(Number::Int(100)).unwrap();
    let (t, _) = text(&sa, &a);
    assert_eq!(value(&t, "jobs_total", &[("id", "bb")]), Some(5.0));
    assert_eq!(value(&t, "jobs_total", &[("id", "aa")]), None);
}

/// Records reused while another store scrapes in a loop: every series it shows has its own
/// value (series `k<n>` is created and incremented by n once), never one read across a reuse.
#[test]
fn a_reader_racing_record_reuse_never_shows_another_series_value() {
    let dir = tempfile::tempdir().unwrap();
    let ((_a, _sa), (b, sb), jobs) = writer_and_reader(dir.path());
    let stop = std::sync::atomic::AtomicBool::new(false);
    let scrapes = std::sync::atomic::AtomicUsize::new(0);
    let checked = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut checked = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                scrapes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let (t, problems) = text(&sb, &b);
                assert!(problems.is_empty(), "{problems:?}");
                for sample in parse(&t, Syntax::Prometheus).unwrap().into_iter().filter(|s| s.name == "jobs_total") {
                    let n: f64 = sample.labels[0].1.trim_start_matches('k').parse().unwrap();
                    // 0 between the series' creation and its one increment.
                    assert!(sample.value == n || sample.value == 0.0, "{sample:?}");
                    checked += 1;
                }
            }
            checked
        });
        for n in 1..=30_000 {
            if n % 500 == 0 {
                // Scrapes interleave with the churn however fast either side runs.
                let seen = scrapes.load(std::sync::atomic::Ordering::Relaxed);
                while scrapes.load(std::sync::atomic::Ordering::Relaxed) < seen + 2 && !reader.is_finished() {
                    std::thread::yield_now();
                }
            }
            let key = format!("k{n:06}");
            inc(&jobs, &[&key], n);
            if n % 3 == 0 {
                for old in [n - 2, n - 1, n] {
                    assert!(jobs.remove(&encode_key(&[&format!("k{old:06}")])));
                }
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        reader.join().unwrap()
    });
    assert!(checked > 0);
}
