//! `TaskerMetrics::Registry`: registering metrics and exporting them.

use crate::core::desc::GaugeMode;
use crate::core::exposition::{self, Format};
use crate::core::metric::{Buckets, MetricKind};
use crate::core::multiprocess;
use crate::core::registry::{FamilyDesc, Registry as CoreRegistry};
use crate::ruby::convert::{self, describe};
use crate::ruby::errors::type_error;
use crate::ruby::errors::{rb_function, rb_method, Failure};
use crate::ruby::gvl::without_gvl;
use crate::ruby::metric;
use magnus::{prelude::*, scan_args, Error, RArray, RModule, RString, Ruby, Value};
use std::sync::Arc;

/// A set of metrics exported together.
#[magnus::wrap(class = "TaskerMetrics::Registry", free_immediately, size)]
pub(crate) struct Registry {
    pub(crate) inner: Arc<CoreRegistry>,
}

impl Registry {
    fn new() -> Self {
        Registry { inner: Arc::new(CoreRegistry::default()) }
    }

    fn default_registry() -> Self {
        Registry { inner: Arc::clone(CoreRegistry::global()) }
    }
}

/// `counter/gauge/histogram(name, docstring:, labels: [], buckets: ...)`
fn register(ruby: &Ruby, rb_self: &Registry, kind: MetricKind, args: &[Value]) -> Result<Value, Failure> {
    let args = scan_args::scan_args::<(Value,), (), (), (), magnus::RHash, ()>(args)?;
    let name = convert::name("name", args.required.0)?;
    type V = Option<Value>;
    const COMMON: [&str; 4] = ["labels", "unit", "max_series", "expires_after"];
    // Keywords only some kinds take: histograms' buckets and native, gauges' aggregation.
    let (docstring, (labels, unit, max_series, expires_after), (buckets, native, aggregation)) = match kind {
        MetricKind::Histogram => {
            let names = [COMMON[0], COMMON[1], COMMON[2], COMMON[3], "buckets", "native"];
            let kw = scan_args::get_kwargs::<_, (Value,), (V, V, V, V, V, V), ()>(args.keywords, &["docstring"], &names)?;
            let (l, u, m, e, b, n) = kw.optional;
            (kw.required.0, (l, u, m, e), (b, n, None))
        }
        MetricKind::Gauge => {
            let names = [COMMON[0], COMMON[1], COMMON[2], COMMON[3], "aggregation"];
            let kw = scan_args::get_kwargs::<_, (Value,), (V, V, V, V, V), ()>(args.keywords, &["docstring"], &names)?;
            let (l, u, m, e, a) = kw.optional;
            (kw.required.0, (l, u, m, e), (None, None, a))
        }
        MetricKind::Counter => {
            let kw = scan_args::get_kwargs::<_, (Value,), (V, V, V, V), ()>(args.keywords, &["docstring"], &COMMON)?;
            (kw.required.0, kw.optional, (None, None, None))
        }
    };
    let docstring = RString::from_value(docstring)
        .ok_or_else(|| type_error(format!("docstring must be a String, got {}", describe(docstring))))?
        .to_string()
        .map_err(|_| crate::ruby::errors::arg_error(format!("docstring must be valid UTF-8, got {}", describe(docstring))))?;
    let labels = labels.map_or(Ok(Vec::new()), |v| convert::names("labels", v))?;
    let bounds = match buckets.filter(|v| !v.is_nil()) {
        None => None,
        Some(v) => {
            let array =
                RArray::from_value(v).ok_or_else(|| type_error(format!("buckets must be an Array of numbers, got {}", describe(v))))?;
            Some(array.into_iter().map(|b| convert::float("bucket", b)).collect::<Result<Vec<f64>, Failure>>()?)
        }
    };
    let native = native.map(crate::ruby::histogram::native_settings).transpose()?.flatten();
    let buckets = match (bounds, native) {
        (None, None) => None,
        (Some(b), None) => Some(Buckets::new(&b)?),
        (Some(b), Some(n)) if b.is_empty() => Some(Buckets::native_only(n)),
        (Some(b), Some(n)) => Some(Buckets::new(&b)?.with_native(n)),
        (None, Some(n)) => Some(Buckets::new(&crate::core::metric::histogram::DEFAULT_BUCKETS)?.with_native(n)),
    };
    let mut desc = FamilyDesc::new(&name, &docstring, kind, &labels, buckets)?;
    if let Some(unit) = unit.filter(|u| !u.is_nil()) {
        desc = desc.with_unit(&convert::name("unit", unit)?)?;
    }
    if let Some(limit) = max_series.filter(|v| !v.is_nil()) {
        desc = desc.with_max_series(convert::count("max_series", limit)?)?;
    }
    if let Some(seconds) = expires_after.filter(|v| !v.is_nil()) {
        desc = desc.with_expires_after(convert::float("expires_after", seconds)?)?;
    }
    if let Some(mode) = aggregation.filter(|v| !v.is_nil()) {
        desc = desc.with_aggregation(GaugeMode::parse(&convert::name("aggregation", mode)?)?)?;
    }
    Ok(metric::wrap(ruby, rb_self.inner.register(desc)?))
}

