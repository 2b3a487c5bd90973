//! What a metric family is, independent of where its values live: name, help, type, label
//! names, buckets, unit, limits and how its gauges combine across processes. Both the registry
//! and the stores (which describe families in their files) build on this.

use crate::core::error::{Error, Result};
use crate::core::labels::{self, LabelNames};
use crate::core::metric::{Buckets, MetricKind};

/// What a family is: name, help, type, label names and (histograms) buckets.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyDesc {
    /// Metric name, validated.
    pub name: String,
    /// HELP text.
    pub help: String,
    /// Metric type.
    pub kind: MetricKind,
    /// Declared label names.
    pub labels: LabelNames,
    /// Bucket bounds, for histograms only.
    pub buckets: Option<Buckets>,
    /// Label names vary per series (Tasker's `counter(name, **labels)`); `labels` is then empty.
    pub dynamic: bool,
    /// OpenMetrics unit (`seconds`, `bytes`); the name must end with `_<unit>`.
    pub unit: Option<String>,
    /// Most series the family may hold; `None` takes [`crate::core::registry::default_max_series`] at registration.
    pub max_series: Option<usize>,
    /// Seconds without an update after which a series leaves the exposition; `None` takes
    /// [`crate::core::registry::default_expires_after`] at registration.
    pub expires_after: Option<f64>,
    /// How a gauge's values from several processes combine (multi-process mode only).
    pub aggregation: GaugeMode,
}

impl FamilyDesc {
    /// Validates a description: the name, the label names (`le` is reserved on histograms) and
    /// that buckets are given exactly for histograms.
    ///
    /// # Errors
    /// The first rule broken, naming the bad value.
    pub fn new<S: AsRef<str>>(name: &str, help: &str, kind: MetricKind, label_names: &[S], buckets: Option<Buckets>) -> Result<Self> {
        labels::validate_metric_name(name)?;
        let reserved: &[&str] = if kind == MetricKind::Histogram { &["le"] } else { &[] };
        let labels = LabelNames::new(label_names, reserved)?;
        let buckets = match (kind, buckets) {
            (MetricKind::Histogram, Some(b)) => Some(b),
            (MetricKind::Histogram, None) => Some(Buckets::new(&crate::core::metric::histogram::DEFAULT_BUCKETS)?),
            (_, None) => None,
            (_, Some(_)) => {
                return Err(Error::argument(format!("buckets are only valid for histograms, not for {} {name:?}", kind.as_str())))
            }
        };
        Ok(FamilyDesc {
            name: name.to_owned(),
            help: help.to_owned(),
            kind,
            labels,
            buckets,
            dynamic: false,
            unit: None,
            max_series: None,
            expires_after: None,
            aggregation: GaugeMode::default(),
        })
    }

    /// Sets the family's series limit.
    ///
    /// # Errors
    /// An argument error for 0.
    pub fn with_max_series(mut self, limit: usize) -> Result<Self> {
        if limit == 0 {
            return Err(Error::argument("max_series must be at least 1, got 0"));
        }
        self.max_series = Some(limit);
        Ok(self)
    }

    /// Sets the seconds without an update after which a series expires.
    ///
    /// # Errors
    /// An argument error for a value that is not finite and positive.
    pub fn with_expires_after(mut self, seconds: f64) -> Result<Self> {
        if !(seconds.is_finite() && seconds > 0.0) {
            return Err(Error::argument(format!(
                "expires_after must be a positive number of seconds, got {}",
                crate::core::metric::format_f64(seconds)
            )));
        }
        self.expires_after = Some(seconds);
        Ok(self)
    }

    /// Declares the family's unit, which its name (without a counter's `_total`) must end with.
    ///
    /// # Errors
    /// An argument error for a unit that is not `[a-zA-Z0-9_]+` or that the name does not end with.
    pub fn with_unit(mut self, unit: &str) -> Result<Self> {
        if unit.is_empty() || !unit.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(Error::argument(format!("invalid unit {unit:?}: must match [a-zA-Z0-9_]+")));
        }
        if !self.base_name().ends_with(&format!("_{unit}")) {
            return Err(Error::argument(format!("metric name {:?} must end with its unit \"_{unit}\"", self.name)));
        }
        self.unit = Some(unit.to_owned());
        Ok(self)
    }

    /// Sets how the gauge's values from several processes combine.
    ///
    /// # Errors
    /// An argument error when the family is not a gauge.
    pub fn with_aggregation(mut self, mode: GaugeMode) -> Result<Self> {
        if self.kind != MetricKind::Gauge {
            return Err(Error::argument(format!("aggregation is only valid for gauges, not for {} {:?}", self.kind.as_str(), self.name)));
        }
        self.aggregation = mode;
        Ok(self)
    }

    /// A family whose series may each carry their own label names.
    ///
    /// # Errors
    /// As [`FamilyDesc::new`].
    pub fn dynamic(name: &str, help: &str, kind: MetricKind, buckets: Option<Buckets>) -> Result<Self> {
        Ok(FamilyDesc { dynamic: true, ..FamilyDesc::new::<&str>(name, help, kind, &[], buckets)? })
    }

    /// The name of a counter without a trailing `_total`; other names unchanged.
    pub fn base_name(&self) -> &str {
        match self.kind {
            MetricKind::Counter => self.name.strip_suffix("_total").filter(|b| !b.is_empty()).unwrap_or(&self.name),
            _ => &self.name,
        }
    }

    /// Sample names this family puts in an exposition, for collision checks.
    pub(crate) fn exposed_names(&self) -> Vec<String> {
        let base = self.base_name();
        match self.kind {
            MetricKind::Counter => vec![base.to_owned(), format!("{base}_total"), format!("{base}_created")],
            MetricKind::Gauge => vec![base.to_owned()],
            MetricKind::Histogram => ["", "_bucket", "_sum", "_count", "_created"].iter().map(|s| format!("{base}{s}")).collect(),
        }
    }

    pub(crate) fn summary(&self) -> String {
        let labels = if self.dynamic { "any labels".to_owned() } else { self.labels.describe() };
        let mut s = format!("a {} with {labels}", self.kind.as_str());
        if let (MetricKind::Histogram, Some(b)) = (self.kind, &self.buckets) {
            s.push_str(&format!(" and buckets {:?}", b.bounds()));
        }
        s
    }
}

