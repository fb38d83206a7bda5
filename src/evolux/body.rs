//! A response body as it arrives: gzip decoded when the server compressed
//! it, bounded in decoded size, and handed to the scanner piece by piece.
//!
//! The decoder writes its output in pieces of its own fixed buffer, and
//! each piece is scanned before the next is made, so a small compressed
//! body that inflates without end costs bounded memory and fails at
//! `--evolux.max-response-size`.

use std::io::Write;

use flate2::write::MultiGzDecoder;

use super::fields::ResponseLayout;
use super::scanner::{BodyScanner, PageEnd, ScanError};
use crate::model::RecordSink;

/// How the body is encoded (`Content-Encoding`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// As it is.
    Identity,
    /// gzip (one or more members).
    Gzip,
}

impl Encoding {
    /// The encoding a `Content-Encoding` value names; other codings are
    /// refused (the exporter only asks for gzip).
    pub fn from_header(value: Option<&str>) -> Result<Encoding, String> {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("identity") => Ok(Encoding::Identity),
            Some("gzip") | Some("x-gzip") => Ok(Encoding::Gzip),
            Some(other) => Err(format!("unsupported Content-Encoding {other:?}")),
        }
    }
}

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// More decoded bytes than allowed.
    #[error("response larger than --evolux.max-response-size ({limit} bytes) once decoded")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// The decoded bytes are not a page of records.
    #[error(transparent)]
    Scan(#[from] ScanError),
    /// The gzip stream is broken or cut short.
    #[error("the gzip body is not valid: {0}")]
    Gzip(String),
}

/// Feeds decoded bytes to the scanner, counting them against the limit.
struct Feed<'l, 's, S> {
    scanner: BodyScanner<'l>,
    sink: &'s mut S,
    decoded: u64,
    limit: u64,
    /// Why the last write failed, which the decoder only sees as an I/O error.
    failure: Option<BodyError>,
}