fn get(ruby: &Ruby, rb_self: &Registry, name: Value) -> Result<Option<Value>, Failure> {
    let name = convert::name("name", name)?;
    Ok(rb_self.inner.get(&name).map(|f| metric::wrap(ruby, f)))
}

fn exist(rb_self: &Registry, name: Value) -> Result<bool, Failure> {
    Ok(rb_self.inner.get(&convert::name("name", name)?).is_some())
}

fn unregister(rb_self: &Registry, name: Value) -> Result<bool, Failure> {
    Ok(rb_self.inner.unregister(&convert::name("name", name)?))
}

fn metrics(ruby: &Ruby, rb_self: &Registry) -> RArray {
    ruby.ary_from_iter(rb_self.inner.families().into_iter().map(|f| metric::wrap(ruby, f)))
}

/// The format named by a Symbol: `:prometheus` (0.0.4) or `:openmetrics`.
pub(crate) fn format(v: Value, created: bool) -> Result<Format, Failure> {
    match convert::name("format", v)?.as_str() {
        "prometheus" => Ok(Format::Prometheus),
        "openmetrics" => Ok(Format::OpenMetrics { created }),
        "protobuf" => Ok(Format::Protobuf),
        other => Err(crate::ruby::errors::arg_error(format!("format must be :prometheus, :openmetrics or :protobuf, got :{other}"))),
    }
}

/// `_render(format, gzip, created)`: the exposition, rendered (and gzipped) without the GVL,
/// piece by piece (see `stream::read_whole`).
/// A gzipped or protobuf body is a binary String, a text one UTF-8.
/// `_render(format, gzip, created, names)` → `[body, problems]`, where problems are `[path, reason]`
/// pairs for multi-process files that could not be read; `names` (nil: all) selects families.
fn render(ruby: &Ruby, rb_self: &Registry, format_name: Value, gzip: bool, created: bool, names: Value) -> Result<RArray, Failure> {
    let (stream, problems) = open_stream(rb_self, format_name, gzip, created, names)?;
    let body = crate::ruby::stream::read_whole(ruby, stream)?;
    Ok(ruby.ary_new_from_values(&[body.as_value(), problems_array(ruby, problems).as_value()]))
}

/// The multi-process merge (if any), without the GVL, and a stream to render the result.
fn open_stream(
    rb_self: &Registry,
    format_name: Value,
    gzip: bool,
    created: bool,
    names: Value,
) -> Result<(exposition::stream::Stream, Vec<multiprocess::Problem>), Failure> {
    let format = format(format_name, created)?;
    let names = if names.is_nil() { None } else { Some(convert::names("names", names)?) };
    let registry = Arc::clone(&rb_self.inner);
    let (parts, problems) = without_gvl(move || multiprocess::collect_parts(&registry))?;
    Ok((exposition::stream::Stream::new(format, parts, gzip, names), problems))
}

/// `_render_stream(format, gzip, created, names)` → `[stream, problems]`: as `_render`, but the
/// body comes piece by piece from a `TaskerMetrics::ExpositionStream`. The multi-process merge
/// (if any) happens here, without the GVL; the rendering as the pieces are read.
fn render_stream(ruby: &Ruby, rb_self: &Registry, format_name: Value, gzip: bool, created: bool, names: Value) -> Result<RArray, Failure> {
    let (stream, problems) = open_stream(rb_self, format_name, gzip, created, names)?;
    let stream = crate::ruby::stream::ExpositionStream::new(stream);
    Ok(ruby.ary_new_from_values(&[ruby.obj_wrap(stream).as_value(), problems_array(ruby, problems).as_value()]))
}

