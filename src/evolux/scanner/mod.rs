//! A push parser for response bodies: fed chunks as they arrive, it finds
//! the records array and the next link, hands each complete record to a
//! [`RecordSink`], and keeps nothing else.
//!
//! Outside the records it tracks the JSON structure only along the paths
//! that can lead to the records or the next link; every other value is
//! skipped by bracket counting. Inside the records array, each record's
//! bytes are found by bracket counting too, then parsed in place from the
//! chunk (or from a small carry-over buffer when the record straddles two
//! chunks). Memory is therefore bounded by the chunk size plus the largest
//! record, whatever the number of records.
//!
//! The parser is split by what it is doing at the current byte (`Mode`):
//! - `structure`: the state machine outside the records (keys, colons,
//!   commas, brackets) and where a value sits relative to the pointers;
//! - `records`: the elements of the records array, parsed in place or
//!   collected in the carry-over buffer;
//! - `tokens`: string and bare tokens (keys, the next link, scalars);
//! - `error`: [`ScanError`] and [`PageEnd`].
//!
//! [`BodyScanner::feed`] dispatches each stretch of a chunk to the step for
//! the current mode; every step returns the index it stopped at.

mod error;
mod records;
mod structure;
mod tokens;

#[cfg(test)]
mod tests;

pub use error::{PageEnd, ScanError};

use super::fields::{Pointer, ResponseLayout};
use super::hints::{Hint, Hints, Scalar};
use super::json::Skipper;
use crate::model::RecordSink;
use records::CarryOver;
use structure::{Expect, Frame};
use tokens::Purpose;

/// Largest single record accepted (a real one is well under 1 KiB).
pub const MAX_RECORD_BYTES: usize = 1 << 20;
/// Largest key or next link accepted outside the records.
const MAX_TOKEN_BYTES: usize = 64 << 10;

/// What the scanner is in the middle of at the current byte.
#[derive(Debug)]
enum Mode {
    /// Between tokens: the next byte is read by the structural state machine.
    Structural,
    /// Skipping a value nobody asked for.
    Skip(Skipper),
    /// Collecting the bytes of one record.
    Capture(Skipper),
    /// Inside a string token, after its opening quote.
    Str {
        purpose: Purpose,
        escape: bool,
        store: bool,
    },
    /// Inside a bare token (number, true, false, null).
    Scalar { purpose: Purpose },
}

/// The push parser for one response body.
pub struct BodyScanner<'l> {
    layout: &'l ResponseLayout,
    frames: Vec<Frame>,
    expect: Expect,
    mode: Mode,
    token: Vec<u8>,
    /// Where the bare token in `token` started, for its syntax error.
    token_at: u64,
    /// The first part of a record that straddles chunks.
    carry: CarryOver,
    /// The records pointer the records array was found at, once it was.
    records_at: Option<usize>,
    /// The first value met at each hint pointer (parallel to the layout's).
    hints: Vec<Option<Scalar>>,
    offset: u64,
    records: u64,
    invalid: u64,
    /// The record being captured was already found not to be JSON.
    capture_invalid: bool,
    /// What the body is, for a body without records: the root's JSON type
    /// and a root object's first keys with their values' types.
    shape: Shape,
}

/// The outline of a body: names and types, never values.
#[derive(Debug, Default)]
struct Shape {
    root: Option<&'static str>,
    keys: Vec<(String, &'static str)>,
    more_keys: usize,
}

/// Top-level keys named in a message, at most.
const SHAPE_KEYS: usize = 24;

impl Shape {
    /// What a person reads: "the body is an object with keys count
    /// (number), results (array)".
    fn describe(&self) -> String {
        match self.root {
            None => "the body is empty".into(),
            Some("object") if self.keys.is_empty() => {
                "the body is an object, with no key read (the exporter looks inside it only for the pointers configured)".into()
            }
            Some("object") => {
                let keys: Vec<String> = self
                    .keys
                    .iter()
                    .map(|(k, t)| format!("{k:?} ({t})"))
                    .collect();
                let more = match self.more_keys {
                    0 => String::new(),
                    n => format!(" and {n} more"),
                };
                format!("the body is an object with keys {}{more}", keys.join(", "))
            }
            Some(t) => format!("the body is {} {t}", if t == "array" { "an" } else { "a" }),
        }
    }
}

/// The JSON type of a value that starts with byte `b`.
fn json_type(b: u8) -> &'static str {
    match b {
        b'{' => "object",
        b'[' => "array",
        b'"' => "string",
        b't' | b'f' => "boolean",
        b'n' => "null",
        _ => "number",
    }
}

