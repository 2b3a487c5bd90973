//! Ruby value ⇄ core type conversions. The hot path (`label_key`, `number`) reads Ruby values in
//! place and copies label bytes into a stack [`KeyBuf`]; it allocates no Ruby object.

use crate::core::labels::{self, KeyBuf, LabelNames};
use crate::core::metric::{histogram::cumulate, Buckets, Sample};
use crate::core::registry::{Family, Number};
use crate::ruby::errors::Failure;
use crate::ruby::errors::{arg_error, type_error};
use magnus::rb_sys::{AsRawValue, FromRawValue};
use magnus::{prelude::*, r_hash::ForEach, Fixnum, Float, Integer, RArray, RClass, RHash, RModule, RString, Ruby, Symbol, Value};
use once_cell::sync::OnceCell;
use rb_sys::VALUE;

/// A static Symbol's VALUE. Static symbols are immediates that are never collected or moved, so
/// keeping the raw VALUE in Rust memory is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StaticSym(VALUE);

impl StaticSym {
    /// The raw VALUE, for identity comparisons.
    #[inline]
    pub(crate) fn raw(self) -> VALUE {
        self.0
    }

    pub(crate) fn new(name: &str) -> Self {
        // SAFETY: plain symbol-table calls on a Ruby thread; `rb_intern2` makes the symbol static.
        StaticSym(unsafe { rb_sys::rb_id2sym(rb_sys::rb_intern2(name.as_ptr().cast(), name.len() as _)) })
    }

    /// Looks this symbol up in `hash` without calling Ruby code.
    #[inline]
    pub(crate) fn lookup(self, hash: RHash) -> Option<Value> {
        // SAFETY: hashing and comparing a static Symbol key runs no Ruby-level code, so this cannot
        // raise; the returned VALUE stays alive because `hash` references it.
        let v = unsafe { rb_sys::rb_hash_lookup2(hash.as_raw(), self.0, rb_sys::Qundef as VALUE) };
        (v != rb_sys::Qundef as VALUE).then(|| unsafe { Value::from_raw(v) })
    }
}

macro_rules! static_sym {
    ($fn:ident, $name:literal) => {
        #[inline]
        pub(crate) fn $fn() -> StaticSym {
            static CELL: OnceCell<StaticSym> = OnceCell::new();
            *CELL.get_or_init(|| StaticSym::new($name))
        }
    };
}
static_sym!(sym_by, "by");

/// `Class (inspect)`, shortened, for messages. Never raises, even if `inspect` does.
pub(crate) fn describe(v: Value) -> String {
    // SAFETY: the class name is copied out immediately.
    let class = unsafe { v.classname() }.into_owned();
    let mut shown = v.funcall::<_, _, RString>("inspect", ()).ok().and_then(|s| s.to_string().ok()).unwrap_or_else(|| "?".to_owned());
    if shown.len() > 80 {
        let cut = (0..=80).rev().find(|i| shown.is_char_boundary(*i)).unwrap_or(0);
        shown.truncate(cut);
        shown.push('…');
    }
    format!("{class} ({shown})")
}

/// Splits trailing keyword arguments off a `-1` arity argument list.
#[inline]
pub(crate) fn split_kwargs(args: &[Value]) -> (&[Value], Option<RHash>) {
    // SAFETY: queried inside a method call made by Ruby.
    if unsafe { rb_sys::rb_keyword_given_p() } != 0 {
        if let Some((last, rest)) = args.split_last() {
            if let Some(h) = RHash::from_value(*last) {
                return (rest, Some(h));
            }
        }
    }
    (args, None)
}

/// Reads the keywords a hot method accepts; anything else is `ArgumentError: unknown keyword`.
#[inline]
pub(crate) fn take_kwargs<const N: usize>(kw: Option<RHash>, names: [StaticSym; N]) -> Result<[Option<Value>; N], Failure> {
    let mut out = [None; N];
    if let Some(h) = kw {
        let mut found = 0;
        for (slot, sym) in out.iter_mut().zip(names) {
            *slot = sym.lookup(h);
            found += usize::from(slot.is_some());
        }
        if h.len() != found {
            return Err(unknown_keyword(h, &names));
        }
    }
    Ok(out)
}

