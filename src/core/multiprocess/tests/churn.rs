//! Churn: removed series' records reused (and read right by other stores), the merge state
//! following what the files hold now.

use super::*;

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
