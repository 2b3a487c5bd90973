//! `TaskerMetrics::PrometheusExporter#_render`: any backend's `export[:metrics]` Hash (Tasker's
//! shape) converted into core entries and rendered as Tasker's exposition. The rules (grouping,
//! names, HELP, bucket checks) are in `core::tasker::exposition`.

use crate::core::metric::MetricKind;
use crate::core::registry::{Number, Registry};
use crate::core::tasker::exposition::{render_entries, Entry, EntryValue};
use crate::core::tasker::Amount;
use crate::ruby::convert::{describe, text};
use crate::ruby::errors::{arg_error, type_error};
use crate::ruby::errors::{rb_method, Failure};
use crate::ruby::metrics_backend::label_pairs;
use crate::ruby::payload::tasker_amount;
use magnus::{prelude::*, Error, Float, RHash, RModule, RString, Ruby, Value};

/// Looks a field up by Symbol, then by String key.
fn field(ruby: &Ruby, data: RHash, name: &str) -> Option<Value> {
    data.get(ruby.to_symbol(name)).or_else(|| data.get(name)).filter(|v| !v.is_nil())
}

fn number(metric: &str, what: &str, v: Option<Value>) -> Result<Number, Failure> {
    match v.map(tasker_amount) {
        Some(Amount::Num(n)) => Ok(n),
        Some(Amount::NotNumeric(class)) => Err(arg_error(format!("metric {metric:?} {what} must be numeric, got: {class}"))),
        None => Err(arg_error(format!("metric {metric:?} has no {what}"))),
    }
}

/// A bucket boundary as text: `+Inf` for the infinite one (Float::INFINITY, "Inf", "+Inf"),
/// numbers as Ruby writes them (`1.0`), as Tasker printed them.
fn le_text(key: Value) -> Result<String, Failure> {
    if let Some(f) = Float::from_value(key) {
        if f.to_f64().is_infinite() && f.to_f64() > 0.0 {
            return Ok("+Inf".to_owned());
        }
    }
    if let Some(t) = text(key) {
        return Ok(if matches!(t.as_str(), "Inf" | "+Inf" | "Infinity") { "+Inf".to_owned() } else { t });
    }
    Ok(key.funcall::<_, _, RString>("to_s", ())?.to_string()?)
}

fn entry(ruby: &Ruby, key: Value, data: Value) -> Result<Entry, Failure> {
    let data = RHash::from_value(data).ok_or_else(|| type_error(format!("metric data must be a Hash, got {}", describe(data))))?;
    let name = field(ruby, data, "name").or(Some(key)).and_then(text).ok_or_else(|| arg_error("metric name must be a String or Symbol"))?;
    let kind = match field(ruby, data, "type").and_then(text).as_deref() {
        Some("counter") => MetricKind::Counter,
        Some("gauge") => MetricKind::Gauge,
        Some("histogram") => MetricKind::Histogram,
        _ => return Err(arg_error(format!("metric {name:?} type must be :counter, :gauge or :histogram"))),
    };
    let labels = match field(ruby, data, "labels") {
        None => Vec::new(),
        Some(v) => label_pairs(RHash::from_value(v).ok_or_else(|| type_error(format!("metric {name:?} labels must be a Hash")))?)?,
    };
    let value = if kind == MetricKind::Histogram {
        let mut buckets = Vec::new();
        if let Some(b) = field(ruby, data, "buckets") {
            let b = RHash::from_value(b).ok_or_else(|| type_error(format!("metric {name:?} buckets must be a Hash")))?;
            crate::ruby::convert::each_pair(b, |le, count| {
                buckets.push((le_text(le)?, number(&name, "bucket count", Some(count))?.as_f64()));
                Ok(())
            })?;
        }
        let sum = number(&name, "sum", field(ruby, data, "sum"))?.as_f64();
        let count = number(&name, "count", field(ruby, data, "count"))?.as_f64();
        EntryValue::Histogram { buckets, sum, count }
    } else {
        EntryValue::Number(number(&name, "value", field(ruby, data, "value"))?)
    };
    Ok(Entry { name, kind, labels, value })
}

/// `_render(metrics, generated, total)`: Tasker's exposition of `metrics` (`{key => data}`).
fn render(ruby: &Ruby, _rb_self: Value, metrics: RHash, generated: String, total: usize) -> Result<RString, Failure> {
    let mut entries = Vec::with_capacity(metrics.len());
    crate::ruby::convert::each_pair(metrics, |key, data| {
        entries.push(entry(ruby, key, data)?);
        Ok(())
    })?;
    // A family registered in the default registry keeps its HELP text there.
    let registry = Registry::global();
    let help = |name: &str| registry.get(name).map(|f| f.desc().help.clone()).filter(|h| !h.is_empty());
    Ok(ruby.str_new(&render_entries(&entries, &generated, total, help)?))
}

pub(crate) fn init(ruby: &Ruby, module: RModule) -> Result<(), Error> {
    let class = module.define_class("PrometheusExporter", ruby.class_object())?;
    class.define_private_method("_render", rb_method!(ruby render, 3))?;
    Ok(())
}