#[cold]
fn unknown_keyword(h: RHash, known: &[StaticSym]) -> Failure {
    let mut unknown = Vec::new();
    let _ = h.foreach(|k: Value, _: Value| {
        if !known.iter().any(|s| s.0 == k.as_raw()) {
            unknown.push(k.funcall::<_, _, String>("inspect", ()).unwrap_or_else(|_| describe(k)));
        }
        Ok(ForEach::Continue)
    });
    arg_error(format!("unknown keyword: {}", unknown.join(", ")))
}

/// Visits a Hash's pairs in order; the first failure stops the walk and is what it returns.
pub(crate) fn each_pair(hash: RHash, mut f: impl FnMut(Value, Value) -> Result<(), Failure>) -> Result<(), Failure> {
    let mut failed = None;
    hash.foreach(|k: Value, v: Value| {
        Ok(match f(k, v) {
            Ok(()) => ForEach::Continue,
            Err(e) => {
                failed = Some(e);
                ForEach::Stop
            }
        })
    })?;
    failed.map_or(Ok(()), Err)
}

/// Requires exactly `n` positional arguments.
#[inline]
pub(crate) fn arity(args: &[Value], min: usize, max: usize) -> Result<(), Failure> {
    if args.len() < min || args.len() > max {
        let expected = if min == max { min.to_string() } else { format!("{min}..{max}") };
        return Err(arg_error(format!("wrong number of arguments (given {}, expected {expected})", args.len())));
    }
    Ok(())
}

/// An ActiveSupport notification, as a listener's `call(name, started, finished, id, payload)`
/// receives it.
#[derive(Clone, Copy)]
pub(crate) struct Notification {
    pub(crate) name: Value,
    pub(crate) started: Value,
    pub(crate) finished: Value,
    pub(crate) payload: Value,
}

impl Notification {
    /// Reads the five arguments of `call`.
    pub(crate) fn from_args(args: &[Value]) -> Result<Self, Failure> {
        arity(args, 5, 5)?;
        Ok(Notification { name: args[0], started: args[1], finished: args[2], payload: args[4] })
    }
}

/// A Ruby number as a core [`Number`]: Integers that fit stay exact, Bignums, Rationals and other
/// Numerics become Float. `arg` names the argument in errors.
#[inline]
pub(crate) fn number(arg: &str, v: Value) -> Result<Number, Failure> {
    if let Some(i) = Fixnum::from_value(v) {
        return Ok(Number::Int(i.to_i64()));
    }
    if let Some(f) = Float::from_value(v) {
        return Ok(Number::Float(f.to_f64()));
    }
    number_slow(arg, v)
}

#[cold]
fn number_slow(arg: &str, v: Value) -> Result<Number, Failure> {
    if let Some(i) = Integer::from_value(v) {
        return Ok(match i.to_i64() {
            Ok(n) => Number::Int(n),
            Err(_) => Number::Float(i.funcall::<_, _, f64>("to_f", ())?),
        });
    }
    // SAFETY: on a Ruby thread inside a method call.
    let ruby = unsafe { Ruby::get_unchecked() };
    if v.is_kind_of(ruby.class_numeric()) && !v.is_kind_of(ruby.class_complex()) {
        let f: f64 = v.funcall("to_f", ()).map_err(|_| type_error(format!("{arg} must be a real number, got {}", describe(v))))?;
        return Ok(Number::Float(f));
    }
    Err(type_error(format!("{arg} must be a Numeric, got {}", describe(v))))
}

/// A Ruby number as f64 (see [`number`]).
#[inline]
pub(crate) fn float(arg: &str, v: Value) -> Result<f64, Failure> {
    number(arg, v).map(Number::as_f64)
}

/// A positive Integer (a count or limit).
pub(crate) fn count(arg: &str, v: Value) -> Result<usize, Failure> {
    let i = Integer::from_value(v).ok_or_else(|| type_error(format!("{arg} must be an Integer, got {}", describe(v))))?;
    i.to_u64()
        .ok()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| arg_error(format!("{arg} must be a positive Integer, got {}", describe(v))))
}

/// Runs `f` on the text of a String or Symbol, borrowed (no copy). `f` must not call Ruby.
#[inline]
pub(crate) fn with_text<R>(v: Value, f: impl FnOnce(&str) -> R) -> Option<R> {
    if let Some(s) = RString::from_value(v) {
        // SAFETY: the bytes are only read by `f`, which runs no Ruby code, while `v` is alive.
        return unsafe { str_text(s) }.map(f);
    }
    let name = Symbol::from_value(v)?.name().ok()?;
    Some(f(&name))
}

