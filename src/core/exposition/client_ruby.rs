//! prometheus/client_ruby's text format, for the `Prometheus::Client` drop-in: the 0.0.4 text
//! with `# TYPE` before `# HELP`, every value printed as Ruby prints a Float (`1.0`, `3.14e+42`),
//! bucket bounds as the user gave them (`le="1"`), and summaries as their `_sum` and `_count`.

use super::{escape_help, write_sample_start, FamilySnapshot};
use crate::core::metric::Sample;

/// What the Ruby side knows of one metric: its name, client_ruby type, HELP text and, for a
/// histogram, its bounds' texts (`bucket.to_s`).
#[derive(Debug, Clone)]
pub struct Header {
    /// Metric name.
    pub name: String,
    /// `counter`, `gauge`, `histogram` or `summary`.
    pub kind: String,
    /// The docstring as given.
    pub help: String,
    /// The bounds' texts, `+Inf` aside.
    pub le: Vec<String>,
}

/// One metric: its header, then each series of `family` (absent: no series).
pub fn encode(out: &mut String, header: &Header, family: Option<&FamilySnapshot>) {
    out.push_str("# TYPE ");
    out.push_str(&header.name);
    out.push(' ');
    out.push_str(&header.kind);
    out.push_str("\n# HELP ");
    out.push_str(&header.name);
    out.push(' ');
    escape_help(out, &header.help, false);
    out.push('\n');
    let Some(family) = family else { return };
    let name = header.name.as_str();
    for series in &family.series {
        let labels = family.labels(series);
        match &series.sample {
            Sample::Histogram { counts, sum, .. } => {
                let total = counts.iter().fold(0u64, |a, c| a.wrapping_add(*c));
                if header.kind == "histogram" {
                    let mut cumulative = 0u64;
                    for (count, le) in counts.iter().zip(header.le.iter().map(String::as_str).chain(["+Inf"])) {
                        cumulative = cumulative.wrapping_add(*count);
                        line(out, name, "_bucket", labels, Some(le), cumulative as f64);
                    }
                }
                line(out, name, "_sum", labels, None, *sum);
                line(out, name, "_count", labels, None, total as f64);
            }
            sample => line(out, name, "", labels, None, sample.as_f64()),
        }
    }
}

fn line(out: &mut String, name: &str, suffix: &str, labels: &str, le: Option<&str>, v: f64) {
    write_sample_start(out, name, suffix, labels, le);
    ruby_float(out, v);
    out.push('\n');
}

/// `v` as Ruby's `Float#to_s` prints it: the shortest digits that read back as `v`, in fixed
/// notation with at least one decimal when the decimal point falls within 15 digits of the first
/// (`100.0`, `0.0001`), otherwise `d.ddde±XX`.
pub fn ruby_float(out: &mut String, v: f64) {
    if v.is_nan() {
        return out.push_str("NaN");
    }
    if v.is_infinite() {
        return out.push_str(if v > 0.0 { "Infinity" } else { "-Infinity" });
    }
    if v == 0.0 {
        return out.push_str(if v.is_sign_negative() { "-0.0" } else { "0.0" });
    }
    // Rust's `{:e}` gives the shortest round-trip digits (`3.14e42`, `1e-5`), written on the
    // stack: a scrape prints tens of thousands of these.
    let mut buf = [0u8; 40];
    let len = {
        use std::io::Write;
        let mut cursor = std::io::Cursor::new(&mut buf[..]);
        let _ = write!(cursor, "{:e}", v.abs());
        cursor.position() as usize
    };
    let text = std::str::from_utf8(&buf[..len]).unwrap_or("0e0");
    let (mantissa, exp) = text.split_once('e').unwrap_or((text, "0"));
    let mut digit_buf = [0u8; 24];
    let mut n = 0;
    for b in mantissa.bytes().filter(u8::is_ascii_digit) {
        digit_buf[n] = b;
        n += 1;
    }
    let digits = std::str::from_utf8(&digit_buf[..n]).unwrap_or("0");
    let point = exp.parse::<i32>().unwrap_or(0) + 1; // digits before the decimal point
    if v < 0.0 {
        out.push('-');
    }
    let n = n as i32;
    if point > -4 && point <= 15 {
        if point <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-point) as usize));
            out.push_str(digits);
        } else if point >= n {
            out.push_str(digits);
            out.extend(std::iter::repeat_n('0', (point - n) as usize));
            out.push_str(".0");
        } else {
            out.push_str(&digits[..point as usize]);
            out.push('.');
            out.push_str(&digits[point as usize..]);
        }
    } else {
        out.push_str(&digits[..1]);
        out.push('.');
        out.push_str(if n > 1 { &digits[1..] } else { "0" });
        let e = point - 1;
        out.push_str(if e < 0 { "e-" } else { "e+" });
        if e.abs() < 10 {
            out.push('0');
        }
        out.push_str(&e.abs().to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: f64) -> String {
        let mut s = String::new();
        ruby_float(&mut s, v);
        s
    }

    #[test]
    fn floats_print_as_ruby_prints_them() {
        // Each pair as `ruby -e 'p v.to_s'` prints it (Ruby 3.1).
        let cases = [
            (1e15, "1.0e+15"),
            (1e16, "1.0e+16"),
            (123456789012345.0, "123456789012345.0"),
            (1234567890123456.0, "1.234567890123456e+15"),
            (12345678901234567.0, "1.2345678901234568e+16"),
            (1e-4, "0.0001"),
            (1e-5, "1.0e-05"),
            (0.0001234, "0.0001234"),
            (100.0, "100.0"),
            (1.5e15, "1.5e+15"),
            (1e14, "100000000000000.0"),
            (2f64.powi(60), "1.152921504606847e+18"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (5e-324, "5.0e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (3.14e42, "3.14e+42"),
            (1.23e-45, "1.23e-45"),
            (-2.5, "-2.5"),
            (15.2, "15.2"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (v, expected) in cases {
            assert_eq!(text(v), expected, "{v:e}");
        }
    }

    proptest::proptest! {
        /// Whatever the value, the text reads back as the same Float.
        #[test]
        fn every_float_reads_back(bits in proptest::prelude::any::<u64>()) {
            let v = f64::from_bits(bits);
            proptest::prop_assume!(v.is_finite());
            let t = text(v);
            proptest::prop_assert_eq!(t.parse::<f64>().unwrap().to_bits(), v.to_bits(), "{}", t);
            proptest::prop_assert!(t.contains('.'), "{}", t);
        }
    }
}