impl<S: RecordSink> Write for Feed<'_, '_, S> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.decoded += buf.len() as u64;
        if self.decoded > self.limit {
            self.failure = Some(BodyError::TooLarge { limit: self.limit });
            return Err(std::io::Error::other("decoded size limit"));
        }
        if let Err(e) = self.scanner.feed(buf, self.sink) {
            self.failure = Some(BodyError::Scan(e));
            return Err(std::io::Error::other("scan failed"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// One per response body, on the stack of the read: its size does not matter.
#[allow(clippy::large_enum_variant)]
enum Inner<'l, 's, S: RecordSink> {
    Plain(Feed<'l, 's, S>),
    Gzip(MultiGzDecoder<Feed<'l, 's, S>>),
}

/// One body, fed the bytes as they come off the wire.
pub struct BodyDecoder<'l, 's, S: RecordSink> {
    inner: Inner<'l, 's, S>,
}

impl<'l, 's, S: RecordSink> BodyDecoder<'l, 's, S> {
    /// A decoder for a body in `encoding`, read as `layout` says, that
    /// fails past `limit` decoded bytes and hands each record to `sink`.
    pub fn new(
        layout: &'l ResponseLayout,
        encoding: Encoding,
        limit: u64,
        sink: &'s mut S,
    ) -> Self {
        let feed = Feed {
            scanner: BodyScanner::new(layout),
            sink,
            decoded: 0,
            limit,
            failure: None,
        };
        let inner = match encoding {
            Encoding::Identity => Inner::Plain(feed),
            Encoding::Gzip => Inner::Gzip(MultiGzDecoder::new(feed)),
        };
        BodyDecoder { inner }
    }

    /// Bytes decoded so far.
    pub fn decoded(&self) -> u64 {
        match &self.inner {
            Inner::Plain(f) => f.decoded,
            Inner::Gzip(d) => d.get_ref().decoded,
        }
    }

    /// The next bytes off the wire.
    pub fn feed(&mut self, wire: &[u8]) -> Result<(), BodyError> {
        match &mut self.inner {
            Inner::Plain(f) => f.write_all(wire).map_err(|_| take_failure(f)),
            Inner::Gzip(d) => d.write_all(wire).map_err(|e| gzip_failure(d, e)),
        }
    }

    /// The body has ended: what the page said beyond its records.
    pub fn finish(self) -> Result<PageEnd, BodyError> {
        let feed = match self.inner {
            Inner::Plain(f) => f,
            Inner::Gzip(mut d) => {
                if let Err(e) = d.try_finish() {
                    return Err(gzip_failure(&mut d, e));
                }
                d.finish().map_err(|e| BodyError::Gzip(e.to_string()))?
            }
        };
        Ok(feed.scanner.finish()?)
    }
}

fn take_failure<S>(f: &mut Feed<'_, '_, S>) -> BodyError {
    f.failure
        .take()
        .unwrap_or_else(|| BodyError::Gzip("write failed".into()))
}

/// The feed's own failure if it had one, else the decoder's.
fn gzip_failure<S: RecordSink>(
    d: &mut MultiGzDecoder<Feed<'_, '_, S>>,
    e: std::io::Error,
) -> BodyError {
    match d.get_mut().failure.take() {
        Some(f) => f,
        None => BodyError::Gzip(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn count(encoding: Encoding, body: &[u8], limit: u64, chunk: usize) -> Result<u64, BodyError> {
        let layout = ResponseLayout::default();
        let mut n = 0u64;
        let mut sink = |_: &crate::model::RecordFields<'_>| n += 1;
        let mut d = BodyDecoder::new(&layout, encoding, limit, &mut sink);
        for piece in body.chunks(chunk) {
            d.feed(piece)?;
        }
        d.finish()?;
        Ok(n)
    }

    #[test]
    fn gzip_and_plain_bodies_count_the_same_in_any_chunking() {
        let body = br#"{"data":[{"state":"sent"},{"state":"error"},{"state":"pending"}]}"#;
        let zipped = gzip(body);
        for chunk in [1, 7, 4096] {
            assert_eq!(count(Encoding::Identity, body, 1 << 20, chunk).unwrap(), 3);
            assert_eq!(count(Encoding::Gzip, &zipped, 1 << 20, chunk).unwrap(), 3);
        }
        // Two gzip members are one body.
        let half = body.len() / 2;
        let mut two = gzip(&body[..half]);
        two.extend(gzip(&body[half..]));
        assert_eq!(count(Encoding::Gzip, &two, 1 << 20, 5).unwrap(), 3);
    }

    #[test]
    fn a_gzip_bomb_fails_at_the_decoded_limit() {
        // 64 MiB of spaces inside the records array squeeze into ~64 KiB.
        let mut enc = GzEncoder::new(Vec::new(), Compression::best());
        enc.write_all(b"{\"data\":[").unwrap();
        let spaces = vec![b' '; 1 << 20];
        for _ in 0..64 {
            enc.write_all(&spaces).unwrap();
        }
        enc.write_all(b"]}").unwrap();
        let bomb = enc.finish().unwrap();
        assert!(bomb.len() < 256 * 1024, "{} bytes", bomb.len());
        let err = count(Encoding::Gzip, &bomb, 8 << 20, 16 * 1024).unwrap_err();
        assert!(
            matches!(err, BodyError::TooLarge { limit } if limit == 8 << 20),
            "{err}"
        );
    }

    #[test]
    fn a_cut_or_corrupt_gzip_body_fails() {
        let body = br#"{"data":[{"state":"sent"}]}"#;
        let zipped = gzip(body);
        let cut = count(Encoding::Gzip, &zipped[..zipped.len() - 6], 1 << 20, 64);
        assert!(cut.is_err(), "a cut gzip body was taken");
        let err = count(Encoding::Gzip, b"not gzip at all", 1 << 20, 64).unwrap_err();
        assert!(matches!(err, BodyError::Gzip(_)), "{err}");
    }

    #[test]
    fn only_gzip_and_identity_are_accepted() {
        assert_eq!(Encoding::from_header(None), Ok(Encoding::Identity));
        assert_eq!(Encoding::from_header(Some("GZIP")), Ok(Encoding::Gzip));
        assert!(Encoding::from_header(Some("br")).is_err());
    }
}