/// A String's bytes as UTF-8 text, `None` when they are not. Strings Ruby knows to be ASCII (it
/// keeps that in the String's flags once scanned) are not validated again.
///
/// # Safety
/// The text borrows the String's buffer: no Ruby code may run while it is in use.
#[inline]
pub(crate) unsafe fn str_text<'a>(s: RString) -> Option<&'a str> {
    // SAFETY: the caller keeps Ruby from running; the coderange query never raises or allocates.
    unsafe {
        let bytes: &'a [u8] = &*std::ptr::from_ref(s.as_slice());
        if rb_sys::rb_enc_str_coderange(s.as_raw()) == rb_sys::ruby_coderange_type::RUBY_ENC_CODERANGE_7BIT as std::ffi::c_int {
            Some(std::str::from_utf8_unchecked(bytes))
        } else {
            std::str::from_utf8(bytes).ok()
        }
    }
}

/// The text of a String or Symbol (`None` for other types and for invalid UTF-8).
#[inline]
pub(crate) fn text(v: Value) -> Option<String> {
    with_text(v, str::to_owned)
}

/// A Symbol or String as a Rust String.
pub(crate) fn name(arg: &str, v: Value) -> Result<String, Failure> {
    if let Some(t) = text(v) {
        return Ok(t);
    }
    if RString::from_value(v).is_some() || Symbol::from_value(v).is_some() {
        return Err(arg_error(format!("{arg} must be valid UTF-8, got {}", describe(v))));
    }
    Err(type_error(format!("{arg} must be a String or Symbol, got {}", describe(v))))
}

/// An Array of Symbols or Strings.
pub(crate) fn names(arg: &str, v: Value) -> Result<Vec<String>, Failure> {
    let array =
        RArray::from_value(v).ok_or_else(|| type_error(format!("{arg} must be an Array of Symbols or Strings, got {}", describe(v))))?;
    array.into_iter().map(|item| name(arg, item)).collect()
}

/// The static Symbols of a family's label names, so label hashes can be probed without allocating.
#[derive(Debug, Clone)]
pub(crate) struct LabelSyms(Box<[StaticSym]>);

impl LabelSyms {
    pub(crate) fn new(names: &LabelNames) -> Self {
        LabelSyms(names.iter().map(StaticSym::new).collect())
    }
}

/// Families with at most this many labels have their values looked up into a stack array.
pub(crate) const FAST_LABELS: usize = 8;

/// The values of a label set, found under the declared names' Symbols, in declared order.
pub(crate) struct LabelValues {
    raw: [VALUE; FAST_LABELS],
    len: usize,
}

impl LabelValues {
    pub(crate) fn new() -> Self {
        LabelValues { raw: [rb_sys::Qnil as VALUE; FAST_LABELS], len: 0 }
    }

    /// The values' raw VALUEs, for identity comparisons.
    #[inline]
    pub(crate) fn raw(&self) -> &[VALUE] {
        &self.raw[..self.len]
    }

    /// True when no value's text can ever change: frozen Strings, Symbols and Fixnums. The same
    /// objects, kept alive and unmoved since, then always make the same key.
    #[inline]
    pub(crate) fn immutable(&self) -> bool {
        self.raw().iter().all(|&v| {
            // SAFETY: type and flag checks on live values (the caller's Hash references them).
            unsafe {
                rb_sys::FIXNUM_P(v)
                    || rb_sys::STATIC_SYM_P(v)
                    || (!rb_sys::SPECIAL_CONST_P(v)
                        && (rb_sys::RB_DYNAMIC_SYM_P(v)
                            || (rb_sys::RB_TYPE_P(v, rb_sys::ruby_value_type::RUBY_T_STRING) && Value::from_raw(v).is_frozen())))
            }
        })
    }

    /// Fills `buf` with the key these values make.
    #[inline]
    pub(crate) fn key(&self, family: &Family, buf: &mut KeyBuf) -> Result<(), Failure> {
        for (&v, name) in self.raw().iter().zip(family.desc().labels.iter()) {
            // SAFETY: the VALUE came from a live Hash during this method call.
            push_value(buf, name, unsafe { Value::from_raw(v) })?;
        }
        Ok(())
    }
}

