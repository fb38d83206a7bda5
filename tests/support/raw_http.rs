//! HTTP/1.1 byte for byte over TCP, for tests that must hold whatever server
//! sits behind the socket and misbehave as no client library would (stalled
//! heads, huge heads, pipelining, readers that never read).
//!
//! A request is the exact bytes to send ([`get`] builds the usual one);
//! [`read_response`] reads one response (`Content-Length`, chunked, or up
//! to EOF); [`exchange`] does a whole one-shot exchange on a new connection
//! and says how it ended ([`Outcome`]).

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Heads and bodies larger than these are errors.
const MAX_HEAD: usize = 64 * 1024;
const MAX_BODY: usize = 64 << 20;

/// `GET {path}` with `Connection: close`.
pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: exporter\r\nConnection: close\r\n\r\n").into_bytes()
}

/// One response as read from the socket.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn header_has(&self, name: &str, token: &str) -> bool {
        self.header(name)
            .is_some_and(|v| v.to_ascii_lowercase().contains(token))
    }

    /// Whether the server says it closes the connection after this response.
    pub fn closes(&self) -> bool {
        self.header_has("connection", "close")
    }
}

fn bad_data(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// Reads one line (with its `\n`) into `buf`, failing past [`MAX_HEAD`].
async fn line<R: AsyncBufRead + Unpin>(r: &mut R, buf: &mut Vec<u8>) -> io::Result<usize> {
    let n = r.read_until(b'\n', buf).await?;
    if buf.len() > MAX_HEAD {
        return Err(bad_data("response head over 64 KiB"));
    }
    Ok(n)
}

/// Reads one response to a request with `method`: `Ok(None)` on EOF before
/// its first byte.
pub async fn read_response<R: AsyncBufRead + Unpin>(
    r: &mut R,
    method: &str,
) -> io::Result<Option<Response>> {
    let mut head = Vec::new();
    loop {
        let before = head.len();
        if line(r, &mut head).await? == 0 {
            if head.is_empty() {
                return Ok(None);
            }
            let head = String::from_utf8_lossy(&head);
            let why = format!("EOF inside the response head: {head:?}");
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, why));
        }
        if before > 0 && matches!(&head[before..], b"\r\n" | b"\n") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.lines();
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| bad_data(format!("not a status line: {status_line:?}")))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut resp = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if method == "HEAD" || (100..200).contains(&status) || status == 204 || status == 304 {
        return Ok(Some(resp));
    }
    if resp.header_has("transfer-encoding", "chunked") {
        loop {
            let mut size = Vec::new();
            line(r, &mut size).await?;
            let size = String::from_utf8_lossy(&size);
            let size = size.trim().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| bad_data(format!("bad chunk size {size:?}")))?;
            if size == 0 {
                // Trailer fields, up to the empty line.
                let mut trailer = Vec::new();
                while line(r, &mut trailer).await? > 0 && !trailer.trim_ascii().is_empty() {
                    trailer.clear();
                }
                return Ok(Some(resp));
            }
            read_body(r, &mut resp.body, size).await?;
            let mut crlf = [0u8; 2];
            r.read_exact(&mut crlf).await?;
        }
    }
    match resp.header("content-length") {
        Some(len) => {
            let len = len
                .parse()
                .map_err(|_| bad_data(format!("bad Content-Length {len:?}")))?;
            read_body(r, &mut resp.body, len).await?;
        }
        None => {
            r.take(MAX_BODY as u64).read_to_end(&mut resp.body).await?;
        }
    }
    Ok(Some(resp))
}

/// Appends exactly `len` more bytes to `body`, failing past [`MAX_BODY`].
async fn read_body<R: AsyncBufRead + Unpin>(
    r: &mut R,
    body: &mut Vec<u8>,
    len: usize,
) -> io::Result<()> {
    if body.len() + len > MAX_BODY {
        return Err(bad_data("response body over 64 MiB"));
    }
    let at = body.len();
    body.resize(at + len, 0);
    r.read_exact(&mut body[at..]).await.map(drop)
}

