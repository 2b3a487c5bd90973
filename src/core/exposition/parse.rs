//! A strict reader for the text the encoders write, in either format. It refuses anything the
//! formats do not allow (an unknown escape, a raw newline in a value, a sample outside its
//! family, a missing `# EOF` in OpenMetrics), so tests, property tests and the fuzz target can
//! assert that every exposition parses and gives back every value recorded.

use crate::core::error::{Error, Result};

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedSample {
    /// Sample name, suffix included (`jobs_total`).
    pub name: String,
    /// Labels, unescaped, in the order written.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

/// Which format to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// Prometheus text 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0.0 (exemplars allowed, `# EOF` required).
    OpenMetrics,
}

fn bad(line: usize, what: &str) -> Error {
    Error::argument(format!("line {}: {what}", line + 1))
}

/// Parses a whole exposition.
///
/// # Errors
/// The first line that breaks the format, with its number.
pub fn parse(text: &str, syntax: Syntax) -> Result<Vec<ParsedSample>> {
    let mut samples = Vec::new();
    let mut family: Option<String> = None;
    let mut eof = false;
    for (n, line) in text.split_terminator('\n').enumerate() {
        if eof {
            return Err(bad(n, "text after # EOF"));
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            match (parts.next(), parts.next()) {
                (Some("EOF"), None) if syntax == Syntax::OpenMetrics => eof = true,
                (Some("HELP" | "TYPE" | "UNIT"), Some(name)) => {
                    check_name(name).map_err(|_| bad(n, "bad metric name in a comment"))?;
                    family = Some(name.to_owned());
                }
                _ => return Err(bad(n, "unknown comment")),
            }
            continue;
        }
        let sample = parse_sample(line, syntax).map_err(|e| bad(n, &e.to_string()))?;
        match &family {
            Some(f) if sample.name.starts_with(f.as_str()) => {}
            _ => return Err(bad(n, "sample outside its family")),
        }
        samples.push(sample);
    }
    if syntax == Syntax::OpenMetrics && !eof {
        return Err(Error::argument("missing # EOF"));
    }
    Ok(samples)
}

fn check_name(name: &str) -> Result<()> {
    crate::core::labels::validate_metric_name(name)
}

fn parse_sample(line: &str, syntax: Syntax) -> Result<ParsedSample> {
    let name_end = line.find(['{', ' ']).ok_or_else(|| Error::argument("no value"))?;
    let name = &line[..name_end];
    check_name(name)?;
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(body) = rest.strip_prefix('{') {
        let (parsed, after) = parse_labels(body)?;
        labels = parsed;
        rest = after;
    }
    let rest = rest.strip_prefix(' ').ok_or_else(|| Error::argument("no space before the value"))?;
    let (value, tail) = match rest.split_once(' ') {
        Some((v, t)) => (v, Some(t)),
        None => (rest, None),
    };
    if let Some(tail) = tail {
        let exemplar =
            tail.strip_prefix("# {").filter(|_| syntax == Syntax::OpenMetrics).ok_or_else(|| Error::argument("text after the value"))?;
        let (_, after) = parse_labels(exemplar)?;
        let mut fields = after.strip_prefix(' ').ok_or_else(|| Error::argument("exemplar without a value"))?.split(' ');
        for field in [fields.next(), fields.next()] {
            parse_value(field.ok_or_else(|| Error::argument("exemplar without a timestamp"))?)?;
        }
        if fields.next().is_some() {
            return Err(Error::argument("text after the exemplar"));
        }
    }
    Ok(ParsedSample { name: name.to_owned(), labels, value: parse_value(value)? })
}

/// Parses `a="x",b="y"}` and returns the labels and what follows the `}`.
fn parse_labels(mut s: &str) -> Result<(Vec<(String, String)>, &str)> {
    let mut labels = Vec::new();
    loop {
        if let Some(after) = s.strip_prefix('}') {
            return Ok((labels, after));
        }
        let eq = s.find('=').ok_or_else(|| Error::argument("label without ="))?;
        let name = &s[..eq];
        crate::core::labels::validate_label_name(name).or_else(|_| {
            if name == "le" {
                Ok(())
            } else {
                Err(Error::argument("bad label name"))
            }
        })?;
        let mut chars = s[eq + 1..].char_indices();
        if chars.next().map(|(_, c)| c) != Some('"') {
            return Err(Error::argument("label value without quotes"));
        }
        let mut value = String::new();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    _ => return Err(Error::argument("unknown escape in a label value")),
                },
                Some((i, '"')) => break eq + 1 + i + 1,
                Some((_, '\n')) | None => return Err(Error::argument("unterminated label value")),
                Some((_, c)) => value.push(c),
            }
        };
        labels.push((name.to_owned(), value));
        s = &s[end..];
        s = s.strip_prefix(',').unwrap_or(s);
    }
}

fn parse_value(v: &str) -> Result<f64> {
    match v {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ if v.is_empty() || v.contains(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E') => {
            Err(Error::argument(format!("bad value {v:?}")))
        }
        _ => v.parse::<f64>().map_err(|_| Error::argument(format!("bad value {v:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_formats_and_refuses_breakage() {
        let text = "# HELP a_total A\n# TYPE a_total counter\na_total{k=\"x\\\"y\\\\z\\nw\"} 3\n";
        let s = parse(text, Syntax::Prometheus).unwrap();
        assert_eq!(s[0].labels, vec![("k".to_owned(), "x\"y\\z\nw".to_owned())]);
        assert_eq!(s[0].value, 3.0);
        let om = "# TYPE a counter\na_total 1 # {trace_id=\"t\"} 1 1700000000.5\n# EOF\n";
        assert_eq!(parse(om, Syntax::OpenMetrics).unwrap()[0].value, 1.0);
        for broken in [
            "# TYPE a gauge\na{k=\"\\t\"} 1\n",
            "# TYPE a gauge\na{k=\"x} 1\n",
            "# TYPE a gauge\na 1 2\n",
            "# TYPE a gauge\nb 1\n",
            "# TYPE a gauge\na one\n",
            "# BOGUS\n",
        ] {
            assert!(parse(broken, Syntax::Prometheus).is_err(), "{broken:?}");
        }
        assert!(parse("# TYPE a gauge\na 1\n", Syntax::OpenMetrics).is_err(), "missing # EOF");
    }
}
