//! The layout of a multi-process file, shared by the writer and the reader.
//!
//! A file is a 128-byte header followed by 8-byte-aligned records, appended and never moved.
//! A record becomes visible when its length — its first four bytes, zero until then — is
//! stored with release ordering after everything else in it, so a reader that loads the length
//! with acquire ordering sees a complete record or stops; a writer killed mid-append leaves a
//! zero length behind, which reads as the end of the file.
//!
//! ```text
//! header   0 magic "TMMPROC\x01" · 8 version u32 · 12 role u32 · 16 pid u32 · 24 nonce u64
//!         32 started (Unix ms) u64 · 40 identity length u32 · 44 identity (64 bytes) · 112 end u64
//! record   0 length u32 · 4 tag u8 · 5 state u8 (1 = retired) · 6 cell count u16
//! family   8 dropped-updates cell · 16 description length u32 · 20 description
//! series   8 family record offset u64 · 16 key length u32 · 20 origin length u16
//!          22 incarnation u16 · 24 cells, then the key, then the origin (an archive's worker
//!          identity for per-process gauges)
//! absorbed 8 nonce of a file an archive has folded in
//! ```
//!
//! A removed series' record is reused for a new series of the same record length once nothing
//! in its process refers to it any more. Its incarnation works as a seqlock: odd while the
//! writer rewrites the record (which stays retired meanwhile), even again once it is a new
//! series; a reader caches what it indexed per incarnation and discards cells read across a
//! change. Version 1 files (no reuse; the incarnation bytes are zero) read the same way.
//!
//! Everything is native-endian: files are only shared between processes of one machine.

use crate::core::desc::{FamilyDesc, GaugeMode};
use crate::core::error::{Error, Result};
use crate::core::metric::native::NativeConfig;
use crate::core::metric::{Buckets, MetricKind};
use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering};

pub const MAGIC: [u8; 8] = *b"TMMPROC\x01";
pub const VERSION: u32 = 2;
/// Oldest version read (files of processes still running an older release).
pub const VERSION_MIN: u32 = 1;
pub const HEADER_LEN: usize = 128;
pub const ROLE_PROCESS: u32 = 1;
pub const ROLE_ARCHIVE: u32 = 2;

pub const H_VERSION: usize = 8;
pub const H_ROLE: usize = 12;
pub const H_PID: usize = 16;
pub const H_NONCE: usize = 24;
pub const H_STARTED: usize = 32;
pub const H_IDENT_LEN: usize = 40;
pub const H_IDENT: usize = 44;
pub const IDENT_MAX: usize = 64;
pub const H_END: usize = 112;

pub const TAG_FAMILY: u8 = 1;
pub const TAG_SERIES: u8 = 2;
pub const TAG_ABSORBED: u8 = 3;
pub const STATE_LIVE: u8 = 0;
pub const STATE_RETIRED: u8 = 1;

pub const R_STATE: usize = 5;
pub const R_NCELLS: usize = 6;
pub const F_DROPPED: usize = 8;
pub const F_DESC_LEN: usize = 16;
pub const F_DESC: usize = 20;
pub const S_FAMILY: usize = 8;
pub const S_KEY_LEN: usize = 16;
pub const S_ORIGIN_LEN: usize = 20;
pub const S_INCARNATION: usize = 22;
pub const S_CELLS: usize = 24;

/// Largest record accepted: a reader refuses anything bigger as corruption.
pub const RECORD_MAX: usize = 4 << 20;

/// Rounds up to the next multiple of 8.
pub fn align8(n: usize) -> usize {
    (n + 7) & !7
}