/// How a one-shot exchange ended.
#[derive(Debug)]
pub enum Outcome {
    /// A whole response (and, after `Connection: close`, nothing more
    /// before the server closed the connection).
    Response(Response),
    /// The server closed (or reset) the connection without a response.
    Closed(String),
    /// The server answered with something other than HTTP/1 (an HTTP/2
    /// frame, to the HTTP/2 preface).
    NotHttp1(Vec<u8>),
    /// No (whole) response within the time allowed.
    TimedOut,
    /// Anything else: connect failed, malformed response, data after the
    /// response...
    Broken(String),
}

impl Outcome {
    /// What a response or an error says, for a failing read.
    pub fn of(read: io::Result<Option<Response>>) -> Outcome {
        match read {
            Ok(Some(resp)) => Outcome::Response(resp),
            Ok(None) => Outcome::Closed("EOF".into()),
            Err(e) if is_closed(&e) => Outcome::Closed(e.to_string()),
            Err(e) => Outcome::Broken(e.to_string()),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Outcome::Response(r) => format!(
                "HTTP {} with {} body bytes ({:?}…)",
                r.status,
                r.body.len(),
                String::from_utf8_lossy(&r.body[..r.body.len().min(80)])
            ),
            Outcome::Closed(why) => format!("the connection closed without a response ({why})"),
            Outcome::NotHttp1(bytes) => {
                format!("not HTTP/1: {:02x?}", &bytes[..bytes.len().min(16)])
            }
            Outcome::TimedOut => "no response in time".into(),
            Outcome::Broken(why) => format!("a broken exchange: {why}"),
        }
    }
}

fn is_closed(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
    )
}

/// Connects, writes `request` (concurrently with reading, so that a server
/// that answers before reading it all is seen answering), and reads one
/// response, all within `within`. After a whole response to a request that
/// asked for `Connection: close` (or was HTTP/1.0), waits up to 2 s more for
/// the server to close, and fails on any byte after the response.
pub async fn exchange(addr: SocketAddr, request: &[u8], within: Duration) -> Outcome {
    let method_end = request.iter().position(|b| *b == b' ').unwrap_or(0);
    let method = String::from_utf8_lossy(&request[..method_end.min(32)]).into_owned();
    let head = String::from_utf8_lossy(&request[..request.len().min(MAX_HEAD)]).to_lowercase();
    let expects_close =
        head.contains("\r\nconnection: close\r\n") || head.contains(" http/1.0\r\n");
    let request = request.to_vec();
    let work = async move {
        let (rd, mut wr) = match TcpStream::connect(addr).await {
            Ok(s) => s.into_split(),
            Err(e) => return Outcome::Broken(format!("connect: {e}")),
        };
        // The writer hands the write half back: dropping it would half-close.
        let writer = tokio::spawn(async move {
            let written = wr.write_all(&request).await;
            (wr, written)
        });
        let mut rd = BufReader::new(rd);
        let not_http1 = match rd.fill_buf().await {
            Ok(bytes) if bytes.first().is_some_and(|b| *b != b'H') => Some(bytes.to_vec()),
            _ => None,
        };
        let outcome = match not_http1 {
            Some(bytes) => Outcome::NotHttp1(bytes),
            None => match Outcome::of(read_response(&mut rd, &method).await) {
                Outcome::Response(resp) if expects_close => {
                    let mut rest = Vec::new();
                    let closed =
                        tokio::time::timeout(Duration::from_secs(2), rd.read_to_end(&mut rest));
                    match closed.await {
                        Ok(_) if rest.is_empty() => Outcome::Response(resp),
                        Ok(_) => Outcome::Broken(format!(
                            "{} bytes after the response: {:?}",
                            rest.len(),
                            String::from_utf8_lossy(&rest[..rest.len().min(200)])
                        )),
                        Err(_) => Outcome::Broken(format!(
                            "HTTP {}, but the connection stayed open after Connection: close",
                            resp.status
                        )),
                    }
                }
                other => other,
            },
        };
        writer.abort();
        outcome
    };
    tokio::time::timeout(within, work)
        .await
        .unwrap_or(Outcome::TimedOut)
}

/// Reads until the server closes the connection or `deadline`; returns the
/// bytes read and whether it closed.
pub async fn wait_closed(
    stream: &mut TcpStream,
    deadline: tokio::time::Instant,
) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (got, true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (got, false),
        }
    }
}
