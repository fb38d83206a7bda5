//! String and bare tokens outside the records: keys, the next link, and
//! scalars (which are checked to be JSON, then kept only when they are the
//! next link, or counted as an invalid element of the records array).
//!
//! A token may straddle chunks; its bytes are gathered in the scanner's
//! token buffer, bounded by `MAX_TOKEN_BYTES`.

use memchr::memchr2;

use super::error::{ScanError, syntax_error};
use super::structure::{Expect, Seg};
use super::{BodyScanner, MAX_TOKEN_BYTES, Mode};
use crate::evolux::hints::{Hint, Scalar};
use crate::evolux::json::{decode_escaped, is_scalar_byte};

/// What to do with a string or scalar token once it is complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Purpose {
    /// An object key: it names the frame's current member.
    Key,
    /// The value of the hint pointer at this index.
    Hint(usize),
    /// A value nobody asked for (checked, then dropped).
    Ignore,
    /// A scalar element of the records array (counted invalid).
    InvalidRecord,
}

/// Inside a string, after its opening quote (and after a backslash when
/// `escape` is set): the index of its closing quote in `bytes`, or `None`
/// when the string goes on past them. `escape` is left set when `bytes`
/// ends on a backslash.
#[inline]
pub(super) fn string_body_end(bytes: &[u8], escape: &mut bool) -> Option<usize> {
    let mut j = 0;
    while j < bytes.len() {
        if *escape {
            *escape = false;
            j += 1;
            continue;
        }
        match memchr2(b'"', b'\\', &bytes[j..]) {
            None => return None,
            Some(p) if bytes[j + p] == b'\\' => {
                *escape = true;
                j += p + 1;
            }
            Some(p) => return Some(j + p),
        }
    }
    None
}

/// The index of the first byte at or after `i` that cannot be part of a
/// bare token, or `bytes.len()`.
#[inline]
pub(super) fn scalar_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && is_scalar_byte(bytes[i]) {
        i += 1;
    }
    i
}

/// A bare token that is JSON: `true`, `false`, `null` or a number.
pub(super) fn is_json_scalar(token: &[u8]) -> bool {
    matches!(token, b"true" | b"false" | b"null")
        || serde_json::from_slice::<serde_json::Number>(token).is_ok()
}

/// The text of a string token's raw bytes (between the quotes), if they are
/// valid UTF-8 with valid escapes.
pub(super) fn decode_string(raw: &[u8]) -> Option<String> {
    if raw.contains(&b'\\') {
        decode_escaped(raw)
    } else {
        std::str::from_utf8(raw).ok().map(str::to_owned)
    }
}

impl BodyScanner<'_> {
    /// Keeps the first value met at hint pointer `idx`.
    fn hint_found(&mut self, idx: usize, value: Scalar) {
        if let Some(slot @ None) = self.hints.get_mut(idx) {
            *slot = Some(value);
        }
    }

    /// Starts a string token after its opening quote.
    pub(super) fn begin_string(&mut self, purpose: Purpose) {
        self.token.clear();
        self.mode = Mode::Str {
            purpose,
            escape: false,
            store: true,
        };
    }

    /// Starts a bare token at body offset `at` (its first byte is read by
    /// [`BodyScanner::scalar_step`]).
    pub(super) fn begin_scalar(&mut self, at: u64, purpose: Purpose) {
        self.token.clear();
        self.token_at = at;
        self.mode = Mode::Scalar { purpose };
    }

    /// Goes on with a string token from `chunk[i]`, given where its closing
    /// quote is (relative to `i`), if in this chunk. `store` says whether
    /// its bytes are still being kept.
    #[inline]
    pub(super) fn string_step(
        &mut self,
        chunk: &[u8],
        i: usize,
        close: Option<usize>,
        purpose: Purpose,
        store: bool,
    ) -> Result<usize, ScanError> {
        let j = close.map_or(chunk.len(), |rel| i + rel);
        if store {
            self.store_string_bytes(&chunk[i..j], purpose)?;
        }
        if close.is_none() {
            return Ok(chunk.len());
        }
        let still_stored = matches!(self.mode, Mode::Str { store: true, .. });
        self.mode = Mode::Structural;
        self.string_done(purpose, still_stored)?;
        Ok(j + 1)
    }

    /// Adds `bytes` to the string token. A key too long to match a pointer
    /// is kept scanning but no longer stored; a next link that long is an
    /// error.
    fn store_string_bytes(&mut self, bytes: &[u8], purpose: Purpose) -> Result<(), ScanError> {
        if self.token.len() + bytes.len() <= MAX_TOKEN_BYTES {
            self.token.extend_from_slice(bytes);
            return Ok(());
        }
        if purpose != Purpose::Key {
            return Err(ScanError::TokenTooLarge);
        }
        self.token.clear();
        if let Mode::Str { store, .. } = &mut self.mode {
            *store = false;
        }
        Ok(())
    }

    /// Goes on with a bare token from `chunk[i]`; it ends at the first byte
    /// that cannot be part of it, which is then read structurally.
    #[inline]
    pub(super) fn scalar_step(
        &mut self,
        chunk: &[u8],
        i: usize,
        purpose: Purpose,
    ) -> Result<usize, ScanError> {
        let end = scalar_end(chunk, i);
        if self.token.len() + (end - i) > MAX_TOKEN_BYTES {
            return Err(ScanError::TokenTooLarge);
        }
        self.token.extend_from_slice(&chunk[i..end]);
        if end < chunk.len() {
            self.mode = Mode::Structural;
            self.scalar_done(purpose)?;
        }
        Ok(end)
    }

    /// A string token ended; `stored` says whether its bytes were kept.
    fn string_done(&mut self, purpose: Purpose, stored: bool) -> Result<(), ScanError> {
        match purpose {
            Purpose::Key => {
                let seg = if stored {
                    decode_string(&self.token).map_or(Seg::Unmatched, Seg::Key)
                } else {
                    Seg::Unmatched
                };
                if let Some(f) = self.frames.last_mut() {
                    f.seg = seg;
                }
                self.expect = Expect::Colon;
            }
            Purpose::Hint(idx) => {
                let text = decode_string(&self.token)
                    .ok_or_else(|| ScanError::BadNext(self.layout.hints[idx].1.to_string()))?;
                self.hint_found(idx, Scalar::Str(text));
                self.value_done();
            }
            Purpose::Ignore | Purpose::InvalidRecord => self.value_done(),
        }
        self.token.clear();
        Ok(())
    }

    /// A bare token ended: checks it is JSON, then records what it means.
    pub(super) fn scalar_done(&mut self, purpose: Purpose) -> Result<(), ScanError> {
        if !is_json_scalar(&self.token) {
            let b = self.token.first().copied().unwrap_or(b'?');
            return Err(syntax_error(self.token_at, b));
        }
        match purpose {
            Purpose::Hint(idx) => {
                let value = match self.token.as_slice() {
                    b"null" => Scalar::Null,
                    b"true" => Scalar::Bool(true),
                    b"false" => Scalar::Bool(false),
                    number => Scalar::Number(String::from_utf8_lossy(number).into_owned()),
                };
                let (hint, pointer) = &self.layout.hints[idx];
                // A next link is a string or null; anything else there is
                // not a link the exporter can follow.
                if *hint == Hint::Next && value != Scalar::Null {
                    return Err(ScanError::BadNext(pointer.to_string()));
                }
                self.hint_found(idx, value);
            }
            Purpose::InvalidRecord => self.count_invalid_element(),
            Purpose::Key | Purpose::Ignore => {}
        }
        self.token.clear();
        self.value_done();
        Ok(())
    }
}
