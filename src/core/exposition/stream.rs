//! An exposition rendered piece by piece: a scrape of 1,000,000 series never holds the whole
//! text (or its gzip) in memory, and each piece is short work, so the caller can hand pieces to
//! a client as they come. Series are read in batches from the live families (a [`Walk`] holds no
//! lock between batches), or from the snapshots a multi-process merge produced.

use super::{openmetrics, prometheus, protobuf, FamilySnapshot, Format};
use crate::core::registry::{Family, Registry, Walk};
use std::io::Write as _;
use std::sync::Arc;

/// Series rendered per step: a few hundred microseconds of work.
const BATCH: usize = 1024;

/// One family of the exposition.
pub enum Part {
    /// Read from the registry as the stream reaches it.
    Live(Arc<Family>),
    /// Already read (merged from several processes).
    Snapshot(FamilySnapshot),
}

impl Part {
    /// The live families of `registry` (expired series removed first), with the dropped-updates
    /// counter where a snapshot has it, keeping the name order.
    pub fn of_registry(registry: &Registry) -> Vec<Part> {
        let families = registry.families();
        let mut dropped = Vec::new();
        super::insert_dropped(&mut dropped, families.iter().map(|f| (f.desc().name.as_str(), f.dropped())));
        let mut parts: Vec<Part> = families
            .into_iter()
            .map(|f| {
                f.expire_stale();
                Part::Live(f)
            })
            .collect();
        if let Some(d) = dropped.pop() {
            let at = parts.partition_point(|p| p.name() < d.name.as_str());
            parts.insert(at, Part::Snapshot(d));
        }
        parts
    }

    /// The family as read now.
    pub fn read(self) -> FamilySnapshot {
        match self {
            Part::Live(f) => FamilySnapshot::of(&f),
            Part::Snapshot(s) => s,
        }
    }

    /// The family's name.
    pub fn name(&self) -> &str {
        match self {
            Part::Live(f) => &f.desc().name,
            Part::Snapshot(s) => &s.name,
        }
    }
}

/// The family being rendered: its header (and, for a live one, the batch read last).
struct Current {
    family: FamilySnapshot,
    walk: Option<Walk>,
    at: usize,
    started: bool,
    /// Protobuf: the family's metrics so far, written as one message once its last batch is in
    /// (a family is one message, so this format holds a family at a time rather than a batch).
    metrics: Vec<u8>,
}

/// An exposition in pieces; see the module documentation.
pub struct Stream {
    format: Format,
    parts: std::vec::IntoIter<Part>,
    names: Option<Vec<String>>,
    current: Option<Current>,
    gzip: Option<flate2::write::GzEncoder<Vec<u8>>>,
    zipped: bool,
    done: bool,
}

