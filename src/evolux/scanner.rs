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

use memchr::memchr2;

use super::fields::{Pointer, ResponseLayout};
use super::json::{Skipper, Stop, decode_escaped, is_scalar_byte, is_ws};
use crate::model::{RecordFields, RecordSink};

/// Largest single record accepted (a real one is well under 1 KiB).
pub const MAX_RECORD_BYTES: usize = 1 << 20;
/// Largest key or next link accepted outside the records.
const MAX_TOKEN_BYTES: usize = 64 << 10;

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
        "no records array at {0} (set response.records in the config file if the body differs)"
    )]
    NoRecords(String),
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
    /// The next-page link, if any.
    pub next: Option<String>,
    /// Elements of the records array.
    pub records: u64,
    /// Elements that were not usable records (not an object, or not valid
    /// JSON); included in `records`, never handed to the sink.
    pub invalid: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Value,
    ValueOrEnd,
    KeyOrEnd,
    Key,
    Colon,
    CommaOrEnd,
    Done,
}

#[derive(Clone, Debug)]
enum Seg {
    Key(String),
    Index(usize),
    /// A key too long to match any pointer.
    Unmatched,
}

#[derive(Debug)]
struct Frame {
    object: bool,
    seg: Seg,
    records: bool,
}

/// What to do with a string or scalar token once it is complete.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Purpose {
    Key,
    Next(usize),
    Ignore,
    InvalidRecord,
}

#[derive(Debug)]
enum Mode {
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
    Scalar {
        purpose: Purpose,
    },
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
    carry: Vec<u8>,
    records_found: bool,
    next: Vec<Option<Option<String>>>,
    offset: u64,
    records: u64,
    invalid: u64,
    /// The record being captured was already found not to be JSON.
    capture_invalid: bool,
}