/// Encodes what a reader in another process needs to know of a family.
pub fn encode_desc(desc: &FamilyDesc) -> Vec<u8> {
    let mut out = vec![kind_code(desc.kind), aggregation_code(desc.aggregation), u8::from(desc.dynamic)];
    put_str(&mut out, &desc.name);
    put_str(&mut out, &desc.help);
    put_str(&mut out, desc.unit.as_deref().unwrap_or(""));
    out.extend_from_slice(&(desc.labels.len() as u32).to_ne_bytes());
    for l in desc.labels.iter() {
        put_str(&mut out, l);
    }
    let bounds = desc.buckets.as_ref().map_or(&[][..], |b| b.bounds());
    out.extend_from_slice(&(bounds.len() as u32).to_ne_bytes());
    for b in bounds {
        out.extend_from_slice(&b.to_ne_bytes());
    }
    // Native buckets come last: a file without them (an older release's) simply ends here.
    if let Some(n) = desc.buckets.as_ref().and_then(Buckets::native) {
        out.push(1);
        for v in [n.factor, n.zero_threshold, n.min_reset_interval] {
            out.extend_from_slice(&v.to_ne_bytes());
        }
        out.extend_from_slice(&(n.max_buckets as u32).to_ne_bytes());
    }
    out
}

/// Decodes and re-validates a family description, as if it came from an untrusted source.
///
/// # Errors
/// An argument error for anything malformed.
pub fn decode_desc(bytes: &[u8]) -> Result<FamilyDesc> {
    let mut r = Reader { bytes, at: 0 };
    let kind = match r.u8()? {
        KIND_COUNTER => MetricKind::Counter,
        KIND_GAUGE => MetricKind::Gauge,
        KIND_HISTOGRAM => MetricKind::Histogram,
        k => return Err(Error::argument(format!("unknown metric kind {k}"))),
    };
    let aggregation = aggregation_of(r.u8()?).ok_or_else(|| Error::argument("unknown gauge aggregation"))?;
    let dynamic = r.u8()? == 1;
    let name = r.str()?;
    let help = r.str()?;
    let unit = r.str()?;
    let labels = (0..r.count()?).map(|_| r.str()).collect::<Result<Vec<_>>>()?;
    let bounds = (0..r.count()?).map(|_| r.f64()).collect::<Result<Vec<_>>>()?;
    let native = if r.at < r.bytes.len() && r.u8()? == 1 {
        let (factor, zero_threshold, min_reset_interval) = (r.f64()?, r.f64()?, r.f64()?);
        Some(NativeConfig::new(factor, r.count()?, zero_threshold, min_reset_interval)?)
    } else {
        None
    };
    let buckets = match (bounds.is_empty(), native) {
        (true, None) => None,
        (true, Some(n)) => Some(Buckets::native_only(n)),
        (false, n) => Some(n.into_iter().fold(Buckets::new(&bounds)?, Buckets::with_native)),
    };
    let mut desc =
        if dynamic { FamilyDesc::dynamic(&name, &help, kind, buckets)? } else { FamilyDesc::new(&name, &help, kind, &labels, buckets)? };
    if !unit.is_empty() {
        desc = desc.with_unit(&unit)?;
    }
    if kind == MetricKind::Gauge {
        desc = desc.with_aggregation(aggregation)?;
    }
    Ok(desc)
}

// Codes in a family description. Files outlive the code that wrote them (a deploy reads the
// files of workers still running the old release), so each code is fixed here, never derived
// from an enum's order.
const KIND_COUNTER: u8 = 0;
const KIND_GAUGE: u8 = 1;
const KIND_HISTOGRAM: u8 = 2;
const AGG_ALL: u8 = 0;
const AGG_LIVEALL: u8 = 1;
const AGG_SUM: u8 = 2;
const AGG_LIVESUM: u8 = 3;
const AGG_MAX: u8 = 4;
const AGG_MIN: u8 = 5;
const AGG_MOSTRECENT: u8 = 6;

fn kind_code(kind: MetricKind) -> u8 {
    match kind {
        MetricKind::Counter => KIND_COUNTER,
        MetricKind::Gauge => KIND_GAUGE,
        MetricKind::Histogram => KIND_HISTOGRAM,
    }
}

fn aggregation_code(mode: GaugeMode) -> u8 {
    match mode {
        GaugeMode::All => AGG_ALL,
        GaugeMode::LiveAll => AGG_LIVEALL,
        GaugeMode::Sum => AGG_SUM,
        GaugeMode::LiveSum => AGG_LIVESUM,
        GaugeMode::Max => AGG_MAX,
        GaugeMode::Min => AGG_MIN,
        GaugeMode::MostRecent => AGG_MOSTRECENT,
    }
}

