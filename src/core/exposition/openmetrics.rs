//! OpenMetrics 1.0.0 text: counter family `foo` with sample `foo_total`, `# UNIT` when given,
//! HELP escaping `"` too, exemplars on counters and histogram buckets, optional `_created`
//! samples, and the closing `# EOF`.

use super::{escape_help, write_buckets, write_counter, write_f64, write_sample_start, write_u64, FamilySnapshot};
use crate::core::exemplar::Exemplar;
use crate::core::metric::{MetricKind, Sample};

/// Content-Type of this format.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Renders `families`, ending with `# EOF`.
pub fn render(families: &[FamilySnapshot], created: bool) -> String {
    let lines: usize = families.iter().map(|f| 3 + f.series.len() * f.le.as_ref().map_or(2, |le| le.len() + 4)).sum();
    let mut out = String::with_capacity(lines * 64 + 8);
    for family in families.iter().filter(|f| !f.series.is_empty()) {
        encode_family(&mut out, family, created);
    }
    out.push_str("# EOF\n");
    out
}

fn encode_family(out: &mut String, family: &FamilySnapshot, created: bool) {
    encode_header(out, family);
    encode_series(out, family, &family.series, created);
}

/// The HELP, TYPE and UNIT lines of a family.
pub(crate) fn encode_header(out: &mut String, family: &FamilySnapshot) {
    let name = family.family_name();
    if !family.help.is_empty() {
        out.push_str("# HELP ");
        out.push_str(name);
        out.push(' ');
        escape_help(out, &family.help, true);
        out.push('\n');
    }
    out.push_str("# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(family.kind.as_str());
    out.push('\n');
    if let Some(unit) = &family.unit {
        out.push_str("# UNIT ");
        out.push_str(name);
        out.push(' ');
        out.push_str(unit);
        out.push('\n');
    }
}

/// The samples of `series`, some or all of `family`'s.
pub(crate) fn encode_series(out: &mut String, family: &FamilySnapshot, series: &[super::SeriesSnapshot], created: bool) {
    let name = family.family_name();
    for series in series {
        let labels = family.labels(series);
        let exemplar = |i: usize| series.exemplars.get(i).and_then(Option::as_deref);
        match &series.sample {
            Sample::Counter { int, float } => {
                write_sample_start(out, name, "_total", labels, None);
                write_counter(out, *int, *float);
                end_sample(out, exemplar(0));
            }
            Sample::Gauge(v) => {
                write_sample_start(out, name, "", labels, None);
                write_f64(out, *v);
                end_sample(out, None);
            }
            Sample::Histogram { counts, sum, .. } => {
                let count = write_buckets(out, family, labels, counts, |out, i| end_sample(out, exemplar(i)));
                write_sample_start(out, name, "_count", labels, None);
                write_u64(out, count);
                end_sample(out, None);
                write_sample_start(out, name, "_sum", labels, None);
                write_f64(out, *sum);
                end_sample(out, None);
            }
        }
        if created && family.kind != MetricKind::Gauge && series.created > 0.0 {
            write_sample_start(out, name, "_created", labels, None);
            write_f64(out, series.created);
            end_sample(out, None);
        }
    }
}

#[inline]
fn end_sample(out: &mut String, exemplar: Option<&Exemplar>) {
    if let Some(e) = exemplar {
        out.push_str(" # {");
        out.push_str(e.labels());
        out.push_str("} ");
        write_f64(out, e.value());
        out.push(' ');
        write_f64(out, e.timestamp());
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::exposition::snapshot;
    use crate::core::labels::encode_key;
    use crate::core::metric::Buckets;
    use crate::core::registry::{FamilyDesc, Number, Outcome, Registry, Update};

    #[test]
    fn golden_text() {
        let reg = Registry::default();
        let c = reg.register(FamilyDesc::new("jobs_total", "Jobs \"run\"\n\\o/", MetricKind::Counter, &["queue"], None).unwrap()).unwrap();
        assert_eq!(c.update(&encode_key(&["a\"b\\c\nd"]), Update::Increment(Number::Int(3))).unwrap(), Outcome::Applied);
        let g = reg
            .register(FamilyDesc::new("temp_celsius", "", MetricKind::Gauge, &[] as &[&str], None).unwrap().with_unit("celsius").unwrap())
            .unwrap();
        assert_eq!(g.update(b"", Update::Set(-2.5)).unwrap(), Outcome::Applied);
        let h = reg
            .register(
                FamilyDesc::new("lat_seconds", "L", MetricKind::Histogram, &[] as &[&str], Some(Buckets::new(&[0.1, 1.0]).unwrap()))
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(h.update(b"", Update::Observe(0.5)).unwrap(), Outcome::Applied);
        let text = render(&snapshot(&reg), false);
        let expected = r#"# HELP jobs Jobs \"run\"\n\\o/
# TYPE jobs counter
jobs_total{queue="a\"b\\c\nd"} 3
# HELP lat_seconds L
# TYPE lat_seconds histogram
lat_seconds_bucket{le="0.1"} 0
lat_seconds_bucket{le="1.0"} 1
lat_seconds_bucket{le="+Inf"} 1
lat_seconds_count 1
lat_seconds_sum 0.5
# TYPE temp_celsius gauge
# UNIT temp_celsius celsius
temp_celsius -2.5
# EOF
"#;
        assert_eq!(text, expected);
    }

    #[test]
    fn exemplars_and_created() {
        let reg = Registry::default();
        let c = reg.register(FamilyDesc::new("hits", "H", MetricKind::Counter, &[] as &[&str], None).unwrap()).unwrap();
        assert_eq!(
            c.update_with_exemplar(b"", Update::Increment(Number::Int(1)), Exemplar::new(&[("trace_id", "abc")], 1.0).unwrap()).unwrap(),
            Outcome::Applied
        );
        let h = reg
            .register(FamilyDesc::new("lat", "L", MetricKind::Histogram, &[] as &[&str], Some(Buckets::new(&[1.0]).unwrap())).unwrap())
            .unwrap();
        assert_eq!(
            h.update_with_exemplar(b"", Update::Observe(5.0), Exemplar::new(&[("trace_id", "x")], 5.0).unwrap()).unwrap(),
            Outcome::Applied
        );
        let text = render(&snapshot(&reg), true);
        assert!(text.contains("hits_total 1 # {trace_id=\"abc\"} 1 1"), "{text}");
        assert!(text.contains("lat_bucket{le=\"1.0\"} 0\n"), "{text}");
        assert!(text.contains("lat_bucket{le=\"+Inf\"} 1 # {trace_id=\"x\"} 5 1"), "{text}");
        assert!(text.contains("\nhits_created 1"), "{text}");
        let g = reg.register(FamilyDesc::new("g", "", MetricKind::Gauge, &[] as &[&str], None).unwrap()).unwrap();
        assert!(g.update_with_exemplar(b"", Update::Set(1.0), Exemplar::new(&[], 1.0).unwrap()).is_err());
    }

    #[test]
    fn units_must_suffix_the_name() {
        let d = FamilyDesc::new("req_duration_seconds_total", "", MetricKind::Counter, &[] as &[&str], None).unwrap();
        assert!(d.clone().with_unit("seconds").is_ok());
        assert!(d.clone().with_unit("bytes").is_err());
        assert!(d.with_unit("sec-onds").is_err());
    }
}