/// Looks `labels` up as values in declared order when it is exactly the declared Symbol keys (or
/// nil for a family without labels) and there are at most [`FAST_LABELS`]; `None` for anything
/// else, which [`label_key`] handles or explains. Fills `out` in place (returning the array by
/// value showed up as a store-forwarding stall).
#[inline(always)]
pub(crate) fn label_values<'a>(syms: &LabelSyms, labels: Option<Value>, out: &'a mut LabelValues) -> Option<&'a LabelValues> {
    out.len = 0;
    let Some(v) = labels else {
        return syms.0.is_empty().then_some(out);
    };
    let hash = RHash::from_value(v)?;
    if hash.len() != syms.0.len() || syms.0.len() > FAST_LABELS {
        return None;
    }
    for (slot, sym) in out.raw.iter_mut().zip(syms.0.iter()) {
        *slot = sym.lookup(hash)?.as_raw();
    }
    out.len = syms.0.len();
    Some(out)
}

/// Fills `buf` with the key of the label set `labels` (`None` = no labels given).
#[inline]
pub(crate) fn label_key(family: &Family, syms: &LabelSyms, labels: Option<Value>, buf: &mut KeyBuf) -> Result<(), Failure> {
    match label_values(syms, labels, &mut LabelValues::new()) {
        Some(values) => values.key(family, buf),
        None => label_key_general(family, syms, labels, buf),
    }
}

/// [`label_key`] once [`label_values`] gave `None`: a missing or non-Hash argument, more than
/// [`FAST_LABELS`] labels, String keys or a wrong set.
pub(crate) fn label_key_general(family: &Family, syms: &LabelSyms, labels: Option<Value>, buf: &mut KeyBuf) -> Result<(), Failure> {
    let names = &family.desc().labels;
    let hash = match labels {
        None => {
            return if names.is_empty() { Ok(()) } else { Err(missing_labels(family)) };
        }
        Some(v) => RHash::from_value(v).ok_or_else(|| type_error(format!("labels must be a Hash, got {}", describe(v))))?,
    };
    // With fewer labels `label_values` already tried these lookups.
    if syms.0.len() > FAST_LABELS && hash.len() == syms.0.len() {
        let mut all = true;
        for (sym, name) in syms.0.iter().zip(names.iter()) {
            match sym.lookup(hash) {
                Some(v) => push_value(buf, name, v)?,
                None => {
                    all = false;
                    break;
                }
            }
        }
        if all {
            return Ok(());
        }
        *buf = KeyBuf::new();
    }
    label_key_slow(family, hash, buf)
}

#[cold]
fn missing_labels(family: &Family) -> Failure {
    let desc = family.desc();
    labels::mismatch(&desc.name, &desc.labels, "no labels given".to_owned()).into()
}

/// String keys, mixed keys, or a wrong label set: walk the hash and say exactly what is wrong.
#[cold]
fn label_key_slow(family: &Family, hash: RHash, buf: &mut KeyBuf) -> Result<(), Failure> {
    let desc = family.desc();
    let mut given: Vec<(String, Value)> = Vec::with_capacity(hash.len());
    let mut bad_name = None;
    hash.foreach(|k: Value, v: Value| {
        Ok(match name("label name", k) {
            Ok(key) => {
                given.push((key, v));
                ForEach::Continue
            }
            Err(e) => {
                bad_name = Some(e);
                ForEach::Stop
            }
        })
    })?;
    // A repeated or unknown name before the bad key (in hash order) is reported first.
    let names: Vec<&str> = given.iter().map(|(k, _)| k.as_str()).collect();
    let order = labels::match_names(&desc.name, &desc.labels, &names)?;
    if let Some(e) = bad_name {
        return Err(e);
    }
    for (label, slot) in desc.labels.iter().zip(order) {
        match slot {
            Some(i) => push_value(buf, label, given[i].1)?,
            None => return Err(labels::missing(&desc.name, &desc.labels, label).into()),
        }
    }
    Ok(())
}