impl Stream {
    /// A stream of `parts` in `format` (gzipped at level 1 when `gzip`), keeping only families
    /// any of `names` asks for (see [`super::retain_names`]).
    pub fn new(format: Format, parts: Vec<Part>, gzip: bool, names: Option<Vec<String>>) -> Self {
        let gzip = gzip.then(|| flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        Stream { format, parts: parts.into_iter(), names, current: None, zipped: gzip.is_some(), gzip, done: false }
    }

    /// Whether the pieces are gzipped.
    pub fn gzipped(&self) -> bool {
        self.zipped
    }

    /// Whether the pieces are bytes rather than UTF-8 text (gzipped, or protobuf).
    pub fn binary(&self) -> bool {
        self.zipped || self.format == Format::Protobuf
    }

    /// The next piece, at least `min` bytes unless it is the last; `None` once all were given.
    pub fn next_chunk(&mut self, min: usize) -> Option<Vec<u8>> {
        if self.done {
            return None;
        }
        let mut text = Vec::with_capacity(min + min / 4);
        let mut out = Vec::new();
        loop {
            let finished = !self.render_some(&mut text);
            match &mut self.gzip {
                None if finished || text.len() >= min => {
                    self.done = finished;
                    return Some(text);
                }
                None => {}
                Some(enc) => {
                    // Writing into a Vec cannot fail.
                    let _ = enc.write_all(&text);
                    text.clear();
                    out.append(enc.get_mut());
                    if finished {
                        if let Some(enc) = self.gzip.take() {
                            out.append(&mut enc.finish().unwrap_or_default());
                        }
                        self.done = true;
                        return Some(out);
                    }
                    if out.len() >= min {
                        return Some(out);
                    }
                }
            }
        }
    }

    /// Renders one batch into `out`; false when nothing is left (the closing line written).
    fn render_some(&mut self, out: &mut Vec<u8>) -> bool {
        loop {
            if self.current.is_none() {
                let Some(part) = self.parts.next() else {
                    if matches!(self.format, Format::OpenMetrics { .. }) {
                        out.extend_from_slice(b"# EOF\n");
                    }
                    return false;
                };
                self.current = self.begin(part);
                continue;
            }
            let Some(cur) = self.current.as_mut() else { continue };
            let range = match &mut cur.walk {
                Some(walk) => {
                    cur.family.series.clear();
                    cur.family.label_text.clear();
                    let family = &mut cur.family;
                    let more = walk.step(BATCH, |s| {
                        let created = s.created().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
                        family.push(s.rendered_labels(), s.read(), s.exemplars(), created);
                    });
                    if !more {
                        cur.walk = None;
                        cur.at = usize::MAX; // this batch is the last
                    }
                    0..cur.family.series.len()
                }
                None if cur.at == usize::MAX => {
                    let done = self.current.take();
                    if let Some(done) = done.filter(|c| !c.metrics.is_empty()) {
                        protobuf::wire::family(out, &done.family, &done.metrics);
                        return true;
                    }
                    continue;
                }
                None => {
                    let end = (cur.at + BATCH).min(cur.family.series.len());
                    let range = cur.at..end;
                    cur.at = if end == cur.family.series.len() { usize::MAX } else { end };
                    range
                }
            };
            if range.is_empty() {
                continue;
            }
            let family = &cur.family;
            let series = &family.series[range];
            match self.format {
                Format::Protobuf => protobuf::wire::metrics(&mut cur.metrics, family, series, true),
                text => {
                    let mut lines = String::with_capacity(series.len() * 48);
                    encode_text(text, &mut lines, family, series, !cur.started);
                    out.extend_from_slice(lines.as_bytes());
                }
            }
            cur.started = true;
            return true;
        }
    }

    /// Starts rendering `part`, or `None` when the names asked for leave it out.
    fn begin(&self, part: Part) -> Option<Current> {
        let (family, walk) = match part {
            Part::Live(f) => (FamilySnapshot::empty(f.desc()), Some(f.walk())),
            Part::Snapshot(s) => (s, None),
        };
        if self.names.as_ref().is_some_and(|names| !names.iter().any(|n| family.answers_to(n))) {
            return None;
        }
        Some(Current { family, walk, at: 0, started: false, metrics: Vec::new() })
    }
}

/// The lines of `series` (some of `family`'s) in a text format, after the family's header when
/// `header`.
fn encode_text(format: Format, out: &mut String, family: &FamilySnapshot, series: &[super::SeriesSnapshot], header: bool) {
    match format {
        Format::Prometheus => {
            if header {
                prometheus::encode_header(out, family, &family.help);
            }
            prometheus::encode_series(out, family, series);
        }
        Format::OpenMetrics { created } => {
            if header {
                openmetrics::encode_header(out, family);
            }
            openmetrics::encode_series(out, family, series, created);
        }
        Format::Protobuf => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::exposition::{gzip, render, snapshot};
    use crate::core::labels::encode_key;
    use crate::core::metric::{Buckets, MetricKind};
    use crate::core::registry::{FamilyDesc, Number};

    fn registry(series: usize) -> Registry {
        let reg = Registry::default();
        let c = reg
            .register(
                FamilyDesc::new("jobs_total", "Jobs", MetricKind::Counter, &["k"], None).unwrap().with_max_series(series + 1_000).unwrap(),
            )
            .unwrap();
        for i in 0..series {
            c.series(&encode_key(&[&format!("v{i}")])).unwrap().increment(Number::Int(i as i64 + 1)).unwrap();
        }
        let h = reg
            .register(
                FamilyDesc::new("lat_seconds", "L", MetricKind::Histogram, &[] as &[&str], Some(Buckets::new(&[0.1]).unwrap())).unwrap(),
            )
            .unwrap();
        h.series(b"").unwrap().observe(0.05).unwrap();
        reg.register(FamilyDesc::new("temp", "T", MetricKind::Gauge, &[] as &[&str], None).unwrap()).unwrap();
        reg
    }

    fn whole(stream: &mut Stream, min: usize) -> (Vec<u8>, usize) {
        let (mut all, mut pieces) = (Vec::new(), 0);
        while let Some(piece) = stream.next_chunk(min) {
            all.extend_from_slice(&piece);
            pieces += 1;
        }
        (all, pieces)
    }

    /// In pieces, the bytes are those of the one-piece render, in both formats, for live and
    /// snapshot families alike; and gzipped, they unzip to the same text.
    #[test]
    fn pieces_join_into_the_whole_render() {
        let reg = registry(5_000);
        for format in [Format::Prometheus, Format::OpenMetrics { created: true }, Format::Protobuf] {
            let expected = render(format, &snapshot(&reg));
            let (live, pieces) = whole(&mut Stream::new(format, Part::of_registry(&reg), false, None), 1);
            assert_eq!(live, expected, "{format:?}");
            let least = if format == Format::Protobuf { 3 } else { 5_000 / BATCH }; // protobuf: a piece per family
            assert!(pieces >= least, "{pieces} pieces");
            let parts = snapshot(&reg).into_iter().map(Part::Snapshot).collect();
            let (snap, _) = whole(&mut Stream::new(format, parts, false, None), 4096);
            assert_eq!(snap, expected);
            let (zipped, _) = whole(&mut Stream::new(format, Part::of_registry(&reg), true, None), 1024);
            let mut unzipped = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&zipped[..]), &mut unzipped).unwrap();
            assert_eq!(unzipped, expected);
            assert!(zipped.len() < gzip(&expected).len() * 2);
        }
        let families = crate::core::exposition::protobuf::decode(&render(Format::Protobuf, &snapshot(&reg))).unwrap();
        assert_eq!(families.iter().map(|f| f.metric.len()).collect::<Vec<_>>(), [5_000, 1, 1]);
    }