fn aggregation_of(code: u8) -> Option<GaugeMode> {
    Some(match code {
        AGG_ALL => GaugeMode::All,
        AGG_LIVEALL => GaugeMode::LiveAll,
        AGG_SUM => GaugeMode::Sum,
        AGG_LIVESUM => GaugeMode::LiveSum,
        AGG_MAX => GaugeMode::Max,
        AGG_MIN => GaugeMode::Min,
        AGG_MOSTRECENT => GaugeMode::MostRecent,
        _ => return None,
    })
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_ne_bytes());
    out.extend_from_slice(s.as_bytes());
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8]> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len()).ok_or_else(|| Error::argument("truncated description"))?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn count(&mut self) -> Result<usize> {
        let b = self.take(4)?;
        Ok(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
    fn f64(&mut self) -> Result<f64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(f64::from_ne_bytes(a))
    }
    fn str(&mut self) -> Result<String> {
        let n = self.count()?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| Error::argument("description is not UTF-8"))
    }
}

/// A read-only window on mapped memory that other processes may be writing. Every access is
/// bounds-checked; integers are read with atomic loads, because the bytes may change under us.
#[derive(Clone, Copy)]
pub struct View {
    base: *const u8,
    len: usize,
}

impl View {
    /// # Safety
    /// `base` must be 8-aligned and `len` bytes readable for as long as the view is used.
    pub unsafe fn new(base: *const u8, len: usize) -> Self {
        View { base, len }
    }

    /// Bytes in view.
    pub fn len(&self) -> usize {
        self.len
    }

    fn check(&self, off: usize, n: usize, align: usize) -> Option<usize> {
        (off % align == 0 && off.checked_add(n)? <= self.len).then_some(off)
    }

    pub fn u8(&self, off: usize) -> Option<u8> {
        let off = self.check(off, 1, 1)?;
        // SAFETY: in bounds (checked); atomics because another process may write the byte.
        Some(unsafe { &*(self.base.add(off) as *const AtomicU8) }.load(Ordering::Relaxed))
    }

    pub fn u16(&self, off: usize) -> Option<u16> {
        let lo = self.u8(off)?;
        let hi = self.u8(off + 1)?;
        Some(u16::from_ne_bytes([lo, hi]))
    }

    /// A record's incarnation (see the module), with Acquire ordering.
    pub fn incarnation(&self, off: usize) -> Option<u16> {
        let off = self.check(off + S_INCARNATION, 2, 2)?;
        // SAFETY: in bounds and aligned (checked).
        Some(unsafe { &*(self.base.add(off) as *const AtomicU16) }.load(Ordering::Acquire))
    }

    pub fn u32(&self, off: usize, order: Ordering) -> Option<u32> {
        let off = self.check(off, 4, 4)?;
        // SAFETY: in bounds and aligned (checked).
        Some(unsafe { &*(self.base.add(off) as *const AtomicU32) }.load(order))
    }

    pub fn cell(&self, off: usize) -> Option<&AtomicU64> {
        let off = self.check(off, 8, 8)?;
        // SAFETY: in bounds and aligned (checked); the view's contract keeps the memory alive.
        Some(unsafe { &*(self.base.add(off) as *const AtomicU64) })
    }

    pub fn u64(&self, off: usize) -> Option<u64> {
        self.cell(off).map(|c| c.load(Ordering::Relaxed))
    }

    /// Copies bytes out (a record's immutable part, published before its length).
    /// Bytes another process may be rewriting, read one atomic byte at a time (so a racing
    /// write is no data race); the caller checks they did not change meanwhile.
    pub fn atomic_bytes(&self, off: usize, n: usize) -> Option<Vec<u8>> {
        let off = self.check(off, n, 1)?;
        // SAFETY: in bounds (checked); every byte is read through an AtomicU8.
        Some((0..n).map(|i| unsafe { &*(self.base.add(off + i) as *const AtomicU8) }.load(Ordering::Relaxed)).collect())
    }

    pub fn bytes(&self, off: usize, n: usize) -> Option<Vec<u8>> {
        let off = self.check(off, n, 1)?;
        let mut out = vec![0u8; n];
        // SAFETY: in bounds (checked). These bytes are written once before the record is
        // published and never again, so the copy races with no writer.
        unsafe { std::ptr::copy_nonoverlapping(self.base.add(off), out.as_mut_ptr(), n) };
        Some(out)
    }
}

