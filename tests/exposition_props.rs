//! Property tests: arbitrary metric names, label names, label values (any Unicode, control
//! characters included) and finite values go through both encoders, and the strict reader gives
//! every one of them back, exactly.

use proptest::prelude::*;
use tasker_metrics::core::exposition::parse::{parse, ParsedSample, Syntax};
use tasker_metrics::core::exposition::{render, snapshot, Format};
use tasker_metrics::core::labels::encode_key;
use tasker_metrics::core::metric::{Buckets, MetricKind};
use tasker_metrics::core::registry::{FamilyDesc, Number, Outcome, Registry, Update};

#[derive(Debug, Clone)]
enum Value {
    Counter(f64),
    Gauge(f64),
    Histogram(f64),
}

fn metric_name() -> impl Strategy<Value = String> {
    "[a-zA-Z_:][a-zA-Z0-9_:]{0,12}"
}

fn label_name() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9_]{0,6}".prop_filter("le is reserved on histograms", |n| n != "le")
}

fn value() -> impl Strategy<Value = Value> {
    let finite = prop::num::f64::NORMAL | prop::num::f64::SUBNORMAL | prop::num::f64::ZERO;
    prop_oneof![
        (0u32..u32::MAX).prop_map(|n| Value::Counter(f64::from(n))),
        (prop::num::f64::POSITIVE | prop::num::f64::ZERO).prop_filter("finite", |v| v.is_finite()).prop_map(Value::Counter),
        finite.prop_map(Value::Gauge),
        finite.prop_map(Value::Histogram),
    ]
}

fn find<'a>(samples: &'a [ParsedSample], name: &str, label: &(String, String)) -> Option<&'a ParsedSample> {
    samples.iter().find(|s| s.name == name && s.labels.first() == Some(label))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_value_and_label_round_trips(
        families in prop::collection::vec((metric_name(), label_name(), prop::collection::vec((any::<String>(), value()), 1..4)), 1..5)
    ) {
        let reg = Registry::default();
        let mut expected = Vec::new();
        for (i, (base, label, series)) in families.iter().enumerate() {
            // Index suffixes keep names unique and keep them from ending in _total/_bucket.
            let name = format!("{base}_{i}");
            let kind = match series[0].1 { Value::Counter(_) => MetricKind::Counter, Value::Gauge(_) => MetricKind::Gauge, Value::Histogram(_) => MetricKind::Histogram };
            let buckets = (kind == MetricKind::Histogram).then(|| Buckets::new(&[-1.0, 0.0, 1.0]).unwrap());
            let family = reg.register(FamilyDesc::new(&name, "help \\ with \"quotes\"\nand lines", kind, &[label.as_str()], buckets).unwrap()).unwrap();
            let mut seen = std::collections::HashSet::new();
            for (label_value, v) in series {
                if !seen.insert(label_value.clone()) { continue; }
                let key = encode_key(&[label_value.as_str()]);
                let (update, want) = match (kind, v) {
                    (MetricKind::Counter, Value::Counter(x)) => (Update::Increment(Number::Float(*x)), *x),
                    (MetricKind::Gauge, Value::Gauge(x)) => (Update::Set(*x), *x),
                    (MetricKind::Histogram, Value::Histogram(x)) => (Update::Observe(*x), *x),
                    _ => continue,
                };
                prop_assert_eq!(family.update(&key, update).unwrap(), Outcome::Applied);
                expected.push((name.clone(), kind, (label.clone(), label_value.clone()), want));
            }
        }
        for (syntax, format) in [(Syntax::Prometheus, Format::Prometheus), (Syntax::OpenMetrics, Format::OpenMetrics { created: true })] {
            let text = String::from_utf8(render(format, &snapshot(&reg))).unwrap();
            let samples = parse(&text, syntax).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
            for (name, kind, label, want) in &expected {
                let got = match kind {
                    // The text format shows a counter as registered; OpenMetrics adds `_total`.
                    MetricKind::Counter if syntax == Syntax::Prometheus => find(&samples, name, label).map(|s| s.value),
                    MetricKind::Counter => find(&samples, &format!("{name}_total"), label).map(|s| s.value),
                    MetricKind::Gauge => find(&samples, name, label).map(|s| s.value),
                    MetricKind::Histogram => {
                        let count = find(&samples, &format!("{name}_count"), label).map(|s| s.value);
                        prop_assert_eq!(count, Some(1.0));
                        find(&samples, &format!("{name}_sum"), label).map(|s| s.value)
                    }
                };
                prop_assert_eq!(got, Some(*want), "{} {:?} in\n{}", name, label, text);
            }
        }
    }

    #[test]
    fn invalid_names_are_refused_never_emitted(name in "\\PC{0,12}") {
        let valid = name.chars().enumerate().all(|(i, c)| c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit()))
            && !name.is_empty();
        prop_assert_eq!(FamilyDesc::new(&name, "", MetricKind::Gauge, &[] as &[&str], None).is_ok(), valid);
    }
}
