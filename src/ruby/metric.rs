//! What every metric class shares: the family it wraps, label conversion, and the read-side
//! methods (`name`, `get`, `values`, `with_labels`, ...), bound per class by `bind_common!`.

use crate::core::exemplar::Exemplar;
use crate::core::labels::KeyBuf;
use crate::core::metric::MetricKind;
use crate::core::registry::{Family, Outcome, Series, Update};
use crate::ruby::convert::{self, LabelSyms, LabelValues};
use crate::ruby::errors::Failure;
use magnus::{prelude::*, Error, IntoValue, RArray, RHash, Ruby, Symbol, Value};
use rb_sys::VALUE;
use std::sync::Arc;

/// A family as seen from Ruby, with its label names interned once.
#[derive(Debug)]
pub(crate) struct MetricInner {
    pub(crate) family: Arc<Family>,
    syms: LabelSyms,
    /// The series the last labelled update went to: code that updates one label set in a loop
    /// skips hashing the key and the map's locks.
    last: GvlCell<LastHit>,
}

#[derive(Debug, Default)]
struct LastHit {
    key: Vec<u8>,
    series: Option<Arc<Series>>,
    /// The label values of that update, when all were immutable (see
    /// [`convert::LabelValues::immutable`]) and `by_identity` is set. [`MetricInner::mark`] keeps
    /// them alive and unmoved, so receiving the same objects again means receiving the same key.
    values: Vec<VALUE>,
    by_identity: bool,
}

impl LastHit {
    fn remember_values(&mut self, values: Option<&LabelValues>) {
        self.values.clear();
        self.by_identity = false;
        if let Some(v) = values.filter(|v| v.immutable()) {
            self.values.extend_from_slice(v.raw());
            self.by_identity = true;
        }
    }
}

impl MetricInner {
    pub(crate) fn new(family: Arc<Family>) -> Self {
        let syms = LabelSyms::new(&family.desc().labels);
        MetricInner { family, syms, last: GvlCell::default() }
    }

    /// Converts `labels` to a key and applies `update` to that series (creating it when needed).
    #[inline]
    pub(crate) fn update(&self, labels: Option<Value>, update: Update) -> Result<(), Failure> {
        // SAFETY: only Ruby methods call this, on a Ruby thread holding the GVL.
        let ruby = unsafe { Ruby::get_unchecked() };
        let mut found = LabelValues::new();
        let values = convert::label_values(&self.syms, labels, &mut found);
        if let Some(values) = values {
            // The same immutable objects as last time: the same series, without reading a byte.
            let hit = self.last.with(&ruby, |last| {
                let same = last.by_identity && last.values.iter().eq(values.raw());
                last.series.as_ref().filter(|s| same && !s.is_removed()).map(Arc::as_ptr)
            });
            if let Some(series) = hit {
                let update = update.check(self.family.desc().kind)?;
                // SAFETY: `last` holds this Arc until the cell is next borrowed, which needs the
                // GVL we hold; nothing below calls Ruby.
                return Ok(unsafe { &*series }.apply(update)?);
            }
        }
        self.update_by_key(&ruby, labels, values, update)
    }

    /// [`MetricInner::update`] when the label values are not the last ones by identity: builds
    /// the key, then uses the last series if the bytes match, else the family's map.
    #[inline(never)]
    fn update_by_key(&self, ruby: &Ruby, labels: Option<Value>, values: Option<&LabelValues>, update: Update) -> Result<(), Failure> {
        let kind = self.family.desc().kind;
        let mut buf = KeyBuf::new();
        match values {
            Some(v) => v.key(&self.family, &mut buf)?,
            None => convert::label_key_general(&self.family, &self.syms, labels, &mut buf)?,
        }
        let key = buf.checked(&self.family.desc().labels)?;
        let applied = self.last.with(ruby, |last| {
            let s = last.series.as_ref().filter(|s| last.key == key && !s.is_removed())?;
            let result = update.check(kind).and_then(|u| s.apply(u));
            last.remember_values(values);
            Some(result)
        });
        if let Some(result) = applied {
            return Ok(result?);
        }
        let outcome = self.family.update(key, update)?;
        if outcome == Outcome::Applied {
            let series = self.family.find(key);
            self.last.with(ruby, |last| {
                last.key.clear();
                last.key.extend_from_slice(key);
                last.series = series;
                last.remember_values(values);
            });
        }
        warn_if_first_drop(&self.family, outcome)
    }

