//! Names and labels: the Prometheus naming rules, declared label sets, and the byte key that
//! identifies a series. The key is the label values in declared order, each followed by `0xFF`, a
//! byte that never occurs in UTF-8, so the encoding is unambiguous and needs no escaping. Keys are
//! built in a stack buffer, so a lookup that hits allocates nothing.

use crate::core::error::{Error, Result};

/// Separator after each label value in a series key; never part of valid UTF-8.
pub const KEY_SEPARATOR: u8 = 0xFF;

/// The longest label value accepted, in bytes. Longer values are refused, so no single update
/// can make a series (or a scrape) arbitrarily large.
pub const MAX_LABEL_VALUE_BYTES: usize = 16 * 1024;

fn check_value_len(label: &str, value: &[u8]) -> Result<()> {
    if value.len() > MAX_LABEL_VALUE_BYTES {
        return Err(Error::InvalidLabelValue {
            label: label.to_owned(),
            reason: format!("{} bytes long, more than the {MAX_LABEL_VALUE_BYTES} allowed", value.len()),
        });
    }
    Ok(())
}

/// Checks a metric name against `[a-zA-Z_:][a-zA-Z0-9_:]*`.
///
/// # Errors
/// [`Error::InvalidMetricName`] naming the value.
pub fn validate_metric_name(name: &str) -> Result<()> {
    let mut bytes = name.bytes();
    let ok = match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':' => bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':'),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidMetricName(name.to_owned()))
    }
}

/// Checks a label name against `[a-zA-Z_][a-zA-Z0-9_]*` and the reserved `__` prefix.
///
/// # Errors
/// [`Error::InvalidLabelName`] naming the value and the rule.
pub fn validate_label_name(name: &str) -> Result<()> {
    let mut bytes = name.bytes();
    let ok = match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' => bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_'),
        _ => false,
    };
    if !ok {
        return Err(Error::InvalidLabelName(name.to_owned(), "must match [a-zA-Z_][a-zA-Z0-9_]*"));
    }
    if name.starts_with("__") {
        return Err(Error::InvalidLabelName(name.to_owned(), "names starting with __ are reserved"));
    }
    Ok(())
}

/// The validated, ordered label names a metric family declares.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelNames(Box<[Box<str>]>);

impl LabelNames {
    /// Validates names; `reserved` lists names the metric type keeps for itself (`le`).
    ///
    /// # Errors
    /// [`Error::InvalidLabelName`] for a bad, reserved or duplicated name.
    pub fn new<S: AsRef<str>>(names: &[S], reserved: &[&str]) -> Result<Self> {
        let mut out: Vec<Box<str>> = Vec::with_capacity(names.len());
        for name in names {
            let name = name.as_ref();
            validate_label_name(name)?;
            if reserved.contains(&name) {
                return Err(Error::InvalidLabelName(name.to_owned(), "reserved for this metric type"));
            }
            if out.iter().any(|n| &**n == name) {
                return Err(Error::InvalidLabelName(name.to_owned(), "declared twice"));
            }
            out.push(name.into());
        }
        Ok(LabelNames(out.into_boxed_slice()))
    }

    /// Number of declared labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when the family has no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The names in declared order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|s| &**s)
    }

    /// Position of `name` among the declared names.
    pub fn position(&self, name: &[u8]) -> Option<usize> {
        self.0.iter().position(|n| n.as_bytes() == name)
    }

    /// `a, b` or `no labels`, for messages.
    pub fn describe(&self) -> String {
        if self.0.is_empty() {
            "no labels".to_owned()
        } else {
            self.0.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ")
        }
    }
}

const INLINE_KEY: usize = 256;

/// Builds a series key without touching the heap for label values up to 256 bytes in total.
pub struct KeyBuf {
    /// Left uninitialised past `len`: zeroing 256 bytes showed up in every labelled update.
    inline: [std::mem::MaybeUninit<u8>; INLINE_KEY],
    len: usize,
    heap: Vec<u8>,
    count: usize,
    /// Index of the first value that contained the separator byte (so it cannot be UTF-8).
    poisoned: Option<usize>,
}

impl Default for KeyBuf {
    fn default() -> Self {
        Self::new()
    }
}

impl KeyBuf {
    /// An empty key.
    pub fn new() -> Self {
        KeyBuf { inline: [const { std::mem::MaybeUninit::uninit() }; INLINE_KEY], len: 0, heap: Vec::new(), count: 0, poisoned: None }
    }

    /// Appends the next label value (in declared order).
    #[inline]
    pub fn push(&mut self, value: &[u8]) {
        // Branch-free scan: label values are short, and a memchr call costs more than it saves.
        if self.poisoned.is_none() && value.iter().fold(false, |hit, b| hit | (*b == KEY_SEPARATOR)) {
            self.poisoned = Some(self.count);
        }
        self.push_unchecked(value);
    }

