//! The structural state machine outside the records: what byte may come
//! next ([`Expect`]), the open containers on the way to the current value
//! ([`Frame`]), and where a value about to start sits relative to the
//! configured pointers ([`relation`]).
//!
//! Containers are only opened (pushed as frames) when they can lead to the
//! records array or the next link; every other value is handed to a
//! [`Skipper`], so the frame stack stays as deep as the longest pointer.

use super::error::{ScanError, syntax_error};
use super::tokens::Purpose;
use super::{BodyScanner, Mode};
use crate::evolux::fields::{Pointer, ResponseLayout};
use crate::evolux::json::{Skipper, is_ws};
use crate::model::RecordSink;

/// What the structural state machine accepts at the next non-blank byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Expect {
    /// A value (after a colon or a comma in an array, or at the start).
    Value,
    /// A value or the `]` of an array just opened.
    ValueOrEnd,
    /// A key or the `}` of an object just opened.
    KeyOrEnd,
    /// A key (after a comma in an object).
    Key,
    /// The colon after a key.
    Colon,
    /// A comma or the end of the innermost container.
    CommaOrEnd,
    /// Nothing but whitespace: the document is complete.
    Done,
}

/// How an open container is reached from its parent.
#[derive(Clone, Debug)]
pub(super) enum Seg {
    /// Under this key of an object.
    Key(String),
    /// At this index of an array.
    Index(usize),
    /// A key too long to match any pointer.
    Unmatched,
}

/// One open container on the way to the current value.
#[derive(Debug)]
pub(super) struct Frame {
    /// An object (else an array).
    pub(super) object: bool,
    /// Where the current value sits in this container.
    pub(super) seg: Seg,
    /// This is the records array.
    pub(super) records: bool,
}

/// How a path of open containers relates to one pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Reach {
    /// The path is the pointer.
    At,
    /// The path is a proper prefix of the pointer.
    Toward,
}

/// Where the value about to start sits, relative to all the pointers.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Relation {
    /// It is at this records pointer (the first that matches).
    pub(super) records: Option<usize>,
    /// It contains the place of some pointer, so it must be entered.
    pub(super) prefix: bool,
    /// It is at this hint pointer (the first that matches).
    pub(super) hint: Option<usize>,
}

/// How the path through `frames` relates to `pointer`, if it leads there.
pub(super) fn reach(frames: &[Frame], pointer: &Pointer) -> Option<Reach> {
    let tokens = pointer.tokens();
    if frames.len() > tokens.len() {
        return None;
    }
    for (frame, tok) in frames.iter().zip(tokens) {
        let same = match &frame.seg {
            Seg::Key(k) => k == tok,
            Seg::Index(i) => tok.parse::<usize>().ok() == Some(*i),
            Seg::Unmatched => false,
        };
        if !same {
            return None;
        }
    }
    Some(if frames.len() == tokens.len() {
        Reach::At
    } else {
        Reach::Toward
    })
}

/// Where a value opened under `frames` sits, relative to the pointers of
/// `layout`.
pub(super) fn relation(frames: &[Frame], layout: &ResponseLayout) -> Relation {
    let mut rel = Relation::default();
    for (idx, p) in layout.records.iter().enumerate() {
        match reach(frames, p) {
            Some(Reach::At) if rel.records.is_none() => rel.records = Some(idx),
            Some(Reach::Toward) => rel.prefix = true,
            _ => {}
        }
    }
    for (idx, (_, p)) in layout.hints.iter().enumerate() {
        match reach(frames, p) {
            Some(Reach::At) if rel.hint.is_none() => rel.hint = Some(idx),
            Some(Reach::Toward) => rel.prefix = true,
            _ => {}
        }
    }
    rel
}