    /// Marks the remembered label values (called by the wrapping object's mark function). Plain
    /// `rb_gc_mark` also pins them, so their addresses stay valid identities under `GC.compact`.
    pub(crate) fn mark(&self) {
        // SAFETY: GC marking runs on a Ruby thread holding the GVL.
        let ruby = unsafe { Ruby::get_unchecked() };
        self.last.with(&ruby, |last| {
            for &v in &last.values {
                // SAFETY: marking a VALUE we keep, from inside a mark function.
                unsafe { rb_sys::rb_gc_mark(v) };
            }
        });
    }

    /// [`MetricInner::update`], then the updated series' value (what client_ruby's calls
    /// return); `None` when the family was full and the update dropped. The series is the one
    /// `update` just remembered, so no second lookup.
    pub(crate) fn update_value(&self, labels: Option<Value>, update: Update) -> Result<Option<f64>, Failure> {
        let dropped = self.family.dropped();
        self.update(labels, update)?;
        if self.family.dropped() != dropped {
            return Ok(None);
        }
        // SAFETY: only Ruby methods call this, on a Ruby thread holding the GVL.
        let ruby = unsafe { Ruby::get_unchecked() };
        Ok(self.last.with(&ruby, |last| last.series.as_ref().map(|s| s.read().as_f64())))
    }

    /// [`MetricInner::update`], keeping `exemplar` (a Ruby Hash of labels) when one is given.
    pub(crate) fn update_maybe_exemplar(&self, labels: Option<Value>, update: Update, exemplar: Option<Value>) -> Result<(), Failure> {
        match exemplar {
            None => self.update(labels, update),
            Some(e) => self.update_with_exemplar(labels, update, convert::exemplar(e, update)?),
        }
    }

    /// [`MetricInner::update`] that also keeps an exemplar.
    fn update_with_exemplar(&self, labels: Option<Value>, update: Update, exemplar: Exemplar) -> Result<(), Failure> {
        let key = self.key(labels)?;
        let outcome = self.family.update_with_exemplar(key.as_bytes(), update, exemplar)?;
        warn_if_first_drop(&self.family, outcome)
    }

    fn key(&self, labels: Option<Value>) -> Result<KeyBuf, Failure> {
        let mut buf = KeyBuf::new();
        convert::label_key(&self.family, &self.syms, labels, &mut buf)?;
        buf.checked(&self.family.desc().labels)?;
        Ok(buf)
    }
}

/// State only Ruby methods touch, so the GVL serialises every access; `with` takes a [`Ruby`]
/// handle as proof that the caller holds it. The closure must not call into Ruby (which could
/// re-enter and borrow the cell twice).
#[derive(Debug, Default)]
struct GvlCell<T>(std::cell::UnsafeCell<T>);

// SAFETY: every access goes through `with`, which requires the GVL; Ruby threads holding the
// GVL never run at the same time.
unsafe impl<T: Send> Sync for GvlCell<T> {}

impl<T> GvlCell<T> {
    #[inline]
    fn with<R>(&self, _gvl: &Ruby, f: impl FnOnce(&mut T) -> R) -> R {
        // SAFETY: see the type; `f` does not call Ruby, so no second borrow can start inside it.
        f(unsafe { &mut *self.0.get() })
    }
}

/// Warns once per family when a full family starts dropping new label sets.
#[inline]
fn warn_if_first_drop(family: &Family, outcome: Outcome) -> Result<(), Failure> {
    if let Outcome::Dropped { first: true } = outcome {
        warn_dropping(family)?;
    }
    Ok(())
}

