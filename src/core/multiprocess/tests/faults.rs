//! Races and faults: a scrape paused while others compact, files created under compaction,
//! hostile and truncated files, a damaged archive, gauges of exited processes, a name
//! re-registered with another shape.

use super::*;

/// The files of the fake exited processes 4,100,000… in `dir` (matched by their whole pid: this
/// process's own pid may start with 4 too).
fn dead_files(dir: &Path) -> usize {
    let dead = |name: &str| (4_100_000..4_100_003).any(|pid| name.starts_with(&format!("proc-{pid}-")));
    dir.read_dir().unwrap().filter(|e| dead(&e.as_ref().unwrap().file_name().to_string_lossy())).count()
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
            let archived = dead_files(dir.path());
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
    assert_eq!(dead_files(dir.path()), 0, "all compacted");
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
