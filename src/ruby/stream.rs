//! `TaskerMetrics::ExpositionStream`: a scrape body handed to Ruby piece by piece, each piece
//! rendered (and gzipped) without the GVL; see `core::exposition::stream`.

use crate::core::exposition::stream::Stream;
use crate::ruby::errors::{rb_method, Failure};
use crate::ruby::gvl::without_gvl;
use magnus::rb_sys::AsRawValue;
use magnus::{prelude::*, Error, RModule, RString, Ruby};
use parking_lot::Mutex;

/// Bytes a piece holds at least (but the last): large enough that a Ruby `each` costs little
/// per byte, small enough to bound what a scrape holds at once.
const TEXT_PIECE: usize = 256 * 1024;
const GZIP_PIECE: usize = 64 * 1024;
/// Bodies up to this size are copied into their String with the GVL held.
const SMALL_BODY: usize = 64 * 1024;

#[magnus::wrap(class = "TaskerMetrics::ExpositionStream", free_immediately, size)]
pub(crate) struct ExpositionStream {
    /// `None` once read to the end, closed, or broken off by an interrupt.
    stream: Mutex<Option<Stream>>,
    binary: bool,
    /// Whether the stream ended other than by being read to the end.
    broken: std::sync::atomic::AtomicBool,
}

impl ExpositionStream {
    pub(crate) fn new(stream: Stream) -> Self {
        let binary = stream.binary();
        ExpositionStream { stream: Mutex::new(Some(stream)), binary, broken: std::sync::atomic::AtomicBool::new(false) }
    }
}

/// `_next_chunk` → the next piece (binary when gzipped or protobuf, UTF-8 otherwise), or nil at
/// the end.
fn next_chunk(ruby: &Ruby, rb_self: &ExpositionStream) -> Result<Option<RString>, Failure> {
    let Some(mut guard) = rb_self.stream.try_lock() else {
        return Err(Error::new(ruby.exception_runtime_error(), "the exposition stream is being read by another thread").into());
    };
    let Some(stream) = guard.take() else {
        if rb_self.broken.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(Error::new(ruby.exception_io_error(), "the exposition stream was interrupted or closed before its end").into());
        }
        return Ok(None);
    };
    // The stream moves into the GVL-free work and back out of it; an interrupt drops it there,
    // and the body then ends with an error rather than silently short.
    rb_self.broken.store(true, std::sync::atomic::Ordering::Relaxed);
    let (piece, stream) = next_piece(stream)?;
    rb_self.broken.store(false, std::sync::atomic::Ordering::Relaxed);
    let Some(piece) = piece else { return Ok(None) };
    *guard = Some(stream);
    Ok(Some(ruby.enc_str_new(&piece, encoding(ruby, rb_self.binary))))
}

/// Renders the next piece of `stream` without the GVL; the stream comes back with it.
///
/// # Errors
/// An interrupt that arrived meanwhile (the stream is dropped then).
pub(crate) fn next_piece(mut stream: Stream) -> Result<(Option<Vec<u8>>, Stream), Error> {
    let min = piece_size(&stream);
    without_gvl(move || (stream.next_chunk(min), stream))
}

/// The least a piece of `stream` holds (see [`TEXT_PIECE`]).
fn piece_size(stream: &Stream) -> usize {
    if stream.gzipped() {
        GZIP_PIECE
    } else {
        TEXT_PIECE
    }
}

/// The whole of `stream` as one String (binary when gzipped or protobuf, UTF-8 otherwise).
/// Rendering and copying both run without the GVL: the String is allocated at its final size with the GVL,
/// then filled without it (a 33 MB copy, page faults included, took ~10 ms with the GVL held,
/// or as long again in reallocations when pieces were appended as they came).
///
/// # Errors
/// An interrupt that arrived meanwhile.
pub(crate) fn read_whole(ruby: &Ruby, mut stream: Stream) -> Result<RString, Error> {
    let min = piece_size(&stream);
    let enc = encoding(ruby, stream.binary());
    let pieces = without_gvl(move || std::iter::from_fn(|| stream.next_chunk(min)).collect::<Vec<_>>())?;
    let total: usize = pieces.iter().map(Vec::len).sum();
    if total <= SMALL_BODY {
        // Small enough to copy with the GVL, and too small for a buffer of its own (an embedded
        // String's bytes live inside the object, which only the GVL keeps still).
        return Ok(ruby.enc_str_new(pieces.concat(), enc));
    }
    let body = ruby.str_buf_new(total);
    body.enc_associate(enc)?;
    // SAFETY: `body` was just made with room for `total` bytes and nothing else can reach it:
    // no Ruby code runs on it while the GVL is released, and GC leaves it (and its buffer) in
    // place, as it is referenced from this stack until `rb_str_set_len` below.
    let dest = unsafe { rb_sys::RSTRING_PTR(body.as_raw()) } as usize;
    without_gvl(move || {
        let mut at = dest as *mut u8;
        for piece in pieces {
            // SAFETY: the pieces' lengths sum to `total`, the buffer's capacity.
            unsafe {
                std::ptr::copy_nonoverlapping(piece.as_ptr(), at, piece.len());
                at = at.add(piece.len());
            }
        }
    })?;
    // SAFETY: `total` bytes were written above; `body` is a String we own.
    unsafe { rb_sys::rb_str_set_len(body.as_raw(), total as std::os::raw::c_long) };
    Ok(body)
}

fn encoding(ruby: &Ruby, binary: bool) -> magnus::encoding::RbEncoding {
    if binary {
        ruby.ascii8bit_encoding()
    } else {
        ruby.utf8_encoding()
    }
}

/// `close`: drops what is left, so the family it was walking can tidy its series list again.
fn close(rb_self: &ExpositionStream) {
    if let Some(mut guard) = rb_self.stream.try_lock() {
        if guard.take().is_some() {
            rb_self.broken.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

pub(crate) fn init(ruby: &Ruby, module: RModule) -> Result<(), Error> {
    let class = module.define_class("ExpositionStream", ruby.class_object())?;
    class.define_private_method("_next_chunk", rb_method!(ruby next_chunk, 0))?;
    class.define_private_method("_close", rb_method!(close, 0))?;
    Ok(())
}
