//! Exposition: turning a snapshot of families into text. The encoders read [`FamilySnapshot`]s
//! and never know whether the values came from this process or were merged from many. Suffixes
//! (`_total`, `_bucket`, `le="+Inf"`) belong to the encoders; stored names stay as registered.

pub mod client_ruby;
pub mod openmetrics;
/// Test-only: the tests and fuzz targets check output with it (feature `testing`).
#[cfg(any(test, feature = "testing"))]
pub mod parse;
pub mod prometheus;
pub mod protobuf;
pub mod stream;

use crate::core::metric::{MetricKind, Sample};
use crate::core::registry::{Family, Registry};
use std::sync::Arc;

/// One family as read at one instant.
#[derive(Debug, Clone)]
pub struct FamilySnapshot {
    /// Name as registered; the Prometheus text format shows it as it is, OpenMetrics takes a
    /// counter's `_total` off it (see [`FamilySnapshot::family_name`]).
    pub name: String,
    /// HELP text, unescaped.
    pub help: String,
    /// Metric type.
    pub kind: MetricKind,
    /// Rendered `le` values for histograms (without `+Inf`).
    pub le: Option<Arc<[Box<str>]>>,
    /// OpenMetrics unit.
    pub unit: Option<String>,
    /// Series in a stable order.
    pub series: Vec<SeriesSnapshot>,
    /// Every series' label text, back to back. Copied into one buffer so rendering streams
    /// through memory: with 100 000 series, chasing each series' own string missed the cache.
    pub label_text: String,
}

/// One series as read at one instant.
#[derive(Debug, Clone)]
pub struct SeriesSnapshot {
    /// Where the series' `a="x",b="y"` (escaped; empty when unlabelled) lies in its family's
    /// `label_text`: see [`FamilySnapshot::labels`].
    pub labels: std::ops::Range<usize>,
    /// The values.
    pub sample: Sample,
    /// Latest exemplars (counter: one; histogram: one per bucket); empty when none.
    pub exemplars: Vec<Option<Arc<crate::core::exemplar::Exemplar>>>,
    /// Creation time, seconds since the epoch.
    pub created: f64,
}

impl FamilySnapshot {
    /// A family with no series yet, described by `desc`.
    pub fn empty(desc: &crate::core::desc::FamilyDesc) -> Self {
        Self::named(&desc.name, &desc.help, desc.kind, desc.buckets.as_ref().map(|b| Arc::clone(b.le_values())), desc.unit.clone())
    }

    /// A family with no series yet.
    pub fn named(name: &str, help: &str, kind: MetricKind, le: Option<Arc<[Box<str>]>>, unit: Option<String>) -> Self {
        FamilySnapshot { name: name.to_owned(), help: help.to_owned(), kind, le, unit, series: Vec::new(), label_text: String::new() }
    }

    /// Reads one family.
    pub fn of(family: &Family) -> Self {
        let mut out = Self::empty(family.desc());
        let n = family.len();
        out.series.reserve(n);
        out.label_text.reserve(n * 32);
        family.visit_series(|s| {
            let created = s.created().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
            out.push(s.rendered_labels(), s.read(), s.exemplars(), created);
        });
        out
    }

    /// Appends a series with label text `labels` (escaped).
    pub fn push(&mut self, labels: &str, sample: Sample, exemplars: Vec<Option<Arc<crate::core::exemplar::Exemplar>>>, created: f64) {
        let start = self.label_text.len();
        self.label_text.push_str(labels);
        self.series.push(SeriesSnapshot { labels: start..self.label_text.len(), sample, exemplars, created });
    }

    /// The family name OpenMetrics requires: a counter's without its `_total`, whose samples
    /// carry it instead.
    pub fn family_name(&self) -> &str {
        match self.kind {
            MetricKind::Counter => self.name.strip_suffix("_total").filter(|b| !b.is_empty()).unwrap_or(&self.name),
            _ => &self.name,
        }
    }

    /// A series' label text.
    #[inline]
    pub fn labels(&self, series: &SeriesSnapshot) -> &str {
        self.label_text.get(series.labels.clone()).unwrap_or_default()
    }
}