/// The fixed part of a file's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub role: u32,
    pub pid: u32,
    pub nonce: u64,
    pub started_ms: u64,
    pub identity: String,
}

impl Header {
    /// Reads and checks a header.
    ///
    /// # Errors
    /// A description of what is wrong, for the warning.
    pub fn read(v: &View) -> std::result::Result<Header, String> {
        if v.len() < HEADER_LEN {
            return Err(format!("shorter ({} bytes) than a header", v.len()));
        }
        if v.bytes(0, 8).as_deref() != Some(&MAGIC[..]) {
            return Err("not a tasker_metrics file (bad magic)".into());
        }
        let version = v.u32(H_VERSION, Ordering::Relaxed).unwrap_or(0);
        if !(VERSION_MIN..=VERSION).contains(&version) {
            return Err(format!("unsupported version {version}"));
        }
        let role = v.u32(H_ROLE, Ordering::Relaxed).unwrap_or(0);
        if role != ROLE_PROCESS && role != ROLE_ARCHIVE {
            return Err(format!("unknown role {role}"));
        }
        let identity = read_identity(v);
        Ok(Header {
            role,
            pid: v.u32(H_PID, Ordering::Relaxed).unwrap_or(0),
            nonce: v.u64(H_NONCE).unwrap_or(0),
            started_ms: v.u64(H_STARTED).unwrap_or(0),
            identity,
        })
    }
}

/// One record, as the reader finds it.
#[derive(Debug)]
pub enum Record {
    Family { off: usize, desc_bytes: Vec<u8> },
    Series { off: usize, family: usize, ncells: usize, key: Vec<u8>, origin: String },
    Absorbed { nonce: u64 },
}

/// Walks the records from `from` to the first unpublished one. Returns the records, where the
/// walk stopped, and why it stopped early if the file is damaged.
pub fn walk(v: &View, from: usize) -> (Vec<Record>, usize, Option<String>) {
    let mut out = Vec::new();
    let mut at = from.max(HEADER_LEN);
    loop {
        match read_record(v, at) {
            Ok(None) => return (out, at, None),
            Ok(Some((rec, len))) => {
                // The file decides how many records there are: reserve fallibly (see merge.rs).
                if out.try_reserve(1).is_err() {
                    return (out, at, Some(format!("too many records to index at byte {at}: memory ran out")));
                }
                out.push(rec);
                at += len;
            }
            Err(e) => return (out, at, Some(e)),
        }
    }
}

/// The published record at `at` and its length; `None` at the end of what is published.
///
/// # Errors
/// What is damaged about the record.
pub fn read_record(v: &View, at: usize) -> std::result::Result<Option<(Record, usize)>, String> {
    let Some(len) = v.u32(at, Ordering::Acquire) else { return Ok(None) };
    let len = len as usize;
    if len == 0 {
        return Ok(None);
    }
    let damaged = |why: &str| format!("damaged record at byte {at}: {why}");
    if len % 8 != 0 || !(16..=RECORD_MAX).contains(&len) || at + len > v.len() {
        return Err(damaged(&format!("bad length {len}")));
    }
    let rec = match v.u8(at + 4) {
        Some(TAG_FAMILY) => {
            let n = v.u32(at + F_DESC_LEN, Ordering::Relaxed).unwrap_or(u32::MAX) as usize;
            match (F_DESC + n <= len).then(|| v.bytes(at + F_DESC, n)).flatten() {
                Some(desc_bytes) => Record::Family { off: at, desc_bytes },
                None => return Err(damaged("family description overruns the record")),
            }
        }
        Some(TAG_SERIES) => {
            let ncells = v.u16(at + R_NCELLS).unwrap_or(0) as usize;
            let klen = v.u32(at + S_KEY_LEN, Ordering::Relaxed).unwrap_or(u32::MAX) as usize;
            let olen = v.u16(at + S_ORIGIN_LEN).unwrap_or(u16::MAX) as usize;
            if S_CELLS + ncells * 8 + klen + olen > len {
                return Err(damaged("series overruns the record"));
            }
            let key_at = at + S_CELLS + ncells * 8;
            let (Some(family), Some(key), Some(origin)) = (v.u64(at + S_FAMILY), v.bytes(key_at, klen), v.bytes(key_at + klen, olen))
            else {
                return Err(damaged("unreadable series"));
            };
            Record::Series { off: at, family: family as usize, ncells, key, origin: String::from_utf8_lossy(&origin).into_owned() }
        }
        Some(TAG_ABSORBED) => Record::Absorbed { nonce: v.u64(at + 8).unwrap_or(0) },
        tag => return Err(damaged(&format!("unknown tag {tag:?}"))),
    };
    Ok(Some((rec, len)))
}

