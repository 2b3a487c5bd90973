//! Reads an event payload Hash in one pass (`rb_hash_foreach`, no Ruby calls, no objects
//! created) into the core's [`Payload`]. Keys may be Symbols or Strings. Label values that need
//! Ruby to become text (a Class, a Rational) are converted after the walk, before any borrowed
//! string bytes are taken, so no Ruby code runs while the core reads those bytes.

use crate::core::registry::Number;
use crate::core::tasker::backend::{Payload, LABEL_KEYS, NUMBER_KEYS};
use crate::core::tasker::Amount;
use crate::ruby::convert::{self, LabelText, StaticSym};
use crate::ruby::errors::Failure;
use magnus::rb_sys::{AsRawValue, FromRawValue};
use magnus::{prelude::*, Fixnum, Float, RHash, RString, Symbol, Value};
use once_cell::sync::OnceCell;
use rb_sys::VALUE;
use std::ffi::c_int;

const KEYS: usize = LABEL_KEYS.len() + NUMBER_KEYS.len();

fn key_syms() -> &'static [StaticSym; KEYS] {
    static SYMS: OnceCell<[StaticSym; KEYS]> = OnceCell::new();
    SYMS.get_or_init(|| std::array::from_fn(|i| StaticSym::new(key_name(i))))
}

fn key_name(i: usize) -> &'static str {
    if i < LABEL_KEYS.len() {
        LABEL_KEYS[i].0
    } else {
        NUMBER_KEYS[i - LABEL_KEYS.len()]
    }
}

struct Walk {
    syms: &'static [StaticSym; KEYS],
    found: [Option<VALUE>; KEYS],
}

unsafe extern "C" fn visit(key: VALUE, value: VALUE, arg: VALUE) -> c_int {
    // SAFETY: `arg` is the `Walk` that `read` passes and keeps alive for the whole iteration.
    let walk = unsafe { &mut *(arg as *mut Walk) };
    // SAFETY: `key` is a live VALUE handed to us by Ruby for this callback.
    let key_value = unsafe { Value::from_raw(key) };
    let slot = if Symbol::from_value(key_value).is_some() {
        walk.syms.iter().position(|s| s.raw() == key)
    } else if let Some(s) = RString::from_value(key_value) {
        // SAFETY: only compared, nothing runs meanwhile.
        let bytes = unsafe { s.as_slice() };
        (0..KEYS).find(|i| key_name(*i).as_bytes() == bytes)
    } else {
        None
    };
    if let Some(i) = slot {
        walk.found[i] = Some(value);
    }
    rb_sys::st_retval::ST_CONTINUE as c_int
}

/// Text of a label value: borrowed from a String or Symbol, owned for other types.
enum Text {
    Ruby(RString),
    Owned(Vec<u8>),
}

/// Payload label values and numbers read from a Hash; borrow it as a core [`Payload`].
pub(crate) struct Read {
    labels: [Option<Text>; LABEL_KEYS.len()],
    numbers: [Option<Amount>; NUMBER_KEYS.len()],
}

/// Walks `hash` once.
#[inline(always)]
pub(crate) fn read(hash: RHash) -> Result<Read, Failure> {
    let mut walk = Walk { syms: key_syms(), found: [None; KEYS] };
    // SAFETY: `visit` only reads keys and values and never raises; `walk` outlives the call.
    unsafe { rb_sys::rb_hash_foreach(hash.as_raw(), Some(visit), &mut walk as *mut Walk as VALUE) };
    let mut out = Read { labels: [None, None, None], numbers: Default::default() };
    for (i, found) in walk.found.iter().enumerate() {
        // SAFETY: values found in the hash, which keeps them alive.
        let Some(v) = found.map(|v| unsafe { Value::from_raw(v) }) else { continue };
        if i < LABEL_KEYS.len() {
            out.labels[i] = label_text(v)?;
        } else {
            out.numbers[i - LABEL_KEYS.len()] = amount(v);
        }
    }
    Ok(out)
}

impl Read {
    /// The core view (numbers are moved out). String bytes are borrowed: call nothing in Ruby
    /// while it is alive.
    #[inline(always)]
    pub(crate) fn payload(&mut self) -> Payload<'_> {
        let [duration, execution_duration, active_task_count, iteration_duration, healthy_task_count, failed_task_count] =
            std::mem::take(&mut self.numbers);
        Payload {
            labels: std::array::from_fn(|i| {
                self.labels[i].as_ref().map(|t| match t {
                    // SAFETY: the String is referenced by the payload Hash the caller holds, and
                    // no Ruby code runs while the core reads these bytes.
                    Text::Ruby(s) => unsafe { s.as_slice() },
                    Text::Owned(b) => b.as_slice(),
                })
            }),
            duration,
            execution_duration,
            active_task_count,
            iteration_duration,
            healthy_task_count,
            failed_task_count,
        }
    }
}

/// A payload value as label text ([`LabelText`]'s rule); `None` (no such label) when it has none.
fn label_text(v: Value) -> Result<Option<Text>, Failure> {
    Ok(LabelText::of(v)?.map(|t| match t {
        LabelText::Ruby(s) => Text::Ruby(s),
        LabelText::Int(i) => Text::Owned(itoa::Buffer::new().format(i).as_bytes().to_vec()),
        LabelText::Owned(s) => Text::Owned(s.into_bytes()),
    }))
}

/// A value as a number, or the class name of what it is instead.
fn amount(v: Value) -> Option<Amount> {
    if v.is_nil() {
        return None;
    }
    if let Some(i) = Fixnum::from_value(v) {
        return Some(Amount::Num(Number::Int(i.to_i64())));
    }
    if let Some(f) = Float::from_value(v) {
        return Some(Amount::Num(Number::Float(f.to_f64())));
    }
    Some(convert::number("value", v).map_or_else(|_| Amount::NotNumeric(class_name(v)), Amount::Num))
}

/// The class name of `v`.
pub(crate) fn class_name(v: Value) -> String {
    // SAFETY: the name is copied out at once.
    unsafe { v.classname() }.into_owned()
}

/// An argument as a Tasker [`Amount`] (any Numeric, or the class name of a non-Numeric).
pub(crate) fn tasker_amount(v: Value) -> Amount {
    amount(v).unwrap_or_else(|| Amount::NotNumeric("NilClass".to_owned()))
}