    /// What a stream holds at once does not grow with the exposition: every piece is at most
    /// the size asked for plus one batch of series, text or gzip.
    #[test]
    fn pieces_stay_bounded_whatever_the_exposition_size() {
        let reg = registry(200_000);
        let min = 64 * 1024;
        for gzip in [false, true] {
            let mut stream = Stream::new(Format::Prometheus, Part::of_registry(&reg), gzip, None);
            let (mut largest, mut total) = (0, 0);
            while let Some(piece) = stream.next_chunk(min) {
                largest = largest.max(piece.len());
                total += piece.len();
            }
            assert!(total > if gzip { 500_000 } else { 5_000_000 }, "{total} bytes in all");
            assert!(largest < min + BATCH * 64, "largest piece {largest} bytes");
        }
    }

    #[test]
    fn names_select_families_as_a_whole_render_does() {
        let reg = registry(10);
        let mut families = snapshot(&reg);
        crate::core::exposition::retain_names(&mut families, &["lat_seconds_bucket".to_owned()]);
        let (text, _) =
            whole(&mut Stream::new(Format::Prometheus, Part::of_registry(&reg), false, Some(vec!["lat_seconds_bucket".into()])), 1);
        assert_eq!(text, render(Format::Prometheus, &families));
    }

    /// A stream paused between pieces holds no lock: series are created and removed meanwhile,
    /// and the removed ones stay readable until the stream ends (no use after free).
    #[test]
    fn a_paused_stream_holds_no_lock_and_outlives_removed_series() {
        let reg = registry(10_000);
        let fam = reg.families().into_iter().find(|f| f.desc().name == "jobs_total").unwrap();
        let mut stream = Stream::new(Format::Prometheus, Part::of_registry(&reg), false, None);
        let first = stream.next_chunk(1).unwrap();
        assert!(!first.is_empty());
        std::thread::scope(|s| {
            s.spawn(|| {
                for i in 10_000..10_100 {
                    fam.series(&encode_key(&[&format!("v{i}")])).unwrap();
                }
                for i in 0..9_000 {
                    assert!(fam.remove(&encode_key(&[&format!("v{i}")])));
                }
            })
            .join()
            .unwrap();
        });
        let (rest, _) = whole(&mut stream, 1 << 20);
        let text = String::from_utf8([first, rest].concat()).unwrap();
        assert!(text.contains("jobs_total{k=\"v9999\"} 10000\n"));
        assert!(!text.contains("v10000"), "series created after the walk began are the next scrape's");
        assert!(text.ends_with("temp 0\n"));
    }
}