#[inline]
fn push_value(buf: &mut KeyBuf, label: &str, v: Value) -> Result<(), Failure> {
    match LabelText::of(v)? {
        Some(text) => {
            text.with_bytes(|b| buf.push(b));
            Ok(())
        }
        None => Err(type_error(format!(
            "label {label:?} value must be a String, Symbol, Integer, true, false or a named Class, got {}",
            describe(v)
        ))),
    }
}

/// A label value's text, by the one rule every entry point shares: a String as it is, a Symbol
/// by name, an Integer in decimal, `true`/`false`, a named Class or Module by its name. Values
/// with no such text (nil, Floats, Hashes, anonymous Classes, ...) are `None`, and each caller
/// says what that means: the registry API raises `TypeError`, a Tasker event payload has no such
/// label, and Tasker's `MetricsBackend` falls back to `to_s` as Tasker's own interpolation did.
pub(crate) enum LabelText {
    /// A String's own bytes, or a Symbol's frozen name String.
    Ruby(RString),
    Int(i64),
    Owned(String),
}

impl LabelText {
    #[inline(always)]
    pub(crate) fn of(v: Value) -> Result<Option<LabelText>, Failure> {
        if let Some(s) = RString::from_value(v) {
            return Ok(Some(LabelText::Ruby(s)));
        }
        if let Some(i) = Fixnum::from_value(v) {
            return Ok(Some(LabelText::Int(i.to_i64())));
        }
        Self::of_other(v)
    }

    #[inline(never)]
    fn of_other(v: Value) -> Result<Option<LabelText>, Failure> {
        if Symbol::from_value(v).is_some() {
            // SAFETY: `rb_sym2str` returns the Symbol's own frozen name, kept alive by the Symbol.
            let name = unsafe { Value::from_raw(rb_sys::rb_sym2str(v.as_raw())) };
            return Ok(RString::from_value(name).map(LabelText::Ruby));
        }
        let raw = v.as_raw();
        if raw == rb_sys::Qtrue as VALUE || raw == rb_sys::Qfalse as VALUE || Integer::from_value(v).is_some() {
            return Ok(Some(LabelText::Owned(v.funcall("to_s", ())?)));
        }
        if RClass::from_value(v).is_some() || RModule::from_value(v).is_some() {
            let name: Option<String> = v.funcall("name", ())?;
            return Ok(name.map(LabelText::Owned));
        }
        Ok(None)
    }

    /// Calls `f` with the text's bytes (no Ruby call may happen inside `f`).
    #[inline(always)]
    pub(crate) fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            // SAFETY: the String is alive (the caller holds the value) and `f` calls no Ruby.
            LabelText::Ruby(s) => f(unsafe { s.as_slice() }),
            LabelText::Int(i) => f(itoa::Buffer::new().format(*i).as_bytes()),
            LabelText::Owned(s) => f(s.as_bytes()),
        }
    }

    /// The text as an owned Rust String; `None` when a String's bytes are not valid UTF-8.
    pub(crate) fn into_string(self) -> Option<String> {
        match self {
            LabelText::Ruby(s) => s.to_string().ok(),
            LabelText::Int(i) => Some(i.to_string()),
            LabelText::Owned(s) => Some(s),
        }
    }
}

/// A sample as Ruby: counters Integer (Float once a Float was added), gauges Float, histograms
/// `{buckets: {le => cumulative count, ..., Float::INFINITY => count}, sum:, count:}`, native
/// ones with `schema:, zero_threshold:, zero_count:, positive: {index => count}, negative:` too.
pub(crate) fn sample(ruby: &Ruby, sample: Sample, buckets: Option<&Buckets>) -> Result<Value, Failure> {
    sample_with_bounds(ruby, sample, buckets.map_or(&[][..], Buckets::bounds))
}