impl BodyScanner<'_> {
    /// Reads the byte at `i` outside any token; returns where to go on.
    #[inline]
    pub(super) fn structural_step(
        &mut self,
        chunk: &[u8],
        i: usize,
        sink: &mut impl RecordSink,
    ) -> Result<usize, ScanError> {
        let b = chunk[i];
        if is_ws(b) {
            return Ok(i + 1);
        }
        let at = self.offset + i as u64;
        match self.expect {
            Expect::Value | Expect::ValueOrEnd => self.value_step(chunk, i, at, sink),
            Expect::KeyOrEnd | Expect::Key => self.key_step(b, at).map(|()| i + 1),
            Expect::Colon => self.colon_step(b, at).map(|()| i + 1),
            Expect::CommaOrEnd => self.comma_step(b, at).map(|()| i + 1),
            Expect::Done => Err(ScanError::TrailingData(at)),
        }
    }

    /// Where a value (or the end of an empty array) is expected.
    #[inline]
    fn value_step(
        &mut self,
        chunk: &[u8],
        i: usize,
        at: u64,
        sink: &mut impl RecordSink,
    ) -> Result<usize, ScanError> {
        let b = chunk[i];
        if self.expect == Expect::ValueOrEnd && b == b']' {
            self.close(false, at, b)?;
            Ok(i + 1)
        } else if self.in_records_array() {
            self.element_step(chunk, i, at, sink)
        } else {
            self.begin_value(b, i, at)
        }
    }

    /// Where a key (or the end of an empty object) is expected.
    #[inline]
    fn key_step(&mut self, b: u8, at: u64) -> Result<(), ScanError> {
        if b == b'}' && self.expect == Expect::KeyOrEnd {
            self.close(true, at, b)
        } else if b == b'"' {
            self.begin_string(Purpose::Key);
            Ok(())
        } else {
            Err(syntax_error(at, b))
        }
    }

    /// Where the colon after a key is expected.
    #[inline]
    fn colon_step(&mut self, b: u8, at: u64) -> Result<(), ScanError> {
        if b != b':' {
            return Err(syntax_error(at, b));
        }
        self.expect = Expect::Value;
        Ok(())
    }

    /// After a value: a comma moves to the next element, a bracket closes.
    #[inline]
    fn comma_step(&mut self, b: u8, at: u64) -> Result<(), ScanError> {
        match (b, self.frames.last_mut()) {
            (b',', Some(f)) if f.object => self.expect = Expect::Key,
            (b',', Some(f)) => {
                if let Seg::Index(n) = &mut f.seg {
                    *n += 1;
                }
                self.expect = Expect::Value;
            }
            (b'}', _) => self.close(true, at, b)?,
            (b']', _) => self.close(false, at, b)?,
            _ => return Err(syntax_error(at, b)),
        }
        Ok(())
    }

    /// The innermost open container is the records array.
    #[inline]
    pub(super) fn in_records_array(&self) -> bool {
        self.frames.last().is_some_and(|f| f.records)
    }

    /// Starts a value at byte `b` (index `i`) outside the records array;
    /// returns the index to go on from: `i` when the mode that follows must
    /// see the opening byte itself, `i + 1` when it was consumed here.
    fn begin_value(&mut self, b: u8, i: usize, at: u64) -> Result<usize, ScanError> {
        self.note_shape(b);
        let rel = relation(&self.frames, self.layout);
        match b {
            b'{' if rel.prefix => self.push(true),
            b'[' if rel.records.is_some() && self.records_at.is_none() => {
                self.open_records_array(rel.records)
            }
            // A second array where records may be: which one holds them is
            // anybody's guess, and a guess would count wrong.
            b'[' if rel.records.is_some() => return Err(ScanError::TwoRecordArrays),
            b'[' if rel.prefix => self.push(false),
            b'{' | b'[' => {
                // The skipper must see the opening bracket.
                self.mode = Mode::Skip(Skipper::default());
                return Ok(i);
            }
            b'"' => match rel.hint {
                Some(idx) => self.begin_string(Purpose::Hint(idx)),
                None => self.mode = Mode::Skip(Skipper::string()),
            },
            b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
                // The token starts at this byte.
                self.begin_scalar(at, rel.hint.map_or(Purpose::Ignore, Purpose::Hint));
                return Ok(i);
            }
            _ => return Err(syntax_error(at, b)),
        }
        Ok(i + 1)
    }

    /// Notes the root's type, and a root object's keys with their values'
    /// types, for a body without records (names only, never a value).
    fn note_shape(&mut self, b: u8) {
        match self.frames.as_slice() {
            [] if self.shape.root.is_none() => self.shape.root = Some(super::json_type(b)),
            [f] if f.object => {
                if self.shape.keys.len() >= super::SHAPE_KEYS {
                    self.shape.more_keys += 1;
                    return;
                }
                let key = match &f.seg {
                    Seg::Key(k) => k.chars().take(64).collect(),
                    _ => "(a very long key)".to_string(),
                };
                self.shape.keys.push((key, super::json_type(b)));
            }
            _ => {}
        }
    }

    /// Enters the records array, whose `[` was just read, at the records
    /// pointer `at`.
    fn open_records_array(&mut self, at: Option<usize>) {
        self.records_at = at;
        self.frames.push(Frame {
            object: false,
            seg: Seg::Index(0),
            records: true,
        });
        self.expect = Expect::ValueOrEnd;
    }

    /// Enters a container that leads towards a pointer.
    fn push(&mut self, object: bool) {
        self.frames.push(Frame {
            object,
            seg: if object {
                Seg::Unmatched
            } else {
                Seg::Index(0)
            },
            records: false,
        });
        self.expect = if object {
            Expect::KeyOrEnd
        } else {
            Expect::ValueOrEnd
        };
    }

    /// Leaves the innermost container at its closing byte `b`, which must
    /// match its kind.
    fn close(&mut self, object: bool, at: u64, b: u8) -> Result<(), ScanError> {
        match self.frames.last() {
            Some(f) if f.object == object => {
                self.frames.pop();
                self.value_done();
                Ok(())
            }
            _ => Err(syntax_error(at, b)),
        }
    }

    /// A value ended: a comma or a closing bracket follows, or nothing.
    #[inline]
    pub(super) fn value_done(&mut self) {
        self.expect = if self.frames.is_empty() {
            Expect::Done
        } else {
            Expect::CommaOrEnd
        };
    }
}
