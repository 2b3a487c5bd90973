//! Fuzzes the exposition: arbitrary bytes become label values (those that are UTF-8), label
//! names and numbers; whatever the core accepts must render in both formats, parse with the
//! strict reader, and give back the recorded value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tasker_metrics::core::exposition::parse::{parse, Syntax};
use tasker_metrics::core::exposition::{render, snapshot, Format};
use tasker_metrics::core::labels::encode_key;
use tasker_metrics::core::metric::MetricKind;
use tasker_metrics::core::registry::{FamilyDesc, Registry, Update};

fuzz_target!(|data: &[u8]| {
    let (head, rest) = data.split_at(data.len().min(8));
    let mut number = [0u8; 8];
    number[..head.len()].copy_from_slice(head);
    let value = f64::from_le_bytes(number);
    let mut parts = rest.split(|b| *b == 0);
    let label = parts.next().and_then(|p| std::str::from_utf8(p).ok()).unwrap_or("k");
    let label_value = parts.next().and_then(|p| std::str::from_utf8(p).ok()).unwrap_or("");

    let reg = Registry::default();
    let Ok(desc) = FamilyDesc::new("fuzz", "fuzzed \\ help\n\"", MetricKind::Gauge, &[label], None) else { return };
    let family = reg.register(desc).expect("a valid description registers");
    if family.update(&encode_key(&[label_value]), Update::Set(value)).is_err() {
        assert!(!value.is_finite() || label_value.len() > tasker_metrics::core::labels::MAX_LABEL_VALUE_BYTES);
        return;
    }
    for (format, syntax) in [(Format::Prometheus, Syntax::Prometheus), (Format::OpenMetrics { created: false }, Syntax::OpenMetrics)] {
        let text = String::from_utf8(render(format, &snapshot(&reg))).unwrap();
        let samples = parse(&text, syntax).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(samples.len(), 1);
        assert_eq!(samples[0].labels, vec![(label.to_owned(), label_value.to_owned())]);
        assert!(samples[0].value == value || (samples[0].value == 0.0 && value == 0.0));
    }
});