/// As [`sample`], a histogram's buckets given by their upper bounds (`+Inf` aside).
pub(crate) fn sample_with_bounds(ruby: &Ruby, sample: Sample, bounds: &[f64]) -> Result<Value, Failure> {
    Ok(match sample {
        Sample::Counter { int, float: None } => ruby.integer_from_u64(int).as_value(),
        Sample::Counter { int, float: Some(f) } => ruby.float_from_f64(int as f64 + f).as_value(),
        Sample::Gauge(v) => ruby.float_from_f64(v).as_value(),
        Sample::Histogram { mut counts, sum, native } => {
            cumulate(&mut counts);
            let bucket_hash = ruby.hash_new();
            for (i, count) in counts.iter().enumerate() {
                bucket_hash.aset(bounds.get(i).copied().unwrap_or(f64::INFINITY), *count)?;
            }
            let out = ruby.hash_new();
            out.aset(ruby.to_symbol("buckets"), bucket_hash)?;
            out.aset(ruby.to_symbol("sum"), sum)?;
            out.aset(ruby.to_symbol("count"), counts.last().copied().unwrap_or(0))?;
            if let Some(n) = native {
                out.aset(ruby.to_symbol("schema"), i64::from(n.schema))?;
                out.aset(ruby.to_symbol("zero_threshold"), n.zero_threshold)?;
                out.aset(ruby.to_symbol("zero_count"), n.zero_count)?;
                for (name, side) in [("positive", &n.positive), ("negative", &n.negative)] {
                    let h = ruby.hash_new();
                    for (i, c) in side {
                        h.aset(*i, *c)?;
                    }
                    out.aset(ruby.to_symbol(name), h)?;
                }
            }
            out.as_value()
        }
    })
}

/// An exemplar from a Hash of labels (`{trace_id: "..."}`), carrying the update's value.
pub(crate) fn exemplar(v: Value, update: crate::core::registry::Update) -> Result<crate::core::exemplar::Exemplar, Failure> {
    use crate::core::registry::Update;
    let hash = RHash::from_value(v).ok_or_else(|| type_error(format!("exemplar must be a Hash of labels, got {}", describe(v))))?;
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(hash.len());
    each_pair(hash, |k, x| {
        let value = if Fixnum::from_value(x).is_some() { x.funcall::<_, _, String>("to_s", ())? } else { name("exemplar label value", x)? };
        pairs.push((name("exemplar label name", k)?, value));
        Ok(())
    })?;
    let value = match update {
        Update::Increment(n) => n.as_f64(),
        Update::Observe(v) | Update::Set(v) | Update::Decrement(v) => v,
    };
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, x)| (k.as_str(), x.as_str())).collect();
    Ok(crate::core::exemplar::Exemplar::new(&refs, value)?)
}

/// Labels as a Hash with Symbol keys.
pub(crate) fn labels_hash(ruby: &Ruby, pairs: &[(&str, &str)]) -> Result<RHash, Failure> {
    let h = ruby.hash_new();
    for (name, value) in pairs {
        h.aset(ruby.to_symbol(name), ruby.str_new(value))?;
    }
    Ok(h)
}

/// The Rust value inside `v`, checked without `rb_protect` (which magnus' `&T` conversion pays on
/// every call). Our classes have no allocator, so a receiver of the right class is always one we
/// wrapped; anything else gets a TypeError instead of a raise from inside Ruby.
#[inline]
pub(crate) fn this<'a, T: magnus::TypedData>(v: Value) -> Result<&'a T, Failure> {
    let data_type = T::data_type() as *const magnus::DataType as *const rb_sys::rb_data_type_t;
    // SAFETY: `DataType` is `repr(transparent)` over `rb_data_type_t`; `rb_typeddata_is_kind_of`
    // never raises. Once it said yes, `rb_check_typeddata` cannot raise either and returns the
    // pointer magnus stored when wrapping a `T`, valid while the receiver lives (the whole call).
    unsafe {
        let raw = v.as_raw();
        // Exactly our type (every call from our own methods): read the pointer in place.
        if !rb_sys::SPECIAL_CONST_P(raw)
            && rb_sys::RB_TYPE_P(raw, rb_sys::ruby_value_type::RUBY_T_DATA)
            && rb_sys::RTYPEDDATA_P(raw)
            && std::ptr::eq(rb_sys::RTYPEDDATA_TYPE(raw), data_type)
        {
            if let Some(this) = (rb_sys::RTYPEDDATA_GET_DATA(raw) as *const T).as_ref() {
                return Ok(this);
            }
        }
        if rb_sys::rb_typeddata_is_kind_of(raw, data_type) == 0 {
            return Err(type_error(format!("expected a {}, got {}", std::any::type_name::<T>(), describe(v))));
        }
        let ptr = rb_sys::rb_check_typeddata(raw, data_type) as *const T;
        ptr.as_ref().ok_or_else(|| type_error("object is not initialised"))
    }
}
