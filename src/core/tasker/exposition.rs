//! Tasker's `PrometheusExporter` text: three comment lines, then counters, gauges and histograms
//! (each group by name). A family keeps the HELP text it was registered with; one without gets
//! the text Tasker derives from its name. The samples are ordinary Prometheus 0.0.4, so the
//! whole text passes `promtool check metrics`.
//!
//! Two inputs: a registry's snapshot (the native backend), or [`Entry`]s read from whatever Hash a
//! backend's `export` returned (Tasker's shape), grouped here into families so that each name
//! gets one HELP and TYPE, whatever key the backend filed its series under.

use crate::core::error::{Error, Result};
use crate::core::exposition::prometheus::encode_family_with_help;
use crate::core::exposition::FamilySnapshot;
use crate::core::labels::{render_named_pairs, validate_label_name, validate_metric_name};
use crate::core::metric::{MetricKind, Sample};
use crate::core::registry::Number;
use crate::core::tasker::help_for;
use std::sync::Arc;

/// Renders `families`; `generated` is the time for the header, `total` the count it announces
/// (`None`: the number of series). Empty when there is no series at all.
pub fn render(families: &[FamilySnapshot], generated: &str, total: Option<usize>) -> String {
    let series: usize = families.iter().map(|f| f.series.len()).sum();
    if series == 0 {
        return String::new();
    }
    let mut out = String::with_capacity(series * 96 + 128);
    out.push_str("# Tasker metrics export\n# GENERATED ");
    out.push_str(generated);
    out.push_str("\n# TOTAL_METRICS ");
    out.push_str(itoa::Buffer::new().format(total.unwrap_or(series)));
    out.push('\n');
    for kind in [MetricKind::Counter, MetricKind::Gauge, MetricKind::Histogram] {
        let mut group: Vec<&FamilySnapshot> = families.iter().filter(|f| f.kind == kind && !f.series.is_empty()).collect();
        group.sort_by(|a, b| a.name.cmp(&b.name));
        for family in group {
            let help = if family.help.is_empty() { help_for(&family.name, kind) } else { family.help.clone() };
            encode_family_with_help(&mut out, family, &help);
        }
    }
    out
}

/// One metric of a backend's `export` Hash (`{name:, type:, labels:, value:}` or, for a
/// histogram, `{buckets:, sum:, count:}`).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// `name` (not the Hash key, which Tasker builds from name and labels).
    pub name: String,
    /// `type`.
    pub kind: MetricKind,
    /// `labels`, in the order given.
    pub labels: Vec<(String, String)>,
    /// The numbers.
    pub value: EntryValue,
}

/// The numbers of an [`Entry`].
#[derive(Debug, Clone, PartialEq)]
pub enum EntryValue {
    /// A counter's or gauge's `value`.
    Number(Number),
    /// A histogram: cumulative `buckets` as `(le text, count)` (`+Inf` may be absent), `sum`,
    /// `count`.
    Histogram {
        /// `le` as the backend wrote it (`"0.5"`; `"+Inf"` for its infinite bucket) and the
        /// cumulative count.
        buckets: Vec<(String, f64)>,
        /// `sum`.
        sum: f64,
        /// `count`.
        count: f64,
    },
}