/// Keeps the families any of `names` asks for: by the name it was registered with, its
/// OpenMetrics family name, or one of its sample names (`_total`, `_bucket`, `_sum`, `_count`,
/// `_created`), as Prometheus clients read `?name[]=`.
pub fn retain_names(families: &mut Vec<FamilySnapshot>, names: &[String]) {
    families.retain(|f| names.iter().any(|n| f.answers_to(n)));
}

impl FamilySnapshot {
    /// Whether `name` names this family or one of its samples.
    pub fn answers_to(&self, name: &str) -> bool {
        if name == self.name || name == self.family_name() {
            return true;
        }
        let suffixes: &[&str] = match self.kind {
            MetricKind::Counter => &["_total", "_created"],
            MetricKind::Gauge => &[],
            MetricKind::Histogram => &["_bucket", "_sum", "_count", "_created"],
        };
        suffixes.iter().any(|s| name.strip_suffix(s) == Some(self.family_name()))
    }
}

/// An exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0.0 text.
    OpenMetrics {
        /// Whether to add `_created` samples.
        created: bool,
    },
    /// Length-delimited `io.prometheus.client.MetricFamily` messages, with created timestamps.
    Protobuf,
}

impl Format {
    /// The Content-Type to serve it with.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => prometheus::CONTENT_TYPE,
            Format::OpenMetrics { .. } => openmetrics::CONTENT_TYPE,
            Format::Protobuf => protobuf::CONTENT_TYPE,
        }
    }
}

/// Renders `families` in `format` (text, or protobuf bytes).
pub fn render(format: Format, families: &[FamilySnapshot]) -> Vec<u8> {
    match format {
        Format::Prometheus => prometheus::render(families).into_bytes(),
        Format::OpenMetrics { created } => openmetrics::render(families, created).into_bytes(),
        Format::Protobuf => protobuf::render(families, true),
    }
}

/// Gzip at level 1: the fastest setting, which still shrinks an exposition about tenfold.
pub fn gzip(text: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(text.len() / 8 + 64), flate2::Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(text);
    enc.finish().unwrap_or_default()
}

/// Name of the counter of updates dropped because a family was full.
pub const DROPPED_TOTAL: &str = "tasker_metrics_series_dropped_total";

/// Reads every family of a registry, sorted by name, after removing expired series; adds
/// `tasker_metrics_series_dropped_total{metric=...}` when any family dropped updates.
pub fn snapshot(registry: &Registry) -> Vec<FamilySnapshot> {
    stream::Part::of_registry(registry).into_iter().map(stream::Part::read).collect()
}

/// Adds `tasker_metrics_series_dropped_total{metric=...}` for the families that dropped updates,
/// keeping `out` sorted by name.
pub fn insert_dropped<'a>(out: &mut Vec<FamilySnapshot>, counts: impl IntoIterator<Item = (&'a str, u64)>) {
    let names = crate::core::labels::LabelNames::new(&["metric"], &[]).unwrap_or_default();
    let help = "Updates dropped because their metric reached its series limit";
    let mut dropped = FamilySnapshot::named(DROPPED_TOTAL, help, MetricKind::Counter, None, None);
    for (name, n) in counts.into_iter().filter(|(_, n)| *n > 0) {
        dropped.push(&crate::core::labels::render_pairs(&names, &[name]), Sample::Counter { int: n, float: None }, Vec::new(), 0.0);
    }
    if !dropped.series.is_empty() {
        let at = out.partition_point(|f| f.name.as_str() < DROPPED_TOTAL);
        out.insert(at, dropped);
    }
}

/// Writes a sample value canonically: integers without `.0`, `+Inf`, `-Inf`, `NaN`, otherwise
/// the shortest representation that parses back to the same f64.
pub fn write_f64(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v == v.trunc() && v.abs() < 1e15 {
        out.push_str(itoa::Buffer::new().format(v as i64));
    } else {
        out.push_str(ryu::Buffer::new().format_finite(v));
    }
}

/// Writes an integer.
pub fn write_u64(out: &mut String, v: u64) {
    out.push_str(itoa::Buffer::new().format(v));
}