    /// Appends a value known not to contain the separator (a validated label name).
    #[inline]
    pub fn push_name(&mut self, name: &str) {
        self.push_unchecked(name.as_bytes());
    }

    #[inline]
    fn push_unchecked(&mut self, value: &[u8]) {
        self.count += 1;
        if self.heap.is_empty() && self.len + value.len() < INLINE_KEY {
            // SAFETY: `len + value.len() < INLINE_KEY` (checked), so the copy and the separator
            // stay inside `inline`; the regions cannot overlap (`value` is borrowed elsewhere).
            unsafe { std::ptr::copy_nonoverlapping(value.as_ptr(), self.inline.as_mut_ptr().add(self.len).cast::<u8>(), value.len()) };
            self.len += value.len();
            self.inline[self.len] = std::mem::MaybeUninit::new(KEY_SEPARATOR);
            self.len += 1;
            return;
        }
        if self.heap.is_empty() {
            let inline = self.inline_bytes();
            let mut heap = Vec::with_capacity(inline.len() + value.len() + 1);
            heap.extend_from_slice(inline);
            self.heap = heap;
        }
        self.heap.extend_from_slice(value);
        self.heap.push(KEY_SEPARATOR);
    }

    fn inline_bytes(&self) -> &[u8] {
        // SAFETY: the first `len` bytes of `inline` were written by `push_unchecked`.
        unsafe { std::slice::from_raw_parts(self.inline.as_ptr().cast::<u8>(), self.len) }
    }

    /// The encoded key.
    pub fn as_bytes(&self) -> &[u8] {
        if self.heap.is_empty() {
            self.inline_bytes()
        } else {
            &self.heap
        }
    }

    /// The key, or an error naming the label whose value held a byte that UTF-8 never uses
    /// (and that would otherwise be read as a separator).
    ///
    /// # Errors
    /// [`Error::InvalidLabelValue`] naming the label.
    #[inline]
    pub fn checked(&self, names: &LabelNames) -> Result<&[u8]> {
        match self.poisoned {
            None => Ok(self.as_bytes()),
            Some(i) => {
                Err(Error::InvalidLabelValue { label: names.iter().nth(i).unwrap_or("?").to_owned(), reason: "not valid UTF-8".to_owned() })
            }
        }
    }

    /// How many values were pushed.
    pub fn count(&self) -> usize {
        self.count
    }
}

/// Encodes label values (already in declared order) into an owned key.
pub fn encode_key<S: AsRef<[u8]>>(values: &[S]) -> Box<[u8]> {
    let mut key = Vec::with_capacity(values.iter().map(|v| v.as_ref().len() + 1).sum());
    for v in values {
        key.extend_from_slice(v.as_ref());
        key.push(KEY_SEPARATOR);
    }
    key.into_boxed_slice()
}

/// Splits a key back into its values. Fails when a value is not UTF-8 or the count is wrong.
///
/// # Errors
/// [`Error::InvalidLabelValue`] or [`Error::LabelMismatch`] naming the label.
pub fn decode_key<'k>(metric: &str, names: &LabelNames, key: &'k [u8]) -> Result<Vec<&'k str>> {
    if names.is_empty() {
        return if key.is_empty() { Ok(Vec::new()) } else { Err(mismatch(metric, names, "label values given".to_owned())) };
    }
    let mut values = Vec::with_capacity(names.len());
    let mut parts = key.split(|b| *b == KEY_SEPARATOR);
    for name in names.iter() {
        let part = match parts.next() {
            Some(p) => p,
            None => return Err(mismatch(metric, names, format!("missing label {name:?}"))),
        };
        check_value_len(name, part)?;
        let value = std::str::from_utf8(part)
            .map_err(|_| Error::InvalidLabelValue { label: name.to_owned(), reason: "not valid UTF-8".to_owned() })?;
        values.push(value);
    }
    // A well-formed key ends with a separator, leaving exactly one empty trailing part.
    match (parts.next(), parts.next()) {
        (Some(b""), None) => Ok(values),
        _ => Err(mismatch(metric, names, "malformed label values".to_owned())),
    }
}

/// Pushes `(name, value)` pairs into a key for a family with dynamic labels: sorted by name, each
/// name followed by its value.
///
/// # Errors
/// [`Error::InvalidLabelName`] for a name given twice.
pub fn push_pairs(buf: &mut KeyBuf, pairs: &mut [(&[u8], &[u8])]) -> Result<()> {
    pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
    for w in pairs.windows(2) {
        if w[0].0 == w[1].0 {
            return Err(Error::InvalidLabelName(String::from_utf8_lossy(w[0].0).into_owned(), "given twice"));
        }
    }
    for (name, value) in pairs.iter() {
        buf.push(name);
        buf.push(value);
    }
    Ok(())
}

