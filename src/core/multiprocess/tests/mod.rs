//! Multi-process behaviour across stores in one test process (forks are tested in tests/ and RSpec):
//! merging and compaction here, faults and races in `faults`, churn in `churn`.

mod churn;
mod faults;

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

/// The native histogram of `reg`'s family `name` as this process's scrape merges it.
fn merged_native(store: &FileStore, reg: &Registry, name: &str) -> crate::core::metric::sparse::NativeSample {
    let scrape = store.scrape(reg);
    assert!(scrape.problems.is_empty(), "{:?}", scrape.problems);
    let family = scrape.families.iter().find(|f| f.name == name).unwrap();
    match &family.series[0].sample {
        crate::core::metric::Sample::Histogram { native: Some(n), counts, .. } => {
            assert_eq!(counts.iter().sum::<u64>(), n.count(), "classic and native counts agree");
            (**n).clone()
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn native_histograms_merge_at_the_coarser_schema_live_and_archived() {
    use crate::core::metric::native::{bucket_index, NativeConfig};
    let dir = tempfile::tempdir().unwrap();
    let config = NativeConfig::new(1.1, 16, 0.0, 0.0).unwrap();
    let desc = || {
        FamilyDesc::new::<&str>(
            "d_seconds",
            "h",
            MetricKind::Histogram,
            &[],
            Some(Buckets::new(&[1.0]).unwrap().with_native(config.clone())),
        )
        .unwrap()
    };
    let observe = |reg: &Registry, values: &[f64]| {
        let h = reg.register(desc()).unwrap();
        for v in values {
            let _ = h.update(b"", Update::Observe(*v)).unwrap();
        }
    };
    // A narrow range keeps schema 3; a wide one (1 … 2^10) drops to schema 0 in 16 buckets.
    let narrow = [1.0, 1.05, 1.2, -0.5];
    let wide: Vec<f64> = (0..=40).map(|k| (f64::from(k) / 4.0).exp2()).collect();
    let (a, sa) = registry(dir.path());
    let (b, _sb) = registry(dir.path());
    observe(&a, &narrow);
    observe(&b, &wide);
    let all: Vec<f64> = narrow.iter().chain(&wide).copied().collect();
    let expected = |schema: i8| {
        let mut n = crate::core::metric::sparse::NativeSample { schema, ..Default::default() };
        for v in &all {
            let side = if *v > 0.0 { &mut n.positive } else { &mut n.negative };
            match side.iter_mut().find(|e| e.0 == bucket_index(v.abs(), schema)) {
                Some(e) => e.1 += 1,
                None => side.push((bucket_index(v.abs(), schema), 1)),
            }
        }
        n.positive.sort_by_key(|e| e.0);
        n
    };
    assert_eq!(merged_native(&sa, &a, "d_seconds"), expected(0), "both files at schema 0, summed");

    // The same from an archive: the exited processes' files are compacted and read back.
    let (src, ss) = registry(&dir.path().join("src"));
    observe(&src, &narrow);
    let (live, live_store) = registry(&dir.path().join("other"));
    for i in 0..3 {
        dead_copy(ss.path(), &dir.path().join("other"), 4_100_000 + i, 7000 + u64::from(i));
    }
    observe(&live, &[]);
    let merged = merged_native(&live_store, &live, "d_seconds");
    assert_eq!(merged.schema, 3);
    assert_eq!(merged.count(), 12, "three exited processes' four observations");
    assert!(dir.path().join("other").join(ARCHIVE).exists());
    assert_eq!(merged_native(&live_store, &live, "d_seconds"), merged, "read back from the archive, unchanged");
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
fn a_histogram_native_in_one_process_and_not_in_another_is_a_conflict_not_damage() {
    let dir = tempfile::tempdir().unwrap();
    let (a, sa) = registry(dir.path());
    let (b, _sb) = registry(dir.path());
    let classic = Buckets::new(&[1.0]).unwrap();
    let native = classic.clone().with_native(crate::core::metric::native::NativeConfig::default());
    for (reg, buckets) in [(&a, classic), (&b, native)] {
        let h = reg.register(FamilyDesc::new::<&str>("d_seconds", "h", MetricKind::Histogram, &[], Some(buckets)).unwrap()).unwrap();
        let _ = h.update(b"", Update::Observe(0.5)).unwrap();
    }
    let (t, problems) = text(&sa, &a);
    assert_eq!(value(&t, "d_seconds_count", &[]), Some(1.0), "one definition shown, not both summed");
    assert!(problems.iter().all(|p| !p.reason.contains("cells")), "no file reported damaged: {problems:?}");
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