/// `_merged_values(names)` → `[{name => {labels => value}}, problems]`: the named families'
/// series as every process's files merge them (this process's alone outside multi-process
/// mode), each value as `get` gives it. The merge runs without the GVL.
fn merged_values(ruby: &Ruby, rb_self: &Registry, names: Value) -> Result<RArray, Failure> {
    let names = convert::names("names", names)?;
    let registry = Arc::clone(&rb_self.inner);
    let (families, problems) =
        without_gvl(move || multiprocess::collect_named(&registry, &names.iter().map(String::as_str).collect::<Vec<_>>()))?;
    let out = ruby.hash_new();
    let mut scratch = String::new();
    for family in families {
        let bounds: Vec<f64> = family.le.as_deref().unwrap_or_default().iter().filter_map(|le| le.parse().ok()).collect();
        let values = ruby.hash_new();
        for series in &family.series {
            let labels = ruby.hash_new();
            let mut failed = None;
            exposition::protobuf::each_label(family.labels(series), &mut scratch, |k, v| {
                if let Err(e) = labels.aset(ruby.to_symbol(k), ruby.str_new(v)) {
                    failed = Some(e);
                }
            });
            if let Some(e) = failed {
                return Err(e.into());
            }
            values.aset(labels, convert::sample_with_bounds(ruby, series.sample.clone(), &bounds)?)?;
        }
        out.aset(ruby.str_new(&family.name), values)?;
    }
    Ok(ruby.ary_new_from_values(&[out.as_value(), problems_array(ruby, problems).as_value()]))
}

/// `_render_client_ruby([[name, type, help, le_texts], ...])` → `[text, problems]`: those
/// metrics in client_ruby's text format, in that order, merged across processes in
/// multi-process mode. Merge and render run without the GVL.
fn render_client_ruby(ruby: &Ruby, rb_self: &Registry, metrics: RArray) -> Result<RArray, Failure> {
    use exposition::client_ruby::{encode, Header};
    let mut headers = Vec::with_capacity(metrics.len());
    for m in metrics.into_iter() {
        let m = RArray::from_value(m).ok_or_else(|| type_error(format!("metrics must be Arrays, got {}", describe(m))))?;
        let text = |i: isize| -> Result<String, Failure> { convert::name("metric", m.entry(i)?) };
        let le = RArray::from_value(m.entry(3)?)
            .map(|a| a.into_iter().map(|v| convert::name("le", v)).collect::<Result<Vec<String>, Failure>>())
            .transpose()?;
        headers.push(Header { name: text(0)?, kind: text(1)?, help: text(2)?, le: le.unwrap_or_default() });
    }
    let registry = Arc::clone(&rb_self.inner);
    let (body, problems) = without_gvl(move || {
        let (families, problems) = multiprocess::collect_named(&registry, &headers.iter().map(|h| h.name.as_str()).collect::<Vec<_>>());
        let mut families: std::collections::HashMap<String, exposition::FamilySnapshot> =
            families.into_iter().map(|f| (f.name.clone(), f)).collect();
        let mut out = String::new();
        for h in &headers {
            encode(&mut out, h, families.remove(&h.name).as_ref());
        }
        (out, problems)
    })?;
    Ok(ruby.ary_new_from_values(&[ruby.str_new(&body).as_value(), problems_array(ruby, problems).as_value()]))
}

pub(crate) fn problems_array(ruby: &Ruby, problems: Vec<multiprocess::Problem>) -> RArray {
    ruby.ary_from_iter(problems.into_iter().map(|p| ruby.ary_new_from_values(&[ruby.str_new(&p.path), ruby.str_new(&p.reason)])))
}

/// `_enable_multiprocess(dir)`: moves the registry's values into a file in `dir`.
fn enable_multiprocess(rb_self: &Registry, dir: Value) -> Result<(), Failure> {
    let dir = convert::name("multiprocess_dir", dir)?;
    Ok(multiprocess::enable(&rb_self.inner, std::path::Path::new(&dir))?)
}

fn multiprocess_dir(rb_self: &Registry) -> Option<String> {
    multiprocess::file_store(&rb_self.inner).map(|s| s.dir().display().to_string())
}