/// Splits a dynamic-label key into validated `(name, value)` pairs.
///
/// # Errors
/// [`Error::InvalidLabelName`] or [`Error::InvalidLabelValue`] naming the label.
pub fn decode_pairs(key: &[u8]) -> Result<Vec<(&str, &str)>> {
    if key.is_empty() {
        return Ok(Vec::new());
    }
    if key.last() != Some(&KEY_SEPARATOR) {
        return Err(Error::argument("malformed label key"));
    }
    let parts: Vec<&[u8]> = key[..key.len() - 1].split(|b| *b == KEY_SEPARATOR).collect();
    if parts.len() % 2 != 0 {
        return Err(Error::argument("malformed label key"));
    }
    let mut pairs = Vec::with_capacity(parts.len() / 2);
    for chunk in parts.chunks(2) {
        let name = std::str::from_utf8(chunk[0])
            .map_err(|_| Error::InvalidLabelName(String::from_utf8_lossy(chunk[0]).into_owned(), "not valid UTF-8"))?;
        validate_label_name(name)?;
        check_value_len(name, chunk[1])?;
        let value = std::str::from_utf8(chunk[1])
            .map_err(|_| Error::InvalidLabelValue { label: name.to_owned(), reason: "not valid UTF-8".to_owned() })?;
        if let Some((prev, _)) = pairs.last() {
            if *prev >= name {
                return Err(Error::InvalidLabelName(name.to_owned(), "given twice or out of order"));
            }
        }
        pairs.push((name, value));
    }
    Ok(pairs)
}

/// Renders `(name, value)` pairs as `a="x",b="y"`.
pub fn render_named_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (i, (name, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(name);
        out.push_str("=\"");
        escape_label_value(&mut out, value);
        out.push('"');
    }
    out
}

/// Matches label names given in any order (`given`) to a family's declared names: for each
/// declared name, in declared order, the index of its value in `given`, or `None` when missing
/// (the caller reports that with [`missing`] when it reaches it).
///
/// # Errors
/// [`Error::LabelMismatch`] for the first name, in `given` order, that is unknown or repeated.
pub fn match_names<S: AsRef<str>>(metric: &str, names: &LabelNames, given: &[S]) -> Result<Vec<Option<usize>>> {
    let mut slots = vec![None; names.len()];
    for (i, name) in given.iter().enumerate() {
        let name = name.as_ref();
        match names.position(name.as_bytes()) {
            Some(slot) if slots[slot].is_none() => slots[slot] = Some(i),
            Some(_) => return Err(mismatch(metric, names, format!("label {name:?} given twice"))),
            None => return Err(mismatch(metric, names, format!("unknown label {name:?}"))),
        }
    }
    Ok(slots)
}

/// The [`Error::LabelMismatch`] for a declared label that was not given.
pub fn missing(metric: &str, names: &LabelNames, name: &str) -> Error {
    mismatch(metric, names, format!("missing label {name:?}"))
}

/// Builds a [`Error::LabelMismatch`].
pub fn mismatch(metric: &str, names: &LabelNames, problem: String) -> Error {
    Error::LabelMismatch { metric: metric.to_owned(), problem, expected: names.describe() }
}