/// Renders entries as [`render`] does, a name's series forming one family.
///
/// # Errors
/// An invalid metric or label name, a name given with two types, or histogram counts that are
/// not whole, non-negative and cumulative. Nothing is rendered then.
pub fn render_entries(entries: &[Entry], generated: &str, total: usize, help: impl Fn(&str) -> Option<String>) -> Result<String> {
    let mut families: Vec<FamilySnapshot> = Vec::new();
    for entry in entries {
        let at = match families.iter().position(|f| f.name == entry.name) {
            Some(at) if families[at].kind == entry.kind => at,
            Some(at) => {
                return Err(Error::argument(format!(
                    "metric {:?} is exported both as a {} and as a {}",
                    entry.name,
                    families[at].kind.as_str(),
                    entry.kind.as_str()
                )))
            }
            None => {
                validate_metric_name(&entry.name)?;
                let le = match &entry.value {
                    EntryValue::Histogram { buckets, .. } => Some(finite_les(&entry.name, buckets)?),
                    EntryValue::Number(_) => None,
                };
                let help = help(&entry.name).unwrap_or_default();
                families.push(FamilySnapshot::named(&entry.name, &help, entry.kind, le, None));
                families.len() - 1
            }
        };
        for (label, _) in &entry.labels {
            validate_label_name(label)?;
        }
        let family = &mut families[at];
        let sample = sample(entry, family)?;
        let labels = render_named_pairs(entry.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        family.push(&labels, sample, Vec::new(), 0.0);
    }
    Ok(render(&families, generated, Some(total)))
}

fn is_inf(le: &str) -> bool {
    matches!(le, "+Inf" | "Inf" | "Infinity")
}

/// The finite `le` texts of a histogram, in ascending order.
fn finite_les(name: &str, buckets: &[(String, f64)]) -> Result<Arc<[Box<str>]>> {
    let mut les = Vec::with_capacity(buckets.len());
    for (le, _) in buckets.iter().filter(|(le, _)| !is_inf(le)) {
        match le.parse::<f64>() {
            Ok(bound) if bound.is_finite() => les.push((bound, le.as_str())),
            _ => return Err(Error::argument(format!("metric {name:?} has a bucket le={le:?} that is not a number"))),
        }
    }
    les.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(les.into_iter().map(|(_, le)| Box::from(le)).collect())
}

fn sample(entry: &Entry, family: &FamilySnapshot) -> Result<Sample> {
    let bad = |what: &str| Error::argument(format!("metric {:?} has {what}", entry.name));
    Ok(match (&entry.value, entry.kind) {
        (EntryValue::Number(Number::Int(i)), MetricKind::Counter) if *i >= 0 => Sample::Counter { int: *i as u64, float: None },
        (EntryValue::Number(n), MetricKind::Counter) => Sample::Counter { int: 0, float: Some(n.as_f64()) },
        (EntryValue::Number(n), MetricKind::Gauge) => Sample::Gauge(n.as_f64()),
        (EntryValue::Histogram { buckets, sum, count }, MetricKind::Histogram) => {
            let les = family.le.as_deref().unwrap_or_default();
            let cumulative = |le: &str| buckets.iter().find(|(l, _)| l == le).map(|(_, c)| *c);
            let mut counts = Vec::with_capacity(les.len() + 1);
            let mut previous = 0.0;
            for le in les {
                let c = cumulative(le).ok_or_else(|| bad(&format!("no bucket le={le:?} where its other series have one")))?;
                counts.push(delta(c, previous).ok_or_else(|| bad("bucket counts that are not whole, non-negative and cumulative"))?);
                previous = c;
            }
            if buckets.len() != les.len() + usize::from(buckets.iter().any(|(le, _)| is_inf(le))) {
                return Err(bad("buckets other than its family's"));
            }
            let inf = buckets.iter().find(|(le, _)| is_inf(le)).map_or(*count, |(_, c)| *c);
            counts.push(delta(inf, previous).ok_or_else(|| bad("a +Inf bucket below its other buckets"))?);
            Sample::Histogram { counts, sum: *sum, native: None }
        }
        _ => return Err(bad(&format!("a value that does not fit its type {}", entry.kind.as_str()))),
    })
}

/// `now - before` when both are whole and it is not negative.
fn delta(now: f64, before: f64) -> Option<u64> {
    (now.fract() == 0.0 && before.fract() == 0.0 && now >= before && now < 2f64.powi(63)).then_some((now - before) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::exposition::snapshot;
    use crate::core::registry::Registry;
    use crate::core::tasker::backend::{MetricsBackend, Payload};
    use std::sync::Arc;

    #[test]
    fn header_groups_and_help() {
        let b = MetricsBackend::new(Arc::new(Registry::default()));
        assert_eq!(render(&snapshot(b.registry()), "T", None), "");
        b.handle_event("task.completed", &Payload { labels: [None, None, Some(b"ok")], ..Payload::default() }).unwrap();
        b.handle_event("system.health.tick", &Payload::default()).unwrap();
        let text = render(&snapshot(b.registry()), "2026-01-01T00:00:00Z", None);
        let expected = r#"# Tasker metrics export
# GENERATED 2026-01-01T00:00:00Z
# TOTAL_METRICS 3
# HELP task_completed_total Total number of tasks processed
# TYPE task_completed_total counter
task_completed_total{status="ok"} 1
# HELP tasker_events_total Events routed to metrics, by event name
# TYPE tasker_events_total counter
tasker_events_total{event="task.completed"} 1
tasker_events_total{event="system.health.tick"} 1
"#;
        assert_eq!(text, expected);
    }

    fn counter(name: &str, labels: &[(&str, &str)], value: i64) -> Entry {
        let labels = labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Entry { name: name.into(), kind: MetricKind::Counter, labels, value: EntryValue::Number(Number::Int(value)) }
    }

    fn histogram(buckets: &[(&str, f64)], count: f64) -> Entry {
        Entry {
            name: "lat_seconds".into(),
            kind: MetricKind::Histogram,
            labels: vec![],
            value: EntryValue::Histogram { buckets: buckets.iter().map(|(l, c)| ((*l).to_owned(), *c)).collect(), sum: 1.5, count },
        }
    }

    #[test]
    fn entries_group_by_name_keep_label_order_and_take_registered_help() {
        let entries = [
            counter("jobs", &[("status", "ok"), ("handler", "A")], 2),
            Entry { name: "depth".into(), kind: MetricKind::Gauge, labels: vec![], value: EntryValue::Number(Number::Float(2.5)) },
            counter("jobs", &[("status", "err"), ("handler", "B")], 1),
            counter("tasker_events_total", &[("event", "x")], 1),
        ];
        let help = |name: &str| (name == "depth").then(|| "Queue depth".to_owned());
        let text = render_entries(&entries, "T", 9, help).unwrap();
        let expected = "# Tasker metrics export\n# GENERATED T\n# TOTAL_METRICS 9\n\
# HELP jobs Tasker counter metric: jobs\n# TYPE jobs counter\njobs{status=\"ok\",handler=\"A\"} 2\njobs{status=\"err\",handler=\"B\"} 1\n\
# HELP tasker_events_total Events routed to metrics, by event name\n# TYPE tasker_events_total counter\ntasker_events_total{event=\"x\"} 1\n\
# HELP depth Queue depth\n# TYPE depth gauge\ndepth 2.5\n";
        assert_eq!(text, expected);
        assert_eq!(render_entries(&[], "T", 0, |_| None).unwrap(), "");
    }

    #[test]
    fn histogram_entries_sort_buckets_and_add_a_missing_inf() {
        let text = render_entries(&[histogram(&[("1.0", 2.0), ("0.5", 1.0)], 3.0)], "T", 1, |_| None).unwrap();
        assert!(
            text.contains("lat_seconds_bucket{le=\"0.5\"} 1\nlat_seconds_bucket{le=\"1.0\"} 2\nlat_seconds_bucket{le=\"+Inf\"} 3\nlat_seconds_sum 1.5\nlat_seconds_count 3\n"),
            "{text}"
        );
        let inf = render_entries(&[histogram(&[("0.5", 1.0), ("Inf", 4.0)], 4.0)], "T", 1, |_| None).unwrap();
        assert!(inf.contains("lat_seconds_bucket{le=\"+Inf\"} 4\n"), "{inf}");
    }

    #[test]
    fn entries_that_cannot_be_rendered_validly_are_refused() {
        let err = |entries: &[Entry]| render_entries(entries, "T", 1, |_| None).unwrap_err().to_string();
        assert!(err(&[counter("bad name", &[], 1)]).contains("invalid metric name \"bad name\""));
        assert!(err(&[counter("ok", &[("bad-label", "x")], 1)]).contains("bad-label"));
        let gauge = Entry { kind: MetricKind::Gauge, ..counter("dual", &[], 1) };
        assert_eq!(err(&[counter("dual", &[], 1), gauge]), "metric \"dual\" is exported both as a counter and as a gauge");
        assert_eq!(err(&[histogram(&[("slow", 1.0)], 1.0)]), "metric \"lat_seconds\" has a bucket le=\"slow\" that is not a number");
        assert_eq!(
            err(&[histogram(&[("0.5", 3.0), ("1", 2.0)], 3.0)]),
            "metric \"lat_seconds\" has bucket counts that are not whole, non-negative and cumulative"
        );
        assert_eq!(
            err(&[histogram(&[("0.5", 1.5)], 2.0)]),
            "metric \"lat_seconds\" has bucket counts that are not whole, non-negative and cumulative"
        );
    }
}