fn describe_byte(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("byte 0x{b:02x}")
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
            carry: Vec::new(),
            records_found: false,
            next: vec![None; layout.next.len()],
            offset: 0,
            token_at: 0,
            records: 0,
            invalid: 0,
            capture_invalid: false,
        }
    }

    /// Feeds the next chunk of the body.
    pub fn feed(&mut self, chunk: &[u8], sink: &mut impl RecordSink) -> Result<(), ScanError> {
        let mut i = 0;
        // Start of this chunk's bytes of a record being captured.
        let mut capture_from = 0;
        while i < chunk.len() {
            match &mut self.mode {
                Mode::Capture(sk) => match sk.scan(&chunk[i..]) {
                    Some(rel) => {
                        let end = i + rel + 1;
                        let bytes: &[u8] = if self.carry.is_empty() {
                            &chunk[capture_from..end]
                        } else {
                            self.carry.extend_from_slice(&chunk[capture_from..end]);
                            if self.carry.len() > MAX_RECORD_BYTES {
                                return Err(ScanError::RecordTooLarge);
                            }
                            &self.carry
                        };
                        let mut fields = RecordFields::default();
                        let whole = !self.capture_invalid
                            && self.layout.walk_record(bytes, &mut fields) == Ok(bytes.len());
                        if whole {
                            sink.record(&fields);
                        } else {
                            self.invalid += 1;
                        }
                        self.records += 1;
                        self.carry.clear();
                        self.mode = Mode::Structural;
                        self.value_done();
                        i = end;
                    }
                    None => {
                        if chunk.len() - capture_from + self.carry.len() > MAX_RECORD_BYTES {
                            return Err(ScanError::RecordTooLarge);
                        }
                        self.carry.extend_from_slice(&chunk[capture_from..]);
                        i = chunk.len();
                    }
                },
                Mode::Skip(sk) => match sk.scan(&chunk[i..]) {
                    Some(rel) => {
                        i += rel + 1;
                        self.mode = Mode::Structural;
                        self.value_done();
                    }
                    None => i = chunk.len(),
                },
                Mode::Str {
                    purpose,
                    escape,
                    store,
                } => {
                    let (purpose, store) = (*purpose, *store);
                    let mut j = i;
                    let mut closed = false;
                    while j < chunk.len() {
                        if *escape {
                            *escape = false;
                            j += 1;
                            continue;
                        }
                        match memchr2(b'"', b'\\', &chunk[j..]) {
                            None => {
                                j = chunk.len();
                            }
                            Some(p) if chunk[j + p] == b'\\' => {
                                *escape = true;
                                j += p + 1;
                            }
                            Some(p) => {
                                j += p;
                                closed = true;
                                break;
                            }
                        }
                    }
                    if store {
                        if self.token.len() + (j - i) > MAX_TOKEN_BYTES {
                            if purpose == Purpose::Key {
                                // Too long to match a pointer: keep scanning, store nothing.
                                self.token.clear();
                                if let Mode::Str { store, .. } = &mut self.mode {
                                    *store = false;
                                }
                            } else {
                                return Err(ScanError::TokenTooLarge);
                            }
                        } else {
                            self.token.extend_from_slice(&chunk[i..j]);
                        }
                    }
                    if closed {
                        let still_stored = matches!(self.mode, Mode::Str { store: true, .. });
                        i = j + 1;
                        self.mode = Mode::Structural;
                        self.string_done(purpose, still_stored)?;
                    } else {
                        i = chunk.len();
                    }
                }
                Mode::Scalar { purpose } => {
                    let purpose = *purpose;
                    let start = i;
                    while i < chunk.len() && is_scalar_byte(chunk[i]) {
                        i += 1;
                    }
                    if self.token.len() + (i - start) > MAX_TOKEN_BYTES {
                        return Err(ScanError::TokenTooLarge);
                    }
                    self.token.extend_from_slice(&chunk[start..i]);
                    if i < chunk.len() {
                        self.mode = Mode::Structural;
                        self.scalar_done(purpose)?;
                    }
                }
                Mode::Structural => {
                    let b = chunk[i];
                    if is_ws(b) {
                        i += 1;
                        continue;
                    }
                    let at = self.offset + i as u64;
                    match self.expect {
                        Expect::Value | Expect::ValueOrEnd => {
                            if self.expect == Expect::ValueOrEnd && b == b']' {
                                self.close(false, at, b)?;
                            } else if b == b'{' && self.frames.last().is_some_and(|f| f.records) {
                                // The hot path: a record parsed in place from the chunk.
                                let mut fields = RecordFields::default();
                                match self.layout.walk_record(&chunk[i..], &mut fields) {
                                    Ok(len) => {
                                        sink.record(&fields);
                                        self.records += 1;
                                        i += len;
                                        self.value_done();
                                    }
                                    Err(stop) => {
                                        // It straddles chunks (or is broken): collect it whole.
                                        self.capture_invalid = stop == Stop::Invalid;
                                        self.mode = Mode::Capture(Skipper::default());
                                        capture_from = i;
                                    }
                                }
                                continue;
                            } else {
                                if self.begin_value(b, at)? {
                                    capture_from = i;
                                    continue; // the skipper must see the opening byte
                                }
                                if matches!(self.mode, Mode::Skip(_)) && b != b'"' {
                                    continue;
                                }
                                if matches!(self.mode, Mode::Scalar { .. }) {
                                    continue;
                                }
                            }
                            i += 1;
                        }
                        Expect::KeyOrEnd | Expect::Key => {
                            if b == b'}' && self.expect == Expect::KeyOrEnd {
                                self.close(true, at, b)?;
                            } else if b == b'"' {
                                self.token.clear();
                                self.mode = Mode::Str {
                                    purpose: Purpose::Key,
                                    escape: false,
                                    store: true,
                                };
                            } else {
                                return Err(self.syntax(at, b));
                            }
                            i += 1;
                        }
                        Expect::Colon => {
                            if b != b':' {
                                return Err(self.syntax(at, b));
                            }
                            self.expect = Expect::Value;
                            i += 1;
                        }
                        Expect::CommaOrEnd => {
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
                                _ => return Err(self.syntax(at, b)),
                            }
                            i += 1;
                        }
                        Expect::Done => return Err(ScanError::TrailingData(at)),
                    }
                }
            }
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
        if !self.records_found {
            let list: Vec<String> = self.layout.records.iter().map(Pointer::to_string).collect();
            return Err(ScanError::NoRecords(list.join(" or ")));
        }
        let next = self.next.into_iter().flatten().flatten().next();
        Ok(PageEnd {
            next,
            records: self.records,
            invalid: self.invalid,
        })
    }

    fn syntax(&self, offset: u64, b: u8) -> ScanError {
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

    /// Where the value about to start sits, relative to the pointers.
    fn relation(&self) -> Relation {
        let path: Vec<&Seg> = self.frames.iter().map(|f| &f.seg).collect();
        let matches = |p: &Pointer| -> Option<bool> {
            // Some(true): exact match, Some(false): path is a proper prefix.
            if path.len() > p.tokens().len() {
                return None;
            }
            for (seg, tok) in path.iter().zip(p.tokens()) {
                let ok = match seg {
                    Seg::Key(k) => k == tok,
                    Seg::Index(i) => tok.parse::<usize>().ok() == Some(*i),
                    Seg::Unmatched => false,
                };
                if !ok {
                    return None;
                }
            }
            Some(path.len() == p.tokens().len())
        };
        let mut rel = Relation::default();
        for p in &self.layout.records {
            match matches(p) {
                Some(true) => rel.records = true,
                Some(false) => rel.prefix = true,
                None => {}
            }
        }
        for (idx, p) in self.layout.next.iter().enumerate() {
            match matches(p) {
                Some(true) if rel.next.is_none() => rel.next = Some(idx),
                Some(false) => rel.prefix = true,
                _ => {}
            }
        }
        rel
    }

    /// Starts a value at `b`. Returns true when a record capture begins at
    /// this very byte.
    fn begin_value(&mut self, b: u8, at: u64) -> Result<bool, ScanError> {
        if self.frames.last().is_some_and(|f| f.records) {
            return Ok(match b {
                b'{' => {
                    self.mode = Mode::Capture(Skipper::default());
                    true
                }
                b'[' => {
                    self.records += 1;
                    self.invalid += 1;
                    self.mode = Mode::Skip(Skipper::default());
                    false
                }
                b'"' => {
                    self.records += 1;
                    self.invalid += 1;
                    self.mode = Mode::Skip(Skipper::string());
                    false
                }
                b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
                    self.token.clear();
                    self.token_at = at;
                    self.mode = Mode::Scalar {
                        purpose: Purpose::InvalidRecord,
                    };
                    false
                }
                _ => return Err(self.syntax(at, b)),
            });
        }
        let rel = self.relation();
        match b {
            b'{' if rel.prefix => self.push(true),
            b'[' if rel.records && !self.records_found => {
                self.records_found = true;
                self.frames.push(Frame {
                    object: false,
                    seg: Seg::Index(0),
                    records: true,
                });
                self.expect = Expect::ValueOrEnd;
            }
            b'[' if rel.prefix => self.push(false),
            b'{' | b'[' => self.mode = Mode::Skip(Skipper::default()),
            b'"' => match rel.next {
                Some(idx) => {
                    self.token.clear();
                    self.mode = Mode::Str {
                        purpose: Purpose::Next(idx),
                        escape: false,
                        store: true,
                    };
                }
                None => self.mode = Mode::Skip(Skipper::string()),
            },
            b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
                self.token.clear();
                self.token_at = at;
                self.mode = Mode::Scalar {
                    purpose: rel.next.map_or(Purpose::Ignore, Purpose::Next),
                };
            }
            _ => return Err(self.syntax(at, b)),
        }
        Ok(false)
    }

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

    fn close(&mut self, object: bool, at: u64, b: u8) -> Result<(), ScanError> {
        match self.frames.last() {
            Some(f) if f.object == object => {
                self.frames.pop();
                self.value_done();
                Ok(())
            }
            _ => Err(self.syntax(at, b)),
        }
    }

    fn value_done(&mut self) {
        self.expect = if self.frames.is_empty() {
            Expect::Done
        } else {
            Expect::CommaOrEnd
        };
    }

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
            Purpose::Next(idx) => {
                let link = decode_string(&self.token)
                    .ok_or_else(|| ScanError::BadNext(self.layout.next[idx].to_string()))?;
                if self.next[idx].is_none() {
                    self.next[idx] = Some(Some(link).filter(|l| !l.is_empty()));
                }
                self.value_done();
            }
            Purpose::Ignore | Purpose::InvalidRecord => self.value_done(),
        }
        self.token.clear();
        Ok(())
    }

    fn scalar_done(&mut self, purpose: Purpose) -> Result<(), ScanError> {
        let valid = matches!(self.token.as_slice(), b"true" | b"false" | b"null")
            || serde_json::from_slice::<serde_json::Number>(&self.token).is_ok();
        if !valid {
            let at = self.token_at;
            let b = self.token.first().copied().unwrap_or(b'?');
            return Err(self.syntax(at, b));
        }
        match purpose {
            Purpose::Next(idx) => {
                if self.token != b"null" {
                    return Err(ScanError::BadNext(self.layout.next[idx].to_string()));
                }
                if self.next[idx].is_none() {
                    self.next[idx] = Some(None);
                }
            }
            Purpose::InvalidRecord => {
                self.records += 1;
                self.invalid += 1;
            }
            Purpose::Key | Purpose::Ignore => {}
        }
        self.token.clear();
        self.value_done();
        Ok(())
    }
}

