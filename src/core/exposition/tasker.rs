//! Tasker's `PrometheusExporter` text: three comment lines, then counters, gauges and histograms
//! (each group by name), every family with the HELP text Tasker derives from its name. The
//! samples are ordinary Prometheus 0.0.4, so the whole text passes `promtool check metrics`.

use super::prometheus::encode_family_with_help;
use super::FamilySnapshot;
use crate::core::metric::MetricKind;
use crate::core::tasker::help_for;

/// Renders `families`; `generated` is the ISO 8601 time for the header. Empty when there is no
/// series at all.
pub fn render(families: &[FamilySnapshot], generated: &str) -> String {
    let total: usize = families.iter().map(|f| f.series.len()).sum();
    if total == 0 {
        return String::new();
    }
    let mut out = String::with_capacity(total * 96 + 128);
    out.push_str("# Tasker metrics export\n# GENERATED ");
    out.push_str(generated);
    out.push_str("\n# TOTAL_METRICS ");
    out.push_str(itoa::Buffer::new().format(total));
    out.push('\n');
    for kind in [MetricKind::Counter, MetricKind::Gauge, MetricKind::Histogram] {
        let mut group: Vec<&FamilySnapshot> = families.iter().filter(|f| f.kind == kind && !f.series.is_empty()).collect();
        group.sort_by(|a, b| a.name.cmp(&b.name));
        for family in group {
            let exposed = if kind == MetricKind::Counter { format!("{}_total", family.name) } else { family.name.clone() };
            encode_family_with_help(&mut out, family, &help_for(&exposed, kind));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::backend::{MetricsBackend, Payload};
    use crate::core::exposition::snapshot;
    use crate::core::registry::Registry;
    use std::sync::Arc;

    #[test]
    fn header_groups_and_help() {
        let b = MetricsBackend::new(Arc::new(Registry::default()));
        assert_eq!(render(&snapshot(b.registry()), "T"), "");
        b.handle_event("task.completed", &Payload { labels: [None, None, Some(b"ok")], ..Payload::default() }).unwrap();
        b.handle_event("system.health.tick", &Payload::default()).unwrap();
        let text = render(&snapshot(b.registry()), "2026-01-01T00:00:00Z");
        let expected = r#"# Tasker metrics export
# GENERATED 2026-01-01T00:00:00Z
# TOTAL_METRICS 3
# HELP task_completed_total Total number of tasks processed
# TYPE task_completed_total counter
task_completed_total{status="ok"} 1
# HELP tasker_events_total Total number of tasks processed
# TYPE tasker_events_total counter
tasker_events_total{event="task.completed"} 1
tasker_events_total{event="system.health.tick"} 1
"#;
        assert_eq!(text, expected);
    }
}