/// Appends `value` escaped for a label value (`\` `"` and newline).
pub fn escape_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Renders `a="x",b="y"` (no braces) for the given names and values.
pub fn render_pairs(names: &LabelNames, values: &[&str]) -> String {
    render_named_pairs(names.iter().zip(values.iter().copied()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names() {
        for good in ["a", "_a", ":a", "abc_def:ghi", "A9", "tasker_events_total"] {
            assert!(validate_metric_name(good).is_ok(), "{good}");
        }
        for bad in ["", "1a", "a-b", "a b", "é", "a.b", "a\n", "a{"] {
            assert!(validate_metric_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn label_names() {
        for good in ["a", "_a", "status", "A_9"] {
            assert!(validate_label_name(good).is_ok(), "{good}");
        }
        for bad in ["", "1a", "a:b", "a-b", "__x", "__", "é"] {
            assert!(validate_label_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn label_sets_reject_duplicates_and_reserved() {
        assert!(LabelNames::new(&["a", "b"], &[]).is_ok());
        let err = LabelNames::new(&["a", "a"], &[]).unwrap_err();
        assert_eq!(err.to_string(), "invalid label name \"a\": declared twice");
        let err = LabelNames::new(&["le"], &["le"]).unwrap_err();
        assert_eq!(err.to_string(), "invalid label name \"le\": reserved for this metric type");
        assert!(LabelNames::new(&["le"], &[]).is_ok());
        assert_eq!(LabelNames::new::<&str>(&[], &[]).unwrap().describe(), "no labels");
    }

    #[test]
    fn keys_round_trip_and_spill_to_heap() {
        let names = LabelNames::new(&["a", "b"], &[]).unwrap();
        let mut buf = KeyBuf::new();
        buf.push(b"x");
        buf.push("ü\"\n".as_bytes());
        assert_eq!(buf.as_bytes(), &*encode_key(&["x", "ü\"\n"]));
        assert_eq!(decode_key("m", &names, buf.as_bytes()).unwrap(), vec!["x", "ü\"\n"]);

        let long = "y".repeat(1000);
        let mut buf = KeyBuf::new();
        buf.push(b"x");
        buf.push(long.as_bytes());
        assert_eq!(buf.count(), 2);
        assert_eq!(decode_key("m", &names, buf.as_bytes()).unwrap(), vec!["x", long.as_str()]);
    }

    #[test]
    fn a_value_holding_the_separator_is_named() {
        let names = LabelNames::new(&["a", "b"], &[]).unwrap();
        let mut buf = KeyBuf::new();
        buf.push(b"ok");
        buf.push(&[b'x', KEY_SEPARATOR]);
        assert_eq!(buf.checked(&names).unwrap_err().to_string(), "invalid value for label \"b\": not valid UTF-8");
    }

    #[test]
    fn decode_rejects_bad_keys() {
        let names = LabelNames::new(&["a"], &[]).unwrap();
        assert!(decode_key("m", &names, &[0xC3, KEY_SEPARATOR]).is_err());
        assert!(decode_key("m", &names, &encode_key(&["x", "y"])).is_err());
        let empty = LabelNames::default();
        assert_eq!(decode_key("m", &empty, b"").unwrap(), Vec::<&str>::new());
        assert!(decode_key("m", &empty, &encode_key(&["x"])).is_err());
    }

    #[test]
    fn empty_label_value_is_distinct_from_missing() {
        let names = LabelNames::new(&["a"], &[]).unwrap();
        assert_eq!(decode_key("m", &names, &encode_key(&[""])).unwrap(), vec![""]);
        assert!(decode_key("m", &names, b"").is_err());
    }

    #[test]
    fn dynamic_pairs_sort_and_validate() {
        let mut buf = KeyBuf::new();
        push_pairs(&mut buf, &mut [(b"status", b"ok"), (b"handler", b"H")]).unwrap();
        assert_eq!(decode_pairs(buf.as_bytes()).unwrap(), vec![("handler", "H"), ("status", "ok")]);
        assert!(push_pairs(&mut KeyBuf::new(), &mut [(b"a", b"1"), (b"a", b"2")]).is_err());
        assert!(decode_pairs(&encode_key(&["1bad", "v"])).is_err());
        assert!(decode_pairs(&encode_key(&["b", "v", "a", "w"])).is_err(), "out of order");
        assert!(decode_pairs(&encode_key(&["a"])).is_err());
        assert_eq!(decode_pairs(b"").unwrap(), vec![]);
        assert_eq!(render_named_pairs([("a", "x\"y")]), r#"a="x\"y""#);
    }

    #[test]
    fn long_values_are_refused_with_their_length() {
        let names = LabelNames::new(&["a"], &[]).unwrap();
        let ok = "x".repeat(MAX_LABEL_VALUE_BYTES);
        assert!(decode_key("m", &names, &encode_key(&[ok.as_str()])).is_ok());
        let long = "x".repeat(MAX_LABEL_VALUE_BYTES + 1);
        let err = decode_key("m", &names, &encode_key(&[long.as_str()])).unwrap_err();
        assert_eq!(err.to_string(), "invalid value for label \"a\": 16385 bytes long, more than the 16384 allowed");
        assert!(decode_pairs(&encode_key(&["a", long.as_str()])).is_err());
    }

    #[test]
    fn names_are_matched_in_declared_order() {
        let names = LabelNames::new(&["a", "b", "c"], &[]).unwrap();
        assert_eq!(match_names("m", &names, &["c", "a"]).unwrap(), vec![Some(1), None, Some(0)]);
        assert_eq!(
            match_names("m", &names, &["a", "z"]).unwrap_err().to_string(),
            "invalid labels for metric \"m\": unknown label \"z\" (expected \"a\", \"b\", \"c\")"
        );
        assert!(match_names("m", &names, &["b", "b"]).unwrap_err().to_string().contains("label \"b\" given twice"));
        assert_eq!(
            missing("m", &names, "b").to_string(),
            "invalid labels for metric \"m\": missing label \"b\" (expected \"a\", \"b\", \"c\")"
        );
    }

    #[test]
    fn escaping() {
        let names = LabelNames::new(&["a", "b"], &[]).unwrap();
        assert_eq!(render_pairs(&names, &["x\\y", "q\"\nz"]), r#"a="x\\y",b="q\"\nz""#);
    }
}