impl<'l> BodyScanner<'l> {
    /// A scanner for one body, looking where `layout` says.
    pub fn new(layout: &'l ResponseLayout) -> Self {
        BodyScanner {
            layout,
            frames: Vec::new(),
            expect: Expect::Value,
            mode: Mode::Structural,
            token: Vec::new(),
            carry: CarryOver::default(),
            records_at: None,
            hints: vec![None; layout.hints.len()],
            offset: 0,
            token_at: 0,
            records: 0,
            invalid: 0,
            capture_invalid: false,
            shape: Shape::default(),
        }
    }

    /// Feeds the next chunk of the body.
    pub fn feed(&mut self, chunk: &[u8], sink: &mut impl RecordSink) -> Result<(), ScanError> {
        let mut i = 0;
        while i < chunk.len() {
            i = match &mut self.mode {
                Mode::Structural => self.structural_step(chunk, i, sink)?,
                Mode::Capture(skipper) => {
                    let last = skipper.scan(&chunk[i..]);
                    self.capture_step(chunk, i, last, sink)?
                }
                Mode::Skip(skipper) => match skipper.scan(&chunk[i..]) {
                    Some(rel) => self.skip_done(i + rel + 1),
                    None => chunk.len(),
                },
                Mode::Str {
                    purpose,
                    escape,
                    store,
                } => {
                    let (purpose, store) = (*purpose, *store);
                    let close = tokens::string_body_end(&chunk[i..], escape);
                    self.string_step(chunk, i, close, purpose, store)?
                }
                Mode::Scalar { purpose } => {
                    let purpose = *purpose;
                    self.scalar_step(chunk, i, purpose)?
                }
            };
        }
        self.offset += chunk.len() as u64;
        Ok(())
    }

    /// Ends the body: checks it was a whole document with a records array.
    pub fn finish(mut self) -> Result<PageEnd, ScanError> {
        if let Mode::Scalar { purpose } = self.mode {
            self.mode = Mode::Structural;
            self.scalar_done(purpose)?;
        }
        if self.expect != Expect::Done || !matches!(self.mode, Mode::Structural) {
            return Err(ScanError::Truncated(self.offset));
        }
        let Some(records_at) = self.records_at else {
            let list: Vec<String> = self.layout.records.iter().map(Pointer::to_string).collect();
            return Err(ScanError::NoRecords {
                looked: list.join(" or "),
                found: self.shape.describe(),
            });
        };
        let found: Vec<(Hint, String, Scalar)> = self
            .layout
            .hints
            .iter()
            .zip(self.hints)
            .filter_map(|((hint, pointer), v)| v.map(|v| (*hint, pointer.to_string(), v)))
            .collect();
        let hints = Hints::new(found);
        let next = hints
            .iter()
            .find_map(|(h, _, v)| (h == Hint::Next).then(|| v.text()).flatten())
            .map(str::to_owned);
        Ok(PageEnd {
            next,
            records: self.records,
            invalid: self.invalid,
            records_at: self.layout.records.get(records_at).map(Pointer::to_string),
            hints,
        })
    }

    /// Ends a skipped value whose last byte is just before `end`.
    #[inline]
    fn skip_done(&mut self, end: usize) -> usize {
        self.mode = Mode::Structural;
        self.value_done();
        end
    }
}