/// Writes a counter's value, exact while only integers were added.
pub fn write_counter(out: &mut String, int: u64, float: Option<f64>) {
    match float {
        None => write_u64(out, int),
        Some(f) => write_f64(out, int as f64 + f),
    }
}

/// Appends HELP text escaped: `\` and newline always, `"` too when `quote` (OpenMetrics).
pub fn escape_help(out: &mut String, help: &str, quote: bool) {
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// `name<suffix>{labels[,le="x"]} `: everything of a sample line before its value.
#[inline]
pub(crate) fn write_sample_start(out: &mut String, name: &str, suffix: &str, labels: &str, le: Option<&str>) {
    out.push_str(name);
    out.push_str(suffix);
    write_labels(out, labels, le.map(|v| ("le", v)));
    out.push(' ');
}

/// A histogram's `_bucket` lines, cumulative (`+Inf` last), each ended by `end(out, bucket)`;
/// returns the total count, for `_count`.
pub(crate) fn write_buckets(
    out: &mut String,
    family: &FamilySnapshot,
    labels: &str,
    counts: &[u64],
    mut end: impl FnMut(&mut String, usize),
) -> u64 {
    let le = family.le.as_deref().unwrap_or_default();
    let mut total = 0u64;
    for (i, count) in counts.iter().enumerate() {
        total = total.wrapping_add(*count);
        write_sample_start(out, &family.name, "_bucket", labels, Some(le.get(i).map_or("+Inf", |s| &**s)));
        write_u64(out, total);
        end(out, i);
    }
    total
}

/// `{labels}` or `{labels,extra}` or nothing when both are empty.
pub(crate) fn write_labels(out: &mut String, labels: &str, extra: Option<(&str, &str)>) {
    match (labels.is_empty(), extra) {
        (true, None) => {}
        (false, None) => {
            out.push('{');
            out.push_str(labels);
            out.push('}');
        }
        (empty, Some((k, v))) => {
            out.push('{');
            out.push_str(labels);
            if !empty {
                out.push(',');
            }
            out.push_str(k);
            out.push_str("=\"");
            out.push_str(v);
            out.push_str("\"}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: f64) -> String {
        let mut s = String::new();
        write_f64(&mut s, v);
        s
    }

    #[test]
    fn families_are_selected_by_any_of_their_names() {
        let fam = |name: &str, kind| FamilySnapshot::named(name, "", kind, None, None);
        let all = vec![
            fam("jobs_total", MetricKind::Counter),
            fam("hits", MetricKind::Counter),
            fam("lat_seconds", MetricKind::Histogram),
            fam("depth", MetricKind::Gauge),
        ];
        let pick = |names: &[&str]| {
            let mut families = all.clone();
            retain_names(&mut families, &names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>());
            families.into_iter().map(|f| f.name).collect::<Vec<_>>()
        };
        assert_eq!(pick(&["jobs"]), ["jobs_total"], "the OpenMetrics family name");
        assert_eq!(pick(&["jobs_total", "hits_total"]), ["jobs_total", "hits"], "registered or sample name");
        assert_eq!(pick(&["lat_seconds_bucket", "depth"]), ["lat_seconds", "depth"]);
        assert!(pick(&["depth_total", "lat", "nope"]).is_empty(), "no suffix a family does not have");
    }

    #[test]
    fn canonical_numbers() {
        assert_eq!(f(3.0), "3");
        assert_eq!(f(-0.0), "0");
        assert_eq!(f(2.5), "2.5");
        assert_eq!(f(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(f(1e21), "1e21");
        assert_eq!(f(f64::INFINITY), "+Inf");
        assert_eq!(f(f64::NEG_INFINITY), "-Inf");
        assert_eq!(f(f64::NAN), "NaN");
        let mut s = String::new();
        write_counter(&mut s, u64::MAX, None);
        assert_eq!(s, "18446744073709551615");
    }

    #[test]
    fn help_escaping() {
        let mut s = String::new();
        escape_help(&mut s, "a\\b\n\"c\"", false);
        assert_eq!(s, "a\\\\b\\n\"c\"");
        s.clear();
        escape_help(&mut s, "\"", true);
        assert_eq!(s, "\\\"");
    }
}