#[derive(Default)]
struct Relation {
    records: bool,
    prefix: bool,
    next: Option<usize>,
}

fn decode_string(raw: &[u8]) -> Option<String> {
    if raw.contains(&b'\\') {
        decode_escaped(raw)
    } else {
        std::str::from_utf8(raw).ok().map(str::to_owned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Field;

    /// Scans `body` fed in chunks of `chunk` bytes; returns the states seen.
    fn scan_chunked(body: &[u8], chunk: usize) -> Result<(Vec<String>, PageEnd), ScanError> {
        let layout = ResponseLayout::default();
        let mut states = Vec::new();
        let mut sink = |r: &RecordFields<'_>| {
            states.push(r.get_str(Field::State).unwrap_or("-").to_string());
        };
        let mut scanner = BodyScanner::new(&layout);
        for piece in body.chunks(chunk.max(1)) {
            scanner.feed(piece, &mut sink)?;
        }
        let end = scanner.finish()?;
        Ok((states, end))
    }

    /// Every chunking gives the same answer as feeding the body whole.
    fn scan_all_ways(body: &str) -> Result<(Vec<String>, PageEnd), ScanError> {
        let whole = scan_chunked(body.as_bytes(), body.len());
        for chunk in 1..body.len().min(64) {
            assert_eq!(
                scan_chunked(body.as_bytes(), chunk),
                whole,
                "chunk size {chunk}"
            );
        }
        whole
    }

    #[test]
    fn top_level_array() {
        let (states, end) =
            scan_all_ways(r#" [ {"state":"sent"}, {"state":"error","x":[1,{"y":"}"}]} ] "#)
                .unwrap();
        assert_eq!(states, ["sent", "error"]);
        assert_eq!(
            end,
            PageEnd {
                next: None,
                records: 2,
                invalid: 0
            }
        );
    }

    #[test]
    fn data_envelope_with_next_links_before_and_after() {
        let body = r#"{"meta":{"total":2,"x":[{"data":[]}]},"links":{"next":"/api/v1/reports/campaign/subscribers?page=2","prev":null},"data":[{"state":"dnd","name":"Ma\"ria \\ {["},{"state":"completed"}]}"#;
        let (states, end) = scan_all_ways(body).unwrap();
        assert_eq!(states, ["dnd", "completed"]);
        assert_eq!(
            end.next.as_deref(),
            Some("/api/v1/reports/campaign/subscribers?page=2")
        );
        let after = r#"{"data":[{"state":"sent"}],"next":"https://x.example/p?page=3"}"#;
        let (_, end) = scan_all_ways(after).unwrap();
        assert_eq!(end.next.as_deref(), Some("https://x.example/p?page=3"));
    }

    #[test]
    fn null_and_missing_next_mean_last_page() {
        let (_, end) = scan_all_ways(r#"{"data":[],"links":{"next":null},"next":null}"#).unwrap();
        assert_eq!(end.next, None);
        let (_, end) = scan_all_ways(r#"{"data":[]}"#).unwrap();
        assert_eq!(end, PageEnd::default());
    }

    #[test]
    fn escaped_keys_and_links_are_decoded() {
        let (_, end) = scan_all_ways(r#"{"d\u0061ta":[{}],"n\u0065xt":"\/p?page=2"}"#).unwrap();
        assert_eq!(end.next.as_deref(), Some("/p?page=2"));
        assert_eq!(end.records, 1);
    }

    #[test]
    fn non_object_elements_are_counted_invalid() {
        let (states, end) =
            scan_all_ways(r#"[{"state":"sent"},1,"x",[2],null,{"state":}]"#).unwrap();
        assert_eq!(states, ["sent"]);
        assert_eq!((end.records, end.invalid), (6, 5));
    }

    #[test]
    fn html_pages_and_garbage_are_syntax_errors() {
        let err = scan_chunked(b"<html><body>Maintenance</body></html>", 7).unwrap_err();
        assert!(err.to_string().contains("HTML"), "{err}");
        assert!(matches!(
            scan_chunked(b"{\"data\" [", 3),
            Err(ScanError::Syntax { .. })
        ));
        assert!(matches!(
            scan_chunked(b"[1,2}", 3),
            Err(ScanError::Syntax { .. })
        ));
        assert!(matches!(
            scan_chunked(b"[] x", 3),
            Err(ScanError::TrailingData(3))
        ));
        assert!(matches!(
            scan_chunked(b"[tru]", 3),
            Err(ScanError::Syntax { .. })
        ));
    }

    #[test]
    fn truncated_bodies_are_errors() {
        let body = br#"{"data":[{"state":"sent"},{"state":"err"#;
        for cut in 0..body.len() {
            let err = scan_chunked(&body[..cut], 5).unwrap_err();
            assert!(
                matches!(err, ScanError::Truncated(_)),
                "cut at {cut}: {err:?}"
            );
        }
    }

    #[test]
    fn bodies_without_records_are_errors() {
        for body in [
            &b"{}"[..],
            b"{\"data\":{}}",
            b"null",
            b"{\"error\":\"x\"}",
            b"42",
        ] {
            assert!(
                matches!(scan_chunked(body, 2), Err(ScanError::NoRecords(_))),
                "{body:?}"
            );
        }
    }

    #[test]
    fn oversized_records_and_links_are_refused() {
        let mut body = b"[{\"x\":\"".to_vec();
        body.extend(std::iter::repeat_n(b'a', MAX_RECORD_BYTES + 10));
        body.extend_from_slice(b"\"}]");
        assert_eq!(
            scan_chunked(&body, 4096).unwrap_err(),
            ScanError::RecordTooLarge
        );
        let mut body = b"{\"data\":[],\"next\":\"".to_vec();
        body.extend(std::iter::repeat_n(b'a', MAX_TOKEN_BYTES + 10));
        body.extend_from_slice(b"\"}");
        assert_eq!(
            scan_chunked(&body, 4096).unwrap_err(),
            ScanError::TokenTooLarge
        );
    }

    #[test]
    fn deep_nesting_is_skipped_without_recursion() {
        let depth = 1_000_000;
        let mut body = b"{\"junk\":".to_vec();
        body.extend(std::iter::repeat_n(b'[', depth));
        body.extend(std::iter::repeat_n(b']', depth));
        body.extend_from_slice(b",\"data\":[]}");
        let (_, end) = scan_chunked(&body, 65536).unwrap();
        assert_eq!(end.records, 0);
        // Inside a record, deep values are skipped iteratively too: the
        // record counts, without the state it buried.
        let mut body = b"[{\"state\":".to_vec();
        body.extend(std::iter::repeat_n(b'[', 100_000));
        body.extend(std::iter::repeat_n(b']', 100_000));
        body.extend_from_slice(b"}]");
        let (states, end) = scan_chunked(&body, 65536).unwrap();
        assert_eq!((end.records, end.invalid), (1, 0));
        assert_eq!(states, ["-"]);
    }

    #[test]
    fn bad_next_links_are_errors() {
        assert!(matches!(
            scan_chunked(br#"{"data":[],"next":5}"#, 3),
            Err(ScanError::BadNext(_))
        ));
        let (_, end) = scan_chunked(br#"{"data":[],"links":{"next":{"href":"x"}}}"#, 3).unwrap();
        assert_eq!(end.next, None);
    }
}
