//! The Prometheus text format, version 0.0.4. Every family carries the name it was registered with
//! (a counter `jobs` stays `jobs`, `jobs_total` stays `jobs_total`), as client_golang, client_ruby
//! and Tasker print it; histograms as cumulative `_bucket` lines ending in `le="+Inf"`, then `_sum`
//! and `_count`.

use super::{escape_help, write_buckets, write_counter, write_f64, write_sample_start, write_u64, FamilySnapshot};
use crate::core::metric::Sample;

/// Content-Type of this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders `families` into `out`.
pub fn encode(out: &mut String, families: &[FamilySnapshot]) {
    // A family without series says nothing a scraper can use; leaving it out also keeps a
    // refused first update from showing up as an empty family.
    for family in families.iter().filter(|f| !f.series.is_empty()) {
        encode_family(out, family);
    }
}

/// Renders families into a new String, sized from a rough estimate.
pub fn render(families: &[FamilySnapshot]) -> String {
    let lines: usize = families.iter().map(|f| 2 + f.series.len() * f.le.as_ref().map_or(1, |le| le.len() + 3)).sum();
    let mut out = String::with_capacity(lines * 64);
    encode(&mut out, families);
    out
}

/// Renders one family with its own HELP text.
pub(crate) fn encode_family(out: &mut String, family: &FamilySnapshot) {
    encode_family_with_help(out, family, &family.help);
}

/// Renders one family with `help` as its HELP text.
pub(crate) fn encode_family_with_help(out: &mut String, family: &FamilySnapshot, help: &str) {
    encode_header(out, family, help);
    encode_series(out, family, &family.series);
}

/// The HELP and TYPE lines of a family.
pub(crate) fn encode_header(out: &mut String, family: &FamilySnapshot, help: &str) {
    let name = family.name.as_str();
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    escape_help(out, help, false);
    out.push_str("\n# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(family.kind.as_str());
    out.push('\n');
}

/// The sample lines of `series`, some or all of `family`'s.
pub(crate) fn encode_series(out: &mut String, family: &FamilySnapshot, series: &[super::SeriesSnapshot]) {
    let name = family.name.as_str();
    for series in series {
        let labels = family.labels(series);
        match &series.sample {
            Sample::Counter { int, float } => {
                write_sample_start(out, name, "", labels, None);
                write_counter(out, *int, *float);
                out.push('\n');
            }
            Sample::Gauge(v) => {
                write_sample_start(out, name, "", labels, None);
                write_f64(out, *v);
                out.push('\n');
            }
            Sample::Histogram { counts, sum, .. } => {
                let count = write_buckets(out, family, labels, counts, |out, _| out.push('\n'));
                write_sample_start(out, name, "_sum", labels, None);
                write_f64(out, *sum);
                out.push('\n');
                write_sample_start(out, name, "_count", labels, None);
                write_u64(out, count);
                out.push('\n');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::exposition::snapshot;
    use crate::core::labels::encode_key;
    use crate::core::metric::{Buckets, MetricKind};
    use crate::core::registry::{FamilyDesc, Number, Registry};

    #[test]
    fn golden_text() {
        let reg = Registry::default();
        let c = reg
            .register(FamilyDesc::new("jobs_total", "Jobs run.\nAll of them \\o/", MetricKind::Counter, &["queue"], None).unwrap())
            .unwrap();
        c.series(&encode_key(&["a\"b\\c\nd"])).unwrap().increment(Number::Int(3)).unwrap();
        c.series(&encode_key(&["ünï"])).unwrap().increment(Number::Float(1.5)).unwrap();
        let g = reg.register(FamilyDesc::new("temp", "Temp", MetricKind::Gauge, &[] as &[&str], None).unwrap()).unwrap();
        g.series(b"").unwrap().set(-2.5).unwrap();
        let h = reg
            .register(
                FamilyDesc::new("lat_seconds", "Latency", MetricKind::Histogram, &["m"], Some(Buckets::new(&[0.1, 1.0]).unwrap())).unwrap(),
            )
            .unwrap();
        let s = h.series(&encode_key(&["get"])).unwrap();
        for v in [0.05, 0.5, 3.0] {
            s.observe(v).unwrap();
        }
        let expected = r#"# HELP jobs_total Jobs run.\nAll of them \\o/
# TYPE jobs_total counter
jobs_total{queue="a\"b\\c\nd"} 3
jobs_total{queue="ünï"} 1.5
# HELP lat_seconds Latency
# TYPE lat_seconds histogram
lat_seconds_bucket{m="get",le="0.1"} 1
lat_seconds_bucket{m="get",le="1.0"} 2
lat_seconds_bucket{m="get",le="+Inf"} 3
lat_seconds_sum{m="get"} 3.55
lat_seconds_count{m="get"} 3
# HELP temp Temp
# TYPE temp gauge
temp -2.5
"#;
        assert_eq!(render(&snapshot(&reg)), expected);
    }

    #[test]
    fn drops_are_exported_per_metric() {
        let reg = Registry::default();
        let fam =
            reg.register(FamilyDesc::new("capped", "c", MetricKind::Gauge, &["k"], None).unwrap().with_max_series(1).unwrap()).unwrap();
        for v in ["a", "b", "c"] {
            let _ = fam.update(&encode_key(&[v]), crate::core::registry::Update::Set(1.0)).unwrap();
        }
        let text = render(&snapshot(&reg));
        assert!(
            text.contains("# TYPE tasker_metrics_series_dropped_total counter\ntasker_metrics_series_dropped_total{metric=\"capped\"} 2\n"),
            "{text}"
        );
    }

    #[test]
    fn counters_keep_the_name_they_were_registered_with() {
        let reg = Registry::default();
        let c = reg.register(FamilyDesc::new("requests", "R", MetricKind::Counter, &[] as &[&str], None).unwrap()).unwrap();
        c.series(b"").unwrap().increment(Number::Int(1)).unwrap();
        assert_eq!(render(&snapshot(&reg)), "# HELP requests R\n# TYPE requests counter\nrequests 1\n");
        let om = crate::core::exposition::openmetrics::render(&snapshot(&reg), false);
        assert_eq!(om, "# HELP requests R\n# TYPE requests counter\nrequests_total 1\n# EOF\n", "OpenMetrics: family bare, sample _total");
    }
}
