//! Tasker's metric-type rules (`MetricTypes::Counter/Gauge/Histogram`): the checks and the exact
//! error messages of the Tasker contract, and the HELP texts its exporter derives from names.
//! The values themselves live in ordinary series, so these are a second face of the same core.

use crate::core::error::{Error, Result};
use crate::core::labels::LabelNames;
use crate::core::metric::{format_f64, Buckets, MetricKind, Sample};
use crate::core::registry::{Family, FamilyDesc, Number, Series, Update};
use std::sync::Arc;

/// Raised for a nil, empty or blank name.
pub const NAME_EMPTY: &str = "Metric name cannot be nil or empty";

/// An argument as the glue found it: a number, or the class name of something that is not one.
#[derive(Debug, Clone, PartialEq)]
pub enum Amount {
    /// A real number.
    Num(Number),
    /// Not a Numeric; carries the class name for the message.
    NotNumeric(String),
}

fn show(n: Number) -> String {
    match n {
        Number::Int(i) => i.to_string(),
        Number::Float(f) => format_f64(f),
    }
}

fn numeric(amount: Amount, what: &str) -> Result<Number> {
    match amount {
        Amount::Num(n) if n.as_f64().is_finite() => Ok(n),
        Amount::Num(n) => Err(Error::argument(format!("{what} must be finite, got: {}", show(n)))),
        Amount::NotNumeric(class) => Err(Error::argument(format!("{what} must be numeric, got: {class}"))),
    }
}

/// Checks a name: present and not blank.
///
/// # Errors
/// [`NAME_EMPTY`].
pub fn check_name(name: Option<&str>) -> Result<&str> {
    match name {
        Some(n) if !n.trim().is_empty() => Ok(n),
        _ => Err(Error::argument(NAME_EMPTY)),
    }
}

/// A stand-alone series for `MetricTypes::X.new(name, ...)`: never registered or exported.
///
/// # Errors
/// [`NAME_EMPTY`], or Tasker's messages for a bad initial value.
pub fn standalone(
    name: Option<&str>,
    kind: MetricKind,
    buckets: Option<Buckets>,
    initial: Option<Amount>,
) -> Result<(Arc<Family>, Arc<Series>)> {
    let name = check_name(name)?;
    let initial = initial.map(|a| numeric(a, "Initial value")).transpose()?;
    let buckets = match (kind, buckets) {
        (MetricKind::Histogram, None) => Some(Buckets::new(&crate::core::metric::histogram::DEFAULT_BUCKETS)?),
        (_, b) => b,
    };
    let desc = FamilyDesc {
        name: name.to_owned(),
        help: String::new(),
        kind,
        labels: LabelNames::default(),
        buckets,
        dynamic: true,
        unit: None,
        max_series: None,
        expires_after: None,
        aggregation: Default::default(),
    };
    let (family, series) = Family::detached(desc)?;
    if let Some(v) = initial {
        series.set(v.as_f64())?;
    }
    Ok((family, series))
}

/// Tasker's bucket rules: a non-empty Array of finite Numerics, sorted and de-duplicated.
///
/// # Errors
/// `Buckets must be an array`, `Buckets cannot be empty`, or a message naming the bad element.
pub fn buckets(given: Option<Vec<Amount>>) -> Result<Buckets> {
    let given = given.ok_or_else(|| Error::argument("Buckets must be an array"))?;
    if given.is_empty() {
        return Err(Error::argument("Buckets cannot be empty"));
    }
    let bounds = given.into_iter().map(|a| numeric(a, "Bucket").map(Number::as_f64)).collect::<Result<Vec<f64>>>()?;
    Buckets::normalized(&bounds)
}

/// `Counter#increment(amount)`: returns the new value.
///
/// # Errors
/// Tasker's messages; nothing changes.
pub fn counter_increment(series: &Series, amount: Amount) -> Result<Sample> {
    let n = numeric(amount, "Counter increment amount")?;
    if n.as_f64() < 0.0 {
        return Err(Error::argument(format!("Counter increment amount must be positive, got: {}", show(n))));
    }
    series.apply(Update::Increment(n))?;
    Ok(series.read())
}

/// `Gauge#set(value)`: returns the value.
///
/// # Errors
/// Tasker's messages; nothing changes.
pub fn gauge_set(series: &Series, value: Amount) -> Result<f64> {
    series.set(numeric(value, "Gauge value")?.as_f64())
}

/// `Gauge#increment(amount)`: returns the new value.
///
/// # Errors
/// Tasker's messages; nothing changes.
pub fn gauge_increment(series: &Series, amount: Amount) -> Result<f64> {
    let n = numeric(amount, "Gauge increment amount")?;
    series.apply(Update::Increment(Number::Float(n.as_f64())))?;
    Ok(series.read().as_f64())
}

/// `Gauge#decrement(amount)`: returns the new value. A negative amount is refused.
///
/// # Errors
/// Tasker's messages; nothing changes.
pub fn gauge_decrement(series: &Series, amount: Amount) -> Result<f64> {
    let n = numeric(amount, "Gauge decrement amount")?;
    if n.as_f64() < 0.0 {
        return Err(Error::argument(format!("Gauge decrement amount must be positive, got: {}", show(n))));
    }
    series.decrement(n.as_f64())
}

/// `Histogram#observe(value)`: returns the value.
///
/// # Errors
/// Tasker's messages; nothing changes.
pub fn histogram_observe(series: &Series, value: Amount) -> Result<f64> {
    series.observe(numeric(value, "Observed value")?.as_f64())
}

/// Name of the counter every routed event increments (beyond Tasker).
pub const EVENTS_TOTAL: &str = "tasker_events_total";

