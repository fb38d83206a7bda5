//! Inside the records array: each element is a record (an object) handed to
//! the sink, or counted as invalid.
//!
//! A record that lies whole in the chunk is parsed in place, straight from
//! the chunk: the hot path. One that straddles chunks (or is broken) is
//! collected by bracket counting, its first part held in a [`CarryOver`]
//! buffer bounded by [`MAX_RECORD_BYTES`], and parsed once its last byte
//! arrives.

use super::error::{ScanError, syntax_error};
use super::tokens::Purpose;
use super::{BodyScanner, MAX_RECORD_BYTES, Mode};
use crate::evolux::json::{Skipper, Stop};
use crate::model::{RecordFields, RecordSink};

/// The first part of a record that straddles chunks, held until its last
/// byte arrives. A record over [`MAX_RECORD_BYTES`] is refused as soon as
/// the bytes seen of it exceed the limit.
#[derive(Debug, Default)]
pub(super) struct CarryOver {
    bytes: Vec<u8>,
}

impl CarryOver {
    /// Holds `rest`, the end of a chunk inside a record that goes on in the
    /// next one; refuses it if the record would be too large.
    pub(super) fn hold(&mut self, rest: &[u8]) -> Result<(), ScanError> {
        if rest.len() + self.bytes.len() > MAX_RECORD_BYTES {
            return Err(ScanError::RecordTooLarge);
        }
        self.bytes.extend_from_slice(rest);
        Ok(())
    }

    /// The whole record, given `tail`, its bytes in the chunk that ends it:
    /// `tail` itself when nothing is held, else the held bytes and `tail`.
    #[inline]
    pub(super) fn complete<'a>(&'a mut self, tail: &'a [u8]) -> Result<&'a [u8], ScanError> {
        if self.bytes.is_empty() {
            return Ok(tail);
        }
        self.bytes.extend_from_slice(tail);
        if self.bytes.len() > MAX_RECORD_BYTES {
            return Err(ScanError::RecordTooLarge);
        }
        Ok(&self.bytes)
    }

    /// Forgets the held bytes (keeping the buffer for the next record).
    #[inline]
    pub(super) fn clear(&mut self) {
        self.bytes.clear();
    }
}

impl BodyScanner<'_> {
    /// Starts the element of the records array at `chunk[i]`; returns the
    /// index to go on from.
    #[inline]
    pub(super) fn element_step(
        &mut self,
        chunk: &[u8],
        i: usize,
        at: u64,
        sink: &mut impl RecordSink,
    ) -> Result<usize, ScanError> {
        match chunk[i] {
            b'{' => Ok(self.record_step(chunk, i, sink)),
            b'[' => {
                self.count_invalid_element();
                // The skipper must see the opening bracket.
                self.mode = Mode::Skip(Skipper::default());
                Ok(i)
            }
            b'"' => {
                self.count_invalid_element();
                self.mode = Mode::Skip(Skipper::string());
                Ok(i + 1)
            }
            b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
                // Counted once the token is known to be valid JSON.
                self.begin_scalar(at, Purpose::InvalidRecord);
                Ok(i)
            }
            b => Err(syntax_error(at, b)),
        }
    }

    /// The hot path: the record opening at `chunk[i]` parsed in place from
    /// the chunk. If it does not end in this chunk (or is broken), starts
    /// collecting it instead, from its opening byte.
    #[inline]
    fn record_step(&mut self, chunk: &[u8], i: usize, sink: &mut impl RecordSink) -> usize {
        let mut fields = RecordFields::default();
        match self.layout.walk_record(&chunk[i..], &mut fields) {
            Ok(len) => {
                sink.raw(&chunk[i..i + len]);
                sink.record(&fields);
                self.records += 1;
                self.value_done();
                i + len
            }
            Err(stop) => {
                self.capture_invalid = stop == Stop::Invalid;
                self.mode = Mode::Capture(Skipper::default());
                i
            }
        }
    }

    /// Goes on collecting a record from `chunk[i]`, given where the
    /// skipper found its last byte (relative to `i`), if in this chunk.
    #[inline]
    pub(super) fn capture_step(
        &mut self,
        chunk: &[u8],
        i: usize,
        last: Option<usize>,
        sink: &mut impl RecordSink,
    ) -> Result<usize, ScanError> {
        match last {
            Some(rel) => {
                let end = i + rel + 1;
                self.capture_done(&chunk[i..end], sink)?;
                Ok(end)
            }
            None => {
                self.carry.hold(&chunk[i..])?;
                Ok(chunk.len())
            }
        }
    }

    /// Ends a collected record whose last bytes are `tail`: hands it to the
    /// sink if it is a whole valid record, else counts it invalid.
    fn capture_done(&mut self, tail: &[u8], sink: &mut impl RecordSink) -> Result<(), ScanError> {
        let bytes = self.carry.complete(tail)?;
        let mut fields = RecordFields::default();
        let whole =
            !self.capture_invalid && self.layout.walk_record(bytes, &mut fields) == Ok(bytes.len());
        if whole {
            sink.raw(bytes);
            sink.record(&fields);
        } else {
            self.invalid += 1;
        }
        self.records += 1;
        self.carry.clear();
        self.mode = Mode::Structural;
        self.value_done();
        Ok(())
    }

    /// Counts an element of the records array that is not a record.
    #[inline]
    pub(super) fn count_invalid_element(&mut self) {
        self.records += 1;
        self.invalid += 1;
    }
}