/// How a gauge's per-process values become one exposed value when several processes write to
/// one multi-process directory. Counters and histograms are always summed. "Live" modes ignore
/// processes that have exited; the others keep a dead process's last value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum GaugeMode {
    /// One series per process, told apart by a `pid` label (the worker identity when set).
    #[default]
    All,
    /// As `All`, live processes only.
    LiveAll,
    /// The sum over processes.
    Sum,
    /// The sum over live processes.
    LiveSum,
    /// The largest value.
    Max,
    /// The smallest value.
    Min,
    /// The value set last, by wall-clock time, in any process.
    MostRecent,
}

impl GaugeMode {
    /// Every mode, in the order of [`GaugeMode::as_str`]'s names.
    pub const ALL: [GaugeMode; 7] =
        [GaugeMode::All, GaugeMode::LiveAll, GaugeMode::Sum, GaugeMode::LiveSum, GaugeMode::Max, GaugeMode::Min, GaugeMode::MostRecent];

    /// The Ruby-facing name (`all`, `liveall`, `sum`, `livesum`, `max`, `min`, `mostrecent`).
    pub fn as_str(self) -> &'static str {
        match self {
            GaugeMode::All => "all",
            GaugeMode::LiveAll => "liveall",
            GaugeMode::Sum => "sum",
            GaugeMode::LiveSum => "livesum",
            GaugeMode::Max => "max",
            GaugeMode::Min => "min",
            GaugeMode::MostRecent => "mostrecent",
        }
    }

    /// Parses [`GaugeMode::as_str`]'s names.
    ///
    /// # Errors
    /// An argument error naming the bad value and the valid ones.
    pub fn parse(s: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s).ok_or_else(|| {
            Error::argument(format!("aggregation must be one of {}, got :{s}", Self::ALL.map(|m| format!(":{}", m.as_str())).join(", ")))
        })
    }

    /// Whether values of exited processes are ignored.
    pub fn live_only(self) -> bool {
        matches!(self, GaugeMode::LiveAll | GaugeMode::LiveSum)
    }

    /// Whether an exited process's value stays once its file is compacted: only where it is
    /// merged into one value (`:sum`, `:max`, `:min`, `:mostrecent`). `:all` shows an exited
    /// process's own series until then, and keeping it would leave one series per process
    /// that ever ran.
    pub fn kept_after_compaction(self) -> bool {
        matches!(self, GaugeMode::Sum | GaugeMode::Max | GaugeMode::Min | GaugeMode::MostRecent)
    }

    /// Whether a forked child keeps the gauge's value (a level) or starts from zero (a share of
    /// a sum, which the parent still holds).
    pub fn inherits_on_fork(self) -> bool {
        !matches!(self, GaugeMode::Sum | GaugeMode::LiveSum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauge_modes_round_trip_and_only_fit_gauges() {
        for m in GaugeMode::ALL {
            assert_eq!(GaugeMode::parse(m.as_str()).unwrap(), m);
        }
        assert_eq!(
            GaugeMode::parse("avg").unwrap_err().to_string(),
            "aggregation must be one of :all, :liveall, :sum, :livesum, :max, :min, :mostrecent, got :avg"
        );
        let c = FamilyDesc::new::<&str>("c_total", "", MetricKind::Counter, &[], None).unwrap();
        assert!(c.with_aggregation(GaugeMode::Max).is_err());
        let g = FamilyDesc::new::<&str>("g", "", MetricKind::Gauge, &[], None).unwrap();
        assert_eq!(g.with_aggregation(GaugeMode::Max).unwrap().aggregation, GaugeMode::Max);
    }
}