/// Builds records in a plain buffer (the archive, written whole).
#[derive(Default)]
pub struct Builder {
    pub buf: Vec<u8>,
}

impl Builder {
    /// A buffer starting with a header.
    pub fn new(role: u32, pid: u32, nonce: u64, started_ms: u64, identity: &str) -> Self {
        let mut buf = vec![0u8; HEADER_LEN];
        write_header(&mut buf, role, pid, nonce, started_ms, identity);
        Builder { buf }
    }

    /// Appends a record; returns its offset.
    pub fn push(&mut self, bytes: Vec<u8>) -> usize {
        let at = self.buf.len();
        self.buf.extend_from_slice(&bytes);
        let end = self.buf.len() as u64;
        self.buf[H_END..H_END + 8].copy_from_slice(&end.to_ne_bytes());
        at
    }
}

/// The identity word at [`H_IDENT_LEN`]: a sequence number above the length, odd while the
/// owner rewrites the identity (a seqlock: `worker_id=` may run while another process renders).
pub fn ident_word(seq: u32, len: usize) -> u32 {
    (seq << 8) | len.min(IDENT_MAX) as u32
}

/// Reads the identity under its seqlock: retries while the owner is rewriting it, and gives up
/// (an empty identity: the pid is shown) rather than return a torn one.
fn read_identity(v: &View) -> String {
    for _ in 0..64 {
        let before = v.u32(H_IDENT_LEN, Ordering::Acquire).unwrap_or(0);
        if (before >> 8) % 2 == 1 {
            std::hint::spin_loop();
            continue;
        }
        let len = ((before & 0xFF) as usize).min(IDENT_MAX);
        let bytes = v.atomic_bytes(H_IDENT, len).unwrap_or_default();
        std::sync::atomic::fence(Ordering::Acquire);
        if v.u32(H_IDENT_LEN, Ordering::Relaxed) == Some(before) {
            return String::from_utf8_lossy(&bytes).into_owned();
        }
    }
    String::new()
}

/// Writes a header into the first [`HEADER_LEN`] bytes of `buf`.
pub fn write_header(buf: &mut [u8], role: u32, pid: u32, nonce: u64, started_ms: u64, identity: &str) {
    buf[..8].copy_from_slice(&MAGIC);
    buf[H_VERSION..H_VERSION + 4].copy_from_slice(&VERSION.to_ne_bytes());
    buf[H_ROLE..H_ROLE + 4].copy_from_slice(&role.to_ne_bytes());
    buf[H_PID..H_PID + 4].copy_from_slice(&pid.to_ne_bytes());
    buf[H_NONCE..H_NONCE + 8].copy_from_slice(&nonce.to_ne_bytes());
    buf[H_STARTED..H_STARTED + 8].copy_from_slice(&started_ms.to_ne_bytes());
    let id = truncate_identity(identity);
    buf[H_IDENT..H_IDENT + id.len()].copy_from_slice(id.as_bytes());
    buf[H_IDENT_LEN..H_IDENT_LEN + 4].copy_from_slice(&ident_word(0, id.len()).to_ne_bytes());
    buf[H_END..H_END + 8].copy_from_slice(&(HEADER_LEN as u64).to_ne_bytes());
}

/// At most [`IDENT_MAX`] bytes, cut on a character boundary.
pub fn truncate_identity(s: &str) -> &str {
    let mut n = s.len().min(IDENT_MAX);
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    &s[..n]
}