/// Name of the counter of failed Tasker exports (Tasker's fallback exposition).
pub const EXPORT_ERRORS_TOTAL: &str = "tasker_metrics_export_errors_total";

/// Name of the counter of increments `MetricTypes::Counter` refused softly (returned `false`).
pub const REFUSED_INCREMENTS_TOTAL: &str = "tasker_metrics_refused_increments_total";

/// HELP texts of the metrics the gem keeps about itself, which Tasker's name patterns must not
/// touch (`tasker_events_total` matches Tasker's `/task.*total/`).
pub const OWN_HELP: &[(&str, &str)] = &[
    (EVENTS_TOTAL, "Events routed to metrics, by event name"),
    (EXPORT_ERRORS_TOTAL, "Tasker metrics exports that failed, by error class"),
    (REFUSED_INCREMENTS_TOTAL, "Counter increments refused because the amount was not an Integer, by metric"),
];

/// The HELP text of a metric in Tasker's exporter: the gem's own text for its own metrics, else
/// Tasker's text for the first pattern the name matches.
pub fn help_for(name: &str, kind: MetricKind) -> String {
    if let Some((_, help)) = OWN_HELP.iter().find(|(own, _)| *own == name) {
        return (*help).to_owned();
    }
    // Each pattern is Tasker's `/a.*b/`: `a` somewhere, then `b` somewhere after it.
    const PATTERNS: &[(&str, &str, &str)] = &[
        ("task", "total", "Total number of tasks processed"),
        ("task", "duration", "Task execution duration in seconds"),
        ("step", "total", "Total number of steps executed"),
        ("step", "duration", "Step execution duration in seconds"),
        ("workflow", "total", "Total number of workflow orchestrations"),
        ("event", "total", "Total number of events published"),
        ("error", "total", "Total number of errors encountered"),
        ("queue", "size", "Current queue size"),
        ("active", "connections", "Number of active connections"),
    ];
    let matches = |a: &str, b: &str| name.find(a).is_some_and(|i| name[i + a.len()..].contains(b));
    PATTERNS
        .iter()
        .find(|(a, b, _)| matches(a, b))
        .map_or_else(|| format!("Tasker {} metric: {name}", kind.as_str()), |(_, _, help)| (*help).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_rules_and_messages() {
        let (_, s) = standalone(Some("c"), MetricKind::Counter, None, None).unwrap();
        assert_eq!(counter_increment(&s, Amount::Num(Number::Int(2))).unwrap(), Sample::Counter { int: 2, float: None });
        assert_eq!(
            counter_increment(&s, Amount::Num(Number::Int(-1))).unwrap_err().to_string(),
            "Counter increment amount must be positive, got: -1"
        );
        assert_eq!(
            counter_increment(&s, Amount::NotNumeric("String".into())).unwrap_err().to_string(),
            "Counter increment amount must be numeric, got: String"
        );
        assert!(counter_increment(&s, Amount::Num(Number::Float(f64::NAN))).is_err());
        assert_eq!(s.read().as_f64(), 2.0);
    }

    #[test]
    fn names_and_gauges() {
        for bad in [None, Some(""), Some("   ")] {
            assert_eq!(standalone(bad, MetricKind::Gauge, None, None).unwrap_err().to_string(), NAME_EMPTY);
        }
        assert!(standalone(Some("not.a.prometheus-name"), MetricKind::Gauge, None, None).is_ok());
        let err = standalone(Some("g"), MetricKind::Gauge, None, Some(Amount::NotNumeric("String".into()))).unwrap_err();
        assert_eq!(err.to_string(), "Initial value must be numeric, got: String");
        let (_, g) = standalone(Some("g"), MetricKind::Gauge, None, Some(Amount::Num(Number::Int(10)))).unwrap();
        assert_eq!(gauge_increment(&g, Amount::Num(Number::Float(-2.5))).unwrap(), 7.5);
        assert_eq!(
            gauge_decrement(&g, Amount::Num(Number::Int(-5))).unwrap_err().to_string(),
            "Gauge decrement amount must be positive, got: -5"
        );
        assert_eq!(
            gauge_set(&g, Amount::NotNumeric("NilClass".into())).unwrap_err().to_string(),
            "Gauge value must be numeric, got: NilClass"
        );
    }

    #[test]
    fn bucket_rules() {
        assert_eq!(buckets(None).unwrap_err().to_string(), "Buckets must be an array");
        assert_eq!(buckets(Some(vec![])).unwrap_err().to_string(), "Buckets cannot be empty");
        let b = buckets(Some(vec![Amount::Num(Number::Int(5)), Amount::Num(Number::Float(1.0)), Amount::Num(Number::Int(5))])).unwrap();
        assert_eq!(b.bounds(), &[1.0, 5.0]);
        assert!(buckets(Some(vec![Amount::NotNumeric("String".into())])).is_err());
    }

    #[test]
    fn help_patterns_in_order() {
        assert_eq!(help_for("task_completed_total", MetricKind::Counter), "Total number of tasks processed");
        assert_eq!(help_for("task_duration_seconds", MetricKind::Histogram), "Task execution duration in seconds");
        assert_eq!(help_for("step_failed_total", MetricKind::Counter), "Total number of steps executed");
        assert_eq!(help_for("tasker_events_total", MetricKind::Counter), "Events routed to metrics, by event name", "the gem's own");
        assert_eq!(help_for("my_task_events_total", MetricKind::Counter), "Total number of tasks processed");
        assert_eq!(help_for("system_healthy_tasks", MetricKind::Gauge), "Tasker gauge metric: system_healthy_tasks");
        assert_eq!(help_for("queue_size", MetricKind::Gauge), "Current queue size");
    }
}