#[cold]
fn warn_dropping(family: &Family) -> Result<(), Error> {
    // SAFETY: only called from methods Ruby invoked, on a Ruby thread.
    let ruby = unsafe { Ruby::get_unchecked() };
    let message = format!(
        "tasker_metrics: metric {:?} reached its limit of {} series; updates with new label sets are dropped \
         and counted in tasker_metrics_series_dropped_total",
        family.desc().name,
        family.max_series()
    );
    // TaskerMetrics.log: Rails.logger in a Rails app, stderr elsewhere.
    let module: magnus::RModule = ruby.class_object().const_get("TaskerMetrics")?;
    module.funcall::<_, _, Value>("log", (ruby.to_symbol("warn"), message)).map(drop)
}

/// A series handle with its labels fixed.
#[derive(Debug)]
pub(crate) struct BoundInner {
    pub(crate) family: Arc<Family>,
    pub(crate) series: Arc<Series>,
}

pub(crate) fn name(m: &MetricInner) -> String {
    m.family.desc().name.clone()
}

pub(crate) fn docstring(m: &MetricInner) -> String {
    m.family.desc().help.clone()
}

pub(crate) fn kind(ruby: &Ruby, m: &MetricInner) -> Symbol {
    ruby.to_symbol(m.family.desc().kind.as_str())
}

pub(crate) fn label_names(ruby: &Ruby, m: &MetricInner) -> RArray {
    ruby.ary_from_iter(m.family.desc().labels.iter().map(|n| ruby.to_symbol(n)))
}

/// `_get(labels)`: the value without creating the series.
pub(crate) fn get(ruby: &Ruby, m: &MetricInner, labels: Option<Value>) -> Result<Value, Failure> {
    let key = m.key(labels)?;
    let desc = m.family.desc();
    convert::sample(ruby, m.family.read(key.as_bytes())?, desc.buckets.as_ref())
}

/// `values`: `{ {label: "value"} => value }` for every series.
pub(crate) fn values(ruby: &Ruby, m: &MetricInner) -> Result<RHash, Failure> {
    let desc = m.family.desc();
    let out = ruby.hash_new();
    for series in m.family.all_series() {
        let labels = convert::labels_hash(ruby, &m.family.label_pairs(&series))?;
        out.aset(labels, convert::sample(ruby, series.read(), desc.buckets.as_ref())?)?;
    }
    Ok(out)
}

/// `with_labels(**labels)`: the series, created if needed, as a handle.
pub(crate) fn bind(m: &MetricInner, args: &[Value]) -> Result<BoundInner, Failure> {
    let (pos, kw) = convert::split_kwargs(args);
    convert::arity(pos, 0, 1)?;
    let labels = pos.first().copied().or(kw.map(|h| h.as_value()));
    let key = m.key(labels)?;
    Ok(BoundInner { family: Arc::clone(&m.family), series: m.family.series(key.as_bytes())? })
}

/// `_remove(labels)`: drops one series; true if it existed.
pub(crate) fn remove(m: &MetricInner, labels: Option<Value>) -> Result<bool, Failure> {
    let key = m.key(labels)?;
    Ok(m.family.remove(key.as_bytes()))
}

pub(crate) fn inspect(m: &MetricInner, class: &str) -> String {
    let desc = m.family.desc();
    format!("#<{class} name={:?} labels={} series={}>", desc.name, desc.labels.describe(), m.family.len())
}

pub(crate) fn same(a: &MetricInner, b: Value) -> bool {
    match (
        a.family.desc().kind,
        <&crate::ruby::counter::Counter>::try_convert(b),
        <&crate::ruby::gauge::Gauge>::try_convert(b),
        <&crate::ruby::histogram::Histogram>::try_convert(b),
    ) {
        (MetricKind::Counter, Ok(o), _, _) => Arc::ptr_eq(&a.family, &o.inner.family),
        (MetricKind::Gauge, _, Ok(o), _) => Arc::ptr_eq(&a.family, &o.inner.family),
        (MetricKind::Histogram, _, _, Ok(o)) => Arc::ptr_eq(&a.family, &o.inner.family),
        _ => false,
    }
}