pub(crate) fn init(ruby: &Ruby, module: RModule) -> Result<(), Error> {
    let class = module.define_class("Registry", ruby.class_object())?;
    class.define_singleton_method("new", rb_function!(Registry::new, 0))?;
    class.define_singleton_method("default", rb_function!(Registry::default_registry, 0))?;
    class.define_private_method("_merged_values", rb_method!(ruby merged_values, 1))?;
    class.define_private_method("_render_client_ruby", rb_method!(ruby render_client_ruby, 1))?;
    class.define_method("counter", rb_method!(ruby |r: &Ruby, s: &Registry, a: &[Value]| register(r, s, MetricKind::Counter, a), -1))?;
    class.define_method("gauge", rb_method!(ruby |r: &Ruby, s: &Registry, a: &[Value]| register(r, s, MetricKind::Gauge, a), -1))?;
    class
        .define_method("histogram", rb_method!(ruby |r: &Ruby, s: &Registry, a: &[Value]| register(r, s, MetricKind::Histogram, a), -1))?;
    class.define_method("get", rb_method!(ruby get, 1))?;
    class.define_method("exist?", rb_method!(exist, 1))?;
    class.define_method("unregister", rb_method!(unregister, 1))?;
    class.define_method("metrics", rb_method!(ruby metrics, 0))?;
    class.define_private_method("_render", rb_method!(ruby render, 4))?;
    class.define_private_method("_render_stream", rb_method!(ruby render_stream, 4))?;
    class.define_private_method("_enable_multiprocess", rb_method!(enable_multiprocess, 1))?;
    class.define_method("multiprocess_dir", rb_method!(multiprocess_dir, 0))?;
    module.define_singleton_method("_multiprocess_after_fork", rb_function!(multiprocess::after_fork, 0))?;
    module.define_singleton_method("_close_fork_gate", rb_function!(crate::ruby::gvl::close_fork_gate, 0))?;
    module.define_singleton_method("_fork_gate_waiters", rb_function!(crate::ruby::gvl::fork_gate_waiters, 0))?;
    module.define_singleton_method("_open_fork_gate", rb_function!(crate::ruby::gvl::open_fork_gate, 0))?;
    class.define_private_method("_disable_multiprocess", rb_method!(|s: &Registry| multiprocess::disable(&s.inner), 0))?;
    module.define_singleton_method(
        "_set_worker_identity",
        rb_function!(
            |v: Value| -> Result<(), Failure> {
                multiprocess::set_identity(&convert::name("worker_id", v)?);
                Ok(())
            },
            1
        ),
    )?;
    module.define_singleton_method(
        "_reset_multiprocess_dir",
        rb_function!(
            |dir: Value| -> Result<usize, Failure> {
                Ok(multiprocess::reset_dir(std::path::Path::new(&convert::name("multiprocess_dir", dir)?))?)
            },
            1
        ),
    )?;
    class.define_method("clear", rb_method!(|s: &Registry| s.inner.clear(), 0))?;
    module.define_singleton_method(
        "_set_default_max_series",
        rb_function!(
            |v: Value| -> Result<(), Failure> { Ok(crate::core::registry::set_default_max_series(convert::count("max_series", v)?)?) },
            1
        ),
    )?;
    module.define_singleton_method(
        "_advance_expiry_clock",
        rb_function!(
            |v: Value| -> Result<(), Failure> { Ok(crate::core::registry::advance_process_clock(convert::float("seconds", v)?)?) },
            1
        ),
    )?;
    module.define_singleton_method(
        "_set_default_expires_after",
        rb_function!(
            |v: Value| -> Result<(), Failure> {
                let seconds = if v.is_nil() { None } else { Some(convert::float("expires_after", v)?) };
                Ok(crate::core::registry::set_default_expires_after(seconds)?)
            },
            1
        ),
    )?;
    class.define_method(
        "==",
        rb_method!(|s: &Registry, o: Value| <&Registry>::try_convert(o).is_ok_and(|o| Arc::ptr_eq(&s.inner, &o.inner)), 1),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::ruby::test_support::eval;
    use rb_sys_test_helpers::ruby_test;

    #[ruby_test]
    fn registers_updates_and_exports() {
        let text: String = eval(
            r#"r = TaskerMetrics::Registry.new
               c = r.counter(:jobs_total, docstring: "Jobs", labels: [:q])
               c.increment(labels: { q: "a" })
               c.with_labels(q: "b").increment(by: 2)
               r.histogram(:lat, docstring: "L", buckets: [1]).observe(0.5)
               r.export"#,
        )
        .unwrap();
        assert!(text.contains("jobs_total{q=\"a\"} 1\n"), "{text}");
        assert!(text.contains("jobs_total{q=\"b\"} 2\n"), "{text}");
        assert!(text.contains("lat_bucket{le=\"+Inf\"} 1\n"), "{text}");
    }

    #[ruby_test(gc_stress)]
    fn survives_gc_stress_and_compaction() {
        let total: i64 = eval(
            r#"r = TaskerMetrics::Registry.new
               c = r.counter(:x_total, docstring: "x", labels: [:k])
               bound = c.with_labels(k: "held")
               200.times { |i| c.increment(labels: { k: "v#{i % 7}" }); bound.increment }
               GC.compact if GC.respond_to?(:compact)
               r.export
               c.values.values.sum * 1000 + bound.get"#,
        )
        .unwrap();
        assert_eq!(total, 400 * 1000 + 200);
    }

    /// The native settings Hash and get's native keys (a Hash of Integer keys built per read)
    /// under GC.stress.
    #[ruby_test]
    fn native_settings_and_get_survive_gc_stress() {
        let seen: String = eval(
            r#"GC.stress = true
               r = TaskerMetrics::Registry.new
               h = r.histogram(:n_seconds, docstring: "n", buckets: [], native: { "factor" => 2, max_buckets: 8 })
               [0.5, 3, -3, 0].each { |v| h.observe(v) }
               bad = begin; r.histogram(:m_seconds, docstring: "m", native: { factor: :x }); rescue TypeError => e; e.message; end
               v = h.get
               GC.stress = false
               [v[:schema], v[:positive], v[:negative], v[:zero_count], bad].inspect"#,
        )
        .unwrap();
        assert_eq!(seen, r#"[0, {-1=>1, 2=>1}, {2=>1}, 1, "native factor must be a Numeric, got Symbol (:x)"]"#);
    }

    /// The client_ruby glue: a metric object as a subclass instance sharing the family, and
    /// the merged values by name (label Hashes and samples built per read), under GC.stress.
    #[ruby_test]
    fn wrap_as_and_merged_values_survive_gc_stress() {
        let seen: String = eval(
            r#"GC.stress = true
               r = TaskerMetrics::Registry.new
               c = r.counter(:w_total, docstring: "w", labels: [:k])
               sub = Class.new(TaskerMetrics::Counter)
               view = c.__send__(:_wrap_as, sub)
               view.increment(labels: { k: "a\"b" })
               refused = begin; c.__send__(:_wrap_as, String); rescue TypeError => e; e.message; end
               h = r.histogram(:w_seconds, docstring: "h", buckets: [1])
               h.observe(0.5)
               values, problems = r.__send__(:_merged_values, ["w_total", "w_seconds", "absent"])
               text, = r.__send__(:_render_client_ruby, [["w_seconds", "histogram", "h\n", ["1"]], ["absent", "gauge", "g", nil]])
               GC.stress = false
               [view.class == sub, c.get(labels: { k: "a\"b" }), refused, values, problems, text].inspect"#,
        )
        .unwrap();
        assert_eq!(
            seen,
            r##"[true, 1, "a subclass of the metric's class is needed, got Class (String)", {"w_seconds"=>{{}=>{:buckets=>{1.0=>1, Infinity=>1}, :sum=>0.5, :count=>1}}, "w_total"=>{{:k=>"a\"b"}=>1}}, [], "# TYPE w_seconds histogram\n# HELP w_seconds h\\n\nw_seconds_bucket{le=\"1\"} 1.0\nw_seconds_bucket{le=\"+Inf\"} 1.0\nw_seconds_sum 0.5\nw_seconds_count 1.0\n# TYPE absent gauge\n# HELP absent g\n"]"##
        );
    }

    /// GC.stress only around the calls under test: loading the gem under it alone takes seconds.
    #[ruby_test]
    fn multiprocess_export_survives_gc_stress() {
        let text: String = eval(
            r#"require "tmpdir"
               dir = Dir.mktmpdir
               GC.stress = true
               r = TaskerMetrics::Registry.new
               c = r.counter(:mp_total, docstring: "x", labels: [:k])
               c.increment(by: 2, labels: { k: "before" })
               r.__send__(:_enable_multiprocess, dir)
               g = r.gauge(:mp_gauge, docstring: "g", aggregation: :max)
               10.times { |i| c.increment(labels: { k: "v#{i % 5}" }); g.set(i) }
               body, problems = r.__send__(:_render, :prometheus, false, false, nil)
               r.__send__(:_disable_multiprocess)
               GC.stress = false
               problems.empty? ? body : problems.inspect"#,
        )
        .unwrap();
        assert!(text.contains("mp_total{k=\"before\"} 2\n"), "{text}");
        assert!(text.contains("mp_total{k=\"v3\"} 2\n"), "{text}");
        assert!(text.contains("mp_gauge 9\n"), "{text}");
    }

    #[ruby_test]
    fn errors_are_ruby_exceptions() {
        let msg: String = eval(
            r#"begin
                 TaskerMetrics::Registry.new.counter(:x, docstring: "x").increment(by: -1)
               rescue ArgumentError => e
                 e.message
               end"#,
        )
        .unwrap();
        assert_eq!(msg, "invalid by: -1 (counters can only increase)");
        let class: String =
            eval(r#"begin; TaskerMetrics::Registry.new.gauge(:g, docstring: "g").set("x"); rescue => e; e.class.name; end"#).unwrap();
        assert_eq!(class, "TypeError");
    }
}
