//! `TaskerMetrics::ExpositionStream`: a scrape body handed to Ruby piece by piece, each piece
//! rendered (and gzipped) without the GVL; see `core::exposition::stream`.

use crate::core::exposition::stream::Stream;
use crate::ruby::errors::{rb_method, Failure};
use crate::ruby::gvl::without_gvl;
use magnus::{prelude::*, Error, RModule, RString, Ruby};
use parking_lot::Mutex;

/// Bytes a piece holds at least (but the last): large enough that a Ruby `each` costs little
/// per byte, small enough to bound what a scrape holds at once.
const TEXT_PIECE: usize = 256 * 1024;
const GZIP_PIECE: usize = 64 * 1024;

#[magnus::wrap(class = "TaskerMetrics::ExpositionStream", free_immediately, size)]
pub(crate) struct ExpositionStream {
    /// `None` once read to the end, closed, or broken off by an interrupt.
    stream: Mutex<Option<Stream>>,
    gzip: bool,
    /// Whether the stream ended other than by being read to the end.
    broken: std::sync::atomic::AtomicBool,
}

impl ExpositionStream {
    pub(crate) fn new(stream: Stream, gzip: bool) -> Self {
        ExpositionStream { stream: Mutex::new(Some(stream)), gzip, broken: std::sync::atomic::AtomicBool::new(false) }
    }
}

/// `_next_chunk` → the next piece (binary when gzipped, UTF-8 otherwise), or nil at the end.
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
    let (piece, stream) = next_piece(stream, rb_self.gzip)?;
    rb_self.broken.store(false, std::sync::atomic::Ordering::Relaxed);
    let Some(piece) = piece else { return Ok(None) };
    *guard = Some(stream);
    Ok(Some(if rb_self.gzip { ruby.str_from_slice(&piece) } else { ruby.enc_str_new(&piece, ruby.utf8_encoding()) }))
}

/// Renders the next piece of `stream` without the GVL; the stream comes back with it.
///
/// # Errors
/// An interrupt that arrived meanwhile (the stream is dropped then).
pub(crate) fn next_piece(mut stream: Stream, gzip: bool) -> Result<(Option<Vec<u8>>, Stream), Error> {
    let min = if gzip { GZIP_PIECE } else { TEXT_PIECE };
    without_gvl(move || (stream.next_chunk(min), stream))
}

/// The whole of `stream` as one String (binary when gzipped, UTF-8 otherwise). The GVL is
/// released for each piece's rendering and held only to append it, so other threads run
/// between pieces: a 25 MB body never holds the GVL for the length of one copy of it.
///
/// # Errors
/// An interrupt that arrived meanwhile.
pub(crate) fn read_whole(ruby: &Ruby, mut stream: Stream, gzip: bool) -> Result<RString, Error> {
    let body = ruby.enc_str_new(b"", if gzip { ruby.ascii8bit_encoding() } else { ruby.utf8_encoding() });
    loop {
        let (piece, rest) = next_piece(stream, gzip)?;
        let Some(piece) = piece else { return Ok(body) };
        body.cat(&piece);
        stream = rest;
    }
}

/// `close`: drops what is left (the families it still walks can bury removed series).
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