pub(crate) fn bound_get(ruby: &Ruby, b: &BoundInner) -> Result<Value, Failure> {
    convert::sample(ruby, b.series.read(), b.family.desc().buckets.as_ref())
}

pub(crate) fn bound_labels(ruby: &Ruby, b: &BoundInner) -> Result<RHash, Failure> {
    convert::labels_hash(ruby, &b.family.label_pairs(&b.series))
}

/// Wraps a series handle in the bound class of its family's kind.
pub(crate) fn wrap_bound(ruby: &Ruby, inner: BoundInner) -> Value {
    match inner.family.desc().kind {
        MetricKind::Counter => crate::ruby::counter::BoundCounter { inner }.into_value_with(ruby),
        MetricKind::Gauge => crate::ruby::gauge::BoundGauge { inner }.into_value_with(ruby),
        MetricKind::Histogram => crate::ruby::histogram::BoundHistogram { inner }.into_value_with(ruby),
    }
}

/// Seconds since the epoch when the series was created.
pub(crate) fn created_at(b: &BoundInner) -> f64 {
    b.series.created().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// Wraps a family in the Ruby class of its kind.
pub(crate) fn wrap(ruby: &Ruby, family: Arc<Family>) -> Value {
    match family.desc().kind {
        MetricKind::Counter => crate::ruby::counter::Counter::new(family).into_value_with(ruby),
        MetricKind::Gauge => crate::ruby::gauge::Gauge::new(family).into_value_with(ruby),
        MetricKind::Histogram => crate::ruby::histogram::Histogram::new(family).into_value_with(ruby),
    }
}

/// `_wrap_as(klass)`: the same family as an object of `klass`, a subclass of the metric's own
/// class (the client_ruby classes are such subclasses).
pub(crate) fn wrap_as(ruby: &Ruby, inner: &MetricInner, klass: Value) -> Result<Value, Failure> {
    use crate::ruby::{counter::Counter, gauge::Gauge, histogram::Histogram};
    use magnus::{typed_data::TypedData, RClass};
    let family = Arc::clone(&inner.family);
    let own = match family.desc().kind {
        MetricKind::Counter => Counter::class(ruby),
        MetricKind::Gauge => Gauge::class(ruby),
        MetricKind::Histogram => Histogram::class(ruby),
    };
    let klass = RClass::from_value(klass).filter(|k| k.is_inherited(own)).ok_or_else(|| {
        crate::ruby::errors::type_error(format!("a subclass of the metric's class is needed, got {}", convert::describe(klass)))
    })?;
    Ok(match family.desc().kind {
        MetricKind::Counter => ruby.obj_wrap_as(Counter::new(family), klass).as_value(),
        MetricKind::Gauge => ruby.obj_wrap_as(Gauge::new(family), klass).as_value(),
        MetricKind::Histogram => ruby.obj_wrap_as(Histogram::new(family), klass).as_value(),
    })
}

/// Binds the methods every metric class and every bound class share.
macro_rules! bind_common {
    ($class:expr, $t:ty, $ruby_name:literal) => {{
        use crate::ruby::errors::rb_method;
        use crate::ruby::metric;
        use magnus::Value;
        let c = $class;
        c.undef_default_alloc_func();
        c.define_method("name", rb_method!(|s: &$t| metric::name(&s.inner), 0))?;
        c.define_method("docstring", rb_method!(|s: &$t| metric::docstring(&s.inner), 0))?;
        c.define_method("type", rb_method!(ruby |r: &magnus::Ruby, s: &$t| metric::kind(r, &s.inner), 0))?;
        c.define_method("labels", rb_method!(ruby |r: &magnus::Ruby, s: &$t| metric::label_names(r, &s.inner), 0))?;
        c.define_private_method("_get", rb_method!(ruby |r: &magnus::Ruby, s: &$t, l: Option<Value>| metric::get(r, &s.inner, l), 1))?;
        c.define_method("values", rb_method!(ruby |r: &magnus::Ruby, s: &$t| metric::values(r, &s.inner), 0))?;
        c.define_private_method("_remove", rb_method!(|s: &$t, l: Option<Value>| metric::remove(&s.inner, l), 1))?;
        c.define_method("clear", rb_method!(|s: &$t| s.inner.family.clear(), 0))?;
        c.define_method("inspect", rb_method!(|s: &$t| metric::inspect(&s.inner, $ruby_name), 0))?;
        c.define_method("==", rb_method!(|s: &$t, o: Value| metric::same(&s.inner, o), 1))?;
        c.define_method("hash", rb_method!(|s: &$t| std::sync::Arc::as_ptr(&s.inner.family) as usize, 0))?;
        c.define_alias("eql?", "==")?;
        c.define_private_method(
            "_wrap_as",
            rb_method!(ruby |r: &magnus::Ruby, s: &$t, k: Value| metric::wrap_as(r, &s.inner, k), 1),
        )?;
    }};
}

/// Binds what every bound handle class shares.
macro_rules! bind_bound_common {
    ($class:expr, $t:ty) => {{
        use crate::ruby::errors::rb_method;
        use crate::ruby::metric;

        let c = $class;
        c.undef_default_alloc_func();
        c.define_method("get", rb_method!(ruby |r: &magnus::Ruby, s: &$t| metric::bound_get(r, &s.inner), 0))?;
        c.define_method("labels", rb_method!(ruby |r: &magnus::Ruby, s: &$t| metric::bound_labels(r, &s.inner), 0))?;
        c.define_method("name", rb_method!(|s: &$t| s.inner.family.desc().name.clone(), 0))?;
        c.define_private_method("_created_at", rb_method!(|s: &$t| metric::created_at(&s.inner), 0))?;
        c.define_private_method("_reset", rb_method!(|s: &$t| s.inner.series.reset(), 0))?;
        // Which series a handle writes: equal for two handles of one series while either lives.
        c.define_private_method("_series_id", rb_method!(|s: &$t| std::sync::Arc::as_ptr(&s.inner.series) as usize, 0))?;
    }};
}

pub(crate) use {bind_bound_common, bind_common};

#[cfg(test)]
mod tests {
    use crate::ruby::test_support::eval;
    use rb_sys_test_helpers::ruby_test;

    /// The last update's label values are compared by identity, so the metric keeps them alive
    /// (and unmoved) until another label set replaces them, and no longer.
    #[ruby_test]
    fn remembered_label_values_live_until_replaced() {
        let alive: Vec<bool> = eval(
            r##"require "weakref"
               c = TaskerMetrics::Registry.new.counter(:ident_total, docstring: "x", labels: [:k, :n])
               update = ->(text) { s = "#{text}-#{rand(1 << 30)}".freeze; c.increment(labels: { k: s, n: 7 }); WeakRef.new(s) }
               collect = -> { 3.times { GC.start(full_mark: true, immediate_sweep: true) } }
               kept = update.("kept")
               collect.()
               GC.compact if GC.respond_to?(:compact)
               first = kept.weakref_alive?
               c.increment(labels: { k: "other", n: 7 })
               collect.()
               [first, !!kept.weakref_alive?, c.values.values.sum == 2]"##,
        )
        .unwrap();
        assert_eq!(alive, vec![true, false, true]);
    }

    /// Under GC.stress every update's frozen String is garbage at once; a fresh one of other text
    /// must never be taken for the remembered one.
    #[ruby_test]
    fn remembered_label_values_survive_gc_stress() {
        let counts: Vec<i64> = eval(
            r#"c = TaskerMetrics::Registry.new.counter(:ident_total, docstring: "x", labels: [:k, :n])
               GC.stress = true
               60.times { |i| c.increment(labels: { k: "v#{i % 6}".freeze, n: i % 3 }) }
               GC.stress = false
               (0...6).map { |i| c.get(labels: { k: "v#{i}", n: i % 3 }) }"#,
        )
        .unwrap();
        assert_eq!(counts, vec![10; 6]);
    }
}