/// A complete family record (length included).
pub fn family_record(desc: &[u8], dropped: u64) -> Vec<u8> {
    let len = align8(F_DESC + desc.len());
    let mut r = vec![0u8; len];
    r[..4].copy_from_slice(&(len as u32).to_ne_bytes());
    r[4] = TAG_FAMILY;
    r[F_DROPPED..F_DROPPED + 8].copy_from_slice(&dropped.to_ne_bytes());
    r[F_DESC_LEN..F_DESC_LEN + 4].copy_from_slice(&(desc.len() as u32).to_ne_bytes());
    r[F_DESC..F_DESC + desc.len()].copy_from_slice(desc);
    r
}

/// A complete series record (length included).
///
/// # Errors
/// An argument error when it would exceed [`RECORD_MAX`] or has too many cells.
pub fn series_record(family: usize, key: &[u8], origin: &str, cells: &[u64]) -> Result<Vec<u8>> {
    let origin = truncate_identity(origin);
    let len = align8(S_CELLS + cells.len() * 8 + key.len() + origin.len());
    if len > RECORD_MAX || cells.len() > usize::from(u16::MAX) {
        return Err(Error::argument(format!("series too large for a multi-process file ({len} bytes)")));
    }
    let mut r = vec![0u8; len];
    r[..4].copy_from_slice(&(len as u32).to_ne_bytes());
    r[4] = TAG_SERIES;
    r[R_NCELLS..R_NCELLS + 2].copy_from_slice(&(cells.len() as u16).to_ne_bytes());
    r[S_FAMILY..S_FAMILY + 8].copy_from_slice(&(family as u64).to_ne_bytes());
    r[S_KEY_LEN..S_KEY_LEN + 4].copy_from_slice(&(key.len() as u32).to_ne_bytes());
    r[S_ORIGIN_LEN..S_ORIGIN_LEN + 2].copy_from_slice(&(origin.len() as u16).to_ne_bytes());
    for (i, c) in cells.iter().enumerate() {
        r[S_CELLS + i * 8..S_CELLS + i * 8 + 8].copy_from_slice(&c.to_ne_bytes());
    }
    let key_at = S_CELLS + cells.len() * 8;
    r[key_at..key_at + key.len()].copy_from_slice(key);
    r[key_at + key.len()..key_at + key.len() + origin.len()].copy_from_slice(origin.as_bytes());
    Ok(r)
}

/// A complete absorbed-file record.
pub fn absorbed_record(nonce: u64) -> Vec<u8> {
    let mut r = vec![0u8; 16];
    r[..4].copy_from_slice(&16u32.to_ne_bytes());
    r[4] = TAG_ABSORBED;
    r[8..16].copy_from_slice(&nonce.to_ne_bytes());
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes are the file format: a change here would misread files written by the release
    /// before it.
    #[test]
    fn description_codes_are_fixed_and_round_trip() {
        let gauge = |mode| FamilyDesc::new("g", "h", MetricKind::Gauge, &["k"], None).unwrap().with_aggregation(mode).unwrap();
        let expected = [
            (GaugeMode::All, 0),
            (GaugeMode::LiveAll, 1),
            (GaugeMode::Sum, 2),
            (GaugeMode::LiveSum, 3),
            (GaugeMode::Max, 4),
            (GaugeMode::Min, 5),
            (GaugeMode::MostRecent, 6),
        ];
        for (mode, code) in expected {
            let bytes = encode_desc(&gauge(mode));
            assert_eq!(bytes[..2], [1, code], "{mode:?}");
            assert_eq!(decode_desc(&bytes).unwrap().aggregation, mode);
        }
        let counter = FamilyDesc::new("c_total", "h", MetricKind::Counter, &[] as &[&str], None).unwrap();
        assert_eq!(encode_desc(&counter)[0], 0);
        let histogram = FamilyDesc::new("d", "h", MetricKind::Histogram, &[] as &[&str], Some(Buckets::new(&[1.0]).unwrap())).unwrap();
        assert_eq!(encode_desc(&histogram)[0], 2);
        let mut bad = encode_desc(&counter);
        bad[0] = 3;
        assert!(decode_desc(&bad).is_err(), "an unknown kind is refused");
        let mut bad = encode_desc(&gauge(GaugeMode::Sum));
        bad[1] = 7;
        assert!(decode_desc(&bad).is_err(), "an unknown aggregation is refused");
    }
}
