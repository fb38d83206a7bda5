//! What the scanner reports: [`ScanError`] when a body cannot be read as a
//! page of records, [`PageEnd`] when it can, and the pure helpers that
//! build a syntax error without putting body content in it.

use super::{MAX_RECORD_BYTES, MAX_TOKEN_BYTES};
#[cfg(doc)]
use crate::evolux::hints::Hint;
use crate::evolux::hints::Hints;

/// Why a body could not be read as a page of records. Holds no body content
/// but the offending byte, so no personal data reaches a log.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScanError {
    /// A byte that cannot appear there in JSON.
    #[error("not JSON: unexpected {found} at byte {offset}{hint}")]
    Syntax {
        /// Position in the body.
        offset: u64,
        /// The byte, printed safely.
        found: String,
        /// A guess at what the body is.
        hint: &'static str,
    },
    /// The body ended in the middle of the document.
    #[error("body ended early, after {0} bytes: truncated JSON")]
    Truncated(u64),
    /// No records array at any of the configured pointers.
    #[error(
        "no records array at {looked}; {found} (set response.records in the config file if the body differs)"
    )]
    NoRecords {
        /// Where the records were looked for.
        looked: String,
        /// What the body held instead: its type, and an object's top-level
        /// keys with their JSON types (never a value).
        found: String,
    },
    /// Arrays at two of the places records may be.
    #[error(
        "arrays at two of the places records may be: set response.records in the config file to the one that holds them"
    )]
    TwoRecordArrays,
    /// A record over [`MAX_RECORD_BYTES`].
    #[error("a record is larger than {MAX_RECORD_BYTES} bytes")]
    RecordTooLarge,
    /// A key or next link over the token limit.
    #[error("a key or next link is larger than {MAX_TOKEN_BYTES} bytes")]
    TokenTooLarge,
    /// The next link is neither a string nor null.
    #[error("the next link at {0} is neither a string nor null")]
    BadNext(String),
    /// Non-blank bytes after the document.
    #[error("unexpected data after the JSON document at byte {0}")]
    TrailingData(u64),
}

/// What a finished page said besides its records.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PageEnd {
    /// The next-page link in the body, if any (the first [`Hint::Next`]
    /// stated, when it is a non-empty string).
    pub next: Option<String>,
    /// Where the records array was (a pointer, `(root)` for a bare array).
    pub records_at: Option<String>,
    /// Every hint the page stated.
    pub hints: Hints,
    /// Elements of the records array.
    pub records: u64,
    /// Elements that were not usable records (not an object, or not valid
    /// JSON); included in `records`, never handed to the sink.
    pub invalid: u64,
}

/// The syntax error for byte `b` at body offset `offset`, with a hint when
/// the body looks like an HTML or XML page.
pub(super) fn syntax_error(offset: u64, b: u8) -> ScanError {
    let hint = if offset == 0 && b == b'<' {
        " (an HTML or XML page, not the API's JSON)"
    } else {
        ""
    };
    ScanError::Syntax {
        offset,
        found: describe_byte(b),
        hint,
    }
}

/// A byte as it may be printed in a log: quoted when it is visible ASCII,
/// in hex otherwise.
pub(super) fn describe_byte(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("byte 0x{b:02x}")
    }
}
