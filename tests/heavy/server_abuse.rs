//! The HTTP server under abuse, black-box over TCP: the real binary in
//! `--demo` mode as a child process, so that what `/proc` says (RSS,
//! threads, fds) is the exporter's alone.
//!
//! - many concurrent scrapes (500 connections at once; 50 keep-alive clients
//!   hammering) are all answered 200 with the full body;
//! - slow clients (100 stalled half request lines, a client dripping its
//!   headers, a client reading a byte every 50 ms) do not delay a normal
//!   scrape, and the stalled connections are closed by the server within
//!   15 s (the header read timeout);
//! - oversized request heads (a 1 MiB header value, 10 000 headers) get 431
//!   or a closed connection, without memory growth;
//! - odd methods, unknown and traversal-ish paths, very long URLs, garbage
//!   and smuggling-ish heads get a 4xx (501 or 505 where those fit) or a
//!   closed connection, never a 500 and never the metrics to a non-GET
//!   method, and the server keeps serving;
//! - RSS, fds and threads are bounded after all of the above;
//! - SIGTERM is not held up by stalled clients for longer than the header
//!   read timeout.
//!
//! Requests are written byte for byte (no HTTP client library in between),
//! so that the tests hold whatever server sits behind the socket. The
//! exporter polls once (`--poll.interval=1h`), so `/metrics` is the same
//! bytes for the whole test and every body can be compared to a reference.
//!
//! Each test starts its own exporter; a lock runs them one at a time so that
//! latencies and memory are not measured while another test hammers the
//! (small) machine.


use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::exporter::{Exporter, ProcStats, panics_in};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Mutex;

/// One test (one exporter under abuse) at a time.
static SERIAL: Mutex<()> = Mutex::const_new(());

/// A stalled connection must be closed by the server within this (the new
/// server's header read timeout is 10 s).
const STALLED_CLOSED_WITHIN: Duration = Duration::from_secs(15);
/// A normal scrape must be answered within this while slow clients hang on.
const PROMPT: Duration = Duration::from_secs(2);
/// Allowed RSS growth of the exporter over an abuse run.
const RSS_GROWTH_LIMIT_KB: u64 = 64 * 1024;

// ---------------------------------------------------------------------------
// The exporter and its reference body.

/// The exporter in demo mode, polled once, and the bytes of its `/metrics`.
struct Target {
    exporter: Exporter,
    addr: SocketAddr,
    /// `/metrics`, plain.
    metrics: Vec<u8>,
    /// `/metrics` with `Accept-Encoding: gzip`.
    metrics_gzip: Vec<u8>,
}

impl Target {
    async fn start() -> Target {
        let exporter = Exporter::start(
            &["--demo".into(), "--poll.interval=1h".into()],
            &[],
            Duration::from_secs(30),
        )
        .await;
        let addr = exporter.addr;
        let metrics = expect_200(addr, &get("/metrics"), "reference scrape").await;
        assert!(
            String::from_utf8_lossy(&metrics).contains("evolux_campaign_subscribers{"),
            "the demo poll counted nothing:\n{}",
            String::from_utf8_lossy(&metrics)
        );
        let metrics_gzip = expect_200(
            addr,
            b"GET /metrics HTTP/1.1\r\nHost: exporter\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
            "reference gzip scrape",
        )
        .await;
        assert_eq!(&metrics_gzip[..2], b"\x1f\x8b", "gzip magic");
        Target {
            exporter,
            addr,
            metrics,
            metrics_gzip,
        }
    }

    /// A scrape on a new connection is answered 200 with the reference
    /// body within `within`; returns how long it took.
    async fn assert_scrape(&self, within: Duration, what: &str) -> Duration {
        let started = Instant::now();
        match exchange(self.addr, &get("/metrics"), within).await {
            Outcome::Response(r) if r.status == 200 && r.body == self.metrics => started.elapsed(),
            other => panic!("{what}: a scrape got {}", other.describe()),
        }
    }

    /// The exporter still runs, serves `/metrics` and `/healthz`, and has
    /// logged no panic.
    async fn assert_healthy(&mut self, what: &str) {
        self.exporter.assert_running(what);
        self.assert_scrape(Duration::from_secs(5), what).await;
        let health = expect_200(self.addr, &get("/healthz"), what).await;
        assert_eq!(health, b"OK\n", "{what}");
        let logs = self.exporter.logs();
        assert!(
            panics_in(&logs).is_empty(),
            "{what}: the exporter logged a panic:\n{logs}"
        );
    }

    /// SIGTERM: a graceful exit within 15 s, no panic in the logs.
    async fn stop(self) {
        let stopped = self.exporter.stop(Duration::from_secs(15)).await;
        assert!(
            stopped.status.success(),
            "exit after SIGTERM: {}\n{}",
            stopped.status,
            stopped.logs
        );
        assert!(panics_in(&stopped.logs).is_empty(), "{}", stopped.logs);
    }
}

// ---------------------------------------------------------------------------
// A minimal HTTP/1.1 client over raw TCP.

/// `GET {path}` with `Connection: close`.
fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: exporter\r\nConnection: close\r\n\r\n").into_bytes()
}

#[derive(Debug)]
struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the server says it closes the connection after this response.
    fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.to_ascii_lowercase().contains("close"))
    }

    fn is_metrics(&self) -> bool {
        String::from_utf8_lossy(&self.body).contains("evolux_")
    }
}

fn bad_data(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

const MAX_RESPONSE_HEAD: usize = 64 * 1024;
const MAX_RESPONSE_BODY: usize = 64 << 20;

/// Reads one response (to a request with `method`): `Ok(None)` on EOF
/// before its first byte.
async fn read_response<R: AsyncBufRead + Unpin>(
    r: &mut R,
    method: &str,
) -> io::Result<Option<RawResponse>> {
    let mut head = Vec::new();
    loop {
        let before = head.len();
        let n = r.read_until(b'\n', &mut head).await?;
        if n == 0 {
            if head.is_empty() {
                return Ok(None);
            }
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "EOF inside the response head: {:?}",
                    String::from_utf8_lossy(&head)
                ),
            ));
        }
        if head.len() > MAX_RESPONSE_HEAD {
            return Err(bad_data("response head over 64 KiB"));
        }
        let line = &head[before..];
        if before > 0 && (line == b"\r\n" || line == b"\n") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.lines();
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| bad_data(format!("not a status line: {status_line:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut resp = RawResponse {
        status,
        headers,
        body: Vec::new(),
    };
    if method == "HEAD" || (100..200).contains(&status) || status == 204 || status == 304 {
        return Ok(Some(resp));
    }
    let chunked = resp
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        loop {
            let mut size_line = Vec::new();
            r.read_until(b'\n', &mut size_line).await?;
            let size_text = String::from_utf8_lossy(&size_line);
            let size_text = size_text.trim().split(';').next().unwrap_or("");
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| bad_data(format!("bad chunk size {size_text:?}")))?;
            if size == 0 {
                // Trailer fields, then the empty line.
                loop {
                    let mut line = Vec::new();
                    if r.read_until(b'\n', &mut line).await? == 0 || line.trim_ascii().is_empty() {
                        break;
                    }
                }
                break;
            }
            if resp.body.len() + size > MAX_RESPONSE_BODY {
                return Err(bad_data("response body over 64 MiB"));
            }
            let at = resp.body.len();
            resp.body.resize(at + size, 0);
            r.read_exact(&mut resp.body[at..]).await?;
            let mut crlf = [0u8; 2];
            r.read_exact(&mut crlf).await?;
        }
    } else if let Some(len) = resp.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| bad_data(format!("bad Content-Length {len:?}")))?;
        if len > MAX_RESPONSE_BODY {
            return Err(bad_data("response body over 64 MiB"));
        }
        resp.body.resize(len, 0);
        r.read_exact(&mut resp.body).await?;
    } else {
        r.take(MAX_RESPONSE_BODY as u64)
            .read_to_end(&mut resp.body)
            .await?;
    }
    Ok(Some(resp))
}

/// How a one-shot exchange ended.
#[derive(Debug)]
enum Outcome {
    /// A whole response (and, after `Connection: close`, nothing more
    /// before the server closed the connection).
    Response(RawResponse),
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
    fn describe(&self) -> String {
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

fn is_closed_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

/// The method of a raw request, for the response reader.
fn method_of(request: &[u8]) -> String {
    let end = request
        .iter()
        .position(|b| *b == b' ')
        .unwrap_or(request.len());
    String::from_utf8_lossy(&request[..end.min(32)]).into_owned()
}

/// Connects, writes `request` (concurrently with reading, so that a server
/// that answers before reading it all is seen answering), and reads one
/// response, all within `within`. If the response is whole, waits up to 2 s
/// more for the connection to end and fails on bytes after the response when
/// the request asked for `Connection: close` or was HTTP/1.0.
async fn exchange(addr: SocketAddr, request: &[u8], within: Duration) -> Outcome {
    let method = method_of(request);
    let expects_close = {
        let head =
            String::from_utf8_lossy(&request[..request.len().min(64 * 1024)]).to_ascii_lowercase();
        head.contains("\r\nconnection: close\r\n") || head.contains(" http/1.0\r\n")
    };
    let request = request.to_vec();
    let work = async move {
        let stream = match TcpStream::connect(addr).await {
            Ok(s) => s,
            Err(e) => return Outcome::Broken(format!("connect: {e}")),
        };
        let (rd, mut wr) = stream.into_split();
        // The writer hands the write half back: dropping it would half-close.
        let writer = tokio::spawn(async move {
            let result = wr.write_all(&request).await;
            (wr, result)
        });
        let mut rd = BufReader::new(rd);
        if let Ok(first) = rd.fill_buf().await
            && first.first().is_some_and(|b| *b != b'H')
        {
            let bytes = first.to_vec();
            writer.abort();
            return Outcome::NotHttp1(bytes);
        }
        let outcome = match read_response(&mut rd, &method).await {
            Ok(Some(resp)) => {
                if expects_close {
                    let mut rest = Vec::new();
                    match tokio::time::timeout(Duration::from_secs(2), rd.read_to_end(&mut rest))
                        .await
                    {
                        Ok(Ok(_)) | Ok(Err(_)) if rest.is_empty() => Outcome::Response(resp),
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
                } else {
                    Outcome::Response(resp)
                }
            }
            Ok(None) => Outcome::Closed("EOF".into()),
            Err(e) if is_closed_error(&e) => Outcome::Closed(e.to_string()),
            Err(e) => Outcome::Broken(e.to_string()),
        };
        writer.abort();
        outcome
    };
    tokio::time::timeout(within, work)
        .await
        .unwrap_or(Outcome::TimedOut)
}

/// The body of a 200 to `request`; panics on anything else.
async fn expect_200(addr: SocketAddr, request: &[u8], what: &str) -> Vec<u8> {
    match exchange(addr, request, Duration::from_secs(10)).await {
        Outcome::Response(r) if r.status == 200 => r.body,
        other => panic!("{what}: expected 200, got {}", other.describe()),
    }
}

/// Reads until the server closes the connection or `deadline`; returns
/// the bytes read and whether it closed.
async fn wait_closed(stream: &mut TcpStream, deadline: tokio::time::Instant) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) => return (got, true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Ok(Err(_)) => return (got, true),
            Err(_) => return (got, false),
        }
    }
}

/// Percentile `p` (0–100) of `samples`.
fn percentile(samples: &mut [Duration], p: usize) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort();
    samples[(samples.len() - 1) * p / 100]
}

// ---------------------------------------------------------------------------
// Abuse, reusable by the memory test.

/// `n` scrapes at once, each on its own connection, all connected before
/// any sends its request. Returns the latencies; panics unless every one
/// is a 200 with the reference body within `within`.
async fn concurrent_scrapes(t: &Target, n: usize, within: Duration) -> Vec<Duration> {
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let started = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let barrier = barrier.clone();
            let addr = t.addr;
            let gzip = i % 4 == 3;
            tokio::spawn(async move {
                let stream = TcpStream::connect(addr).await;
                // Everyone waits, connected or not, so that the barrier opens.
                barrier.wait().await;
                let mut stream = match stream {
                    Ok(s) => s,
                    Err(e) => return (gzip, Outcome::Broken(format!("connect: {e}")), None),
                };
                let request = if gzip {
                    "GET /metrics HTTP/1.1\r\nHost: exporter\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n"
                } else {
                    "GET /metrics HTTP/1.1\r\nHost: exporter\r\nConnection: close\r\n\r\n"
                };
                let sent = Instant::now();
                if let Err(e) = stream.write_all(request.as_bytes()).await {
                    return (gzip, Outcome::Broken(format!("write: {e}")), None);
                }
                let mut rd = BufReader::new(stream);
                let outcome = match read_response(&mut rd, "GET").await {
                    Ok(Some(r)) => Outcome::Response(r),
                    Ok(None) => Outcome::Closed("EOF".into()),
                    Err(e) => Outcome::Broken(e.to_string()),
                };
                (gzip, outcome, Some(sent.elapsed()))
            })
        })
        .collect();
    let results = tokio::time::timeout(within, futures_util::future::join_all(tasks))
        .await
        .unwrap_or_else(|_| panic!("{n} concurrent scrapes not all answered within {within:?}"));
    let mut latencies = Vec::with_capacity(n);
    let mut failures = Vec::new();
    for result in results {
        let (gzip, outcome, latency) = result.expect("scrape task");
        let expected = if gzip { &t.metrics_gzip } else { &t.metrics };
        match outcome {
            Outcome::Response(r) if r.status == 200 && &r.body == expected => {}
            other => failures.push(format!("gzip={gzip}: {}", other.describe())),
        }
        latencies.extend(latency);
    }
    assert!(
        failures.is_empty(),
        "{} of {n} concurrent scrapes failed, e.g. {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    println!(
        "{n} concurrent scrapes in {:?}: p50 {:?}, p99 {:?}, max {:?}",
        started.elapsed(),
        percentile(&mut latencies, 50),
        percentile(&mut latencies, 99),
        percentile(&mut latencies, 100)
    );
    latencies
}

/// Opens `n` connections that send half a request line and stall.
async fn stalled_connections(addr: SocketAddr, n: usize) -> Vec<(TcpStream, Instant)> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(b"GET /metr").await.expect("write half a line");
        out.push((s, Instant::now()));
    }
    out
}

/// Sends `request` on `n` connections at once; every one must end in a
/// status from `allowed` or a closed connection, within 20 s. Returns
/// (responses, closed).
async fn refused_requests(
    addr: SocketAddr,
    request: Arc<Vec<u8>>,
    n: usize,
    allowed: &[u16],
    what: &str,
) -> (usize, usize) {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let request = request.clone();
            tokio::spawn(async move { exchange(addr, &request, Duration::from_secs(20)).await })
        })
        .collect();
    let (mut answered, mut closed) = (0, 0);
    for task in tasks {
        match task.await.expect("task") {
            Outcome::Response(r) if allowed.contains(&r.status) && !r.is_metrics() => answered += 1,
            Outcome::Closed(_) => closed += 1,
            other => panic!(
                "{what}: expected one of {allowed:?} or a closed connection, got {}",
                other.describe()
            ),
        }
    }
    (answered, closed)
}

/// `GET /metrics` with a header value of `len` bytes.
fn big_header_value(len: usize) -> Vec<u8> {
    let mut r = b"GET /metrics HTTP/1.1\r\nHost: exporter\r\nX-Big: ".to_vec();
    r.resize(r.len() + len, b'a');
    r.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
    r
}

/// `GET /metrics` with `n` headers.
fn many_headers(n: usize) -> Vec<u8> {
    let mut r = b"GET /metrics HTTP/1.1\r\nHost: exporter\r\n".to_vec();
    for i in 0..n {
        r.extend_from_slice(format!("X-Header-{i}: value-{i}\r\n").as_bytes());
    }
    r.extend_from_slice(b"Connection: close\r\n\r\n");
    r
}

/// `GET /{"a" × len}`.
fn long_path(len: usize, prefix: &str) -> Vec<u8> {
    let mut r = format!("GET {prefix}").into_bytes();
    r.resize(r.len() + len, b'a');
    r.extend_from_slice(b" HTTP/1.1\r\nHost: exporter\r\nConnection: close\r\n\r\n");
    r
}

// ---------------------------------------------------------------------------
// Odd requests.

struct Odd {
    name: &'static str,
    request: Vec<u8>,
    /// Statuses that are fine.
    allowed: &'static [u16],
    /// Whether a connection closed without a response is fine too.
    may_close: bool,
    /// Whether an answer in HTTP/2 is fine too (to the HTTP/2 preface).
    may_answer_h2: bool,
}

fn odd(name: &'static str, request: &[u8], allowed: &'static [u16], may_close: bool) -> Odd {
    Odd {
        name,
        request: request.to_vec(),
        allowed,
        may_close,
        may_answer_h2: false,
    }
}

fn odd_requests() -> Vec<Odd> {
    const METHOD_REFUSED: &[u16] = &[404, 405];
    const NOT_FOUND: &[u16] = &[404];
    const TRAVERSAL: &[u16] = &[400, 404];
    const BAD: &[u16] = &[400];
    let mut garbage = Vec::with_capacity(512);
    for i in 0..512u32 {
        garbage.push((i * 97 % 256) as u8);
    }
    vec![
        // Methods other than GET on the metrics path: never the metrics.
        odd("POST /metrics", b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", METHOD_REFUSED, false),
        odd("PUT /metrics", b"PUT /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello", METHOD_REFUSED, false),
        odd("DELETE /metrics", b"DELETE /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", METHOD_REFUSED, false),
        odd("PATCH /metrics", b"PATCH /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}", METHOD_REFUSED, false),
        odd("OPTIONS /metrics", b"OPTIONS /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &[200, 204, 404, 405], false),
        odd("TRACE /metrics", b"TRACE /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &[404, 405, 501], false),
        odd("CONNECT", b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\nConnection: close\r\n\r\n", &[400, 404, 405, 501], true),
        odd("extension method", b"BREW /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &[400, 404, 405, 501], true),
        odd("invalid method token", b"G(T /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", BAD, true),
        odd("HEAD /metrics", b"HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &[200, 404, 405], false),
        odd("POST /metrics announcing 100 MB it never sends", b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\nConnection: close\r\n\r\n", &[404, 405, 413], true),
        // Unknown paths.
        odd("unknown path", &get("/nope"), NOT_FOUND, false),
        odd("trailing slash", &get("/metrics/"), NOT_FOUND, false),
        odd("path with a suffix", &get("/metricsx"), NOT_FOUND, false),
        odd("double slash", &get("//metrics"), NOT_FOUND, false),
        odd("other case", &get("/METRICS"), NOT_FOUND, false),
        odd("10 KB path", &long_path(10 * 1024, "/"), &[404, 414], false),
        // Traversal-ish.
        odd("dot-dot", &get("/../../../etc/passwd"), TRAVERSAL, true),
        odd("dot-dot under metrics", &get("/metrics/../../../../etc/passwd"), TRAVERSAL, true),
        odd("encoded dots", &get("/%2e%2e/%2e%2e/%2e%2e/etc/passwd"), TRAVERSAL, true),
        odd("encoded slashes", &get("/..%2f..%2f..%2fetc%2fpasswd"), TRAVERSAL, true),
        odd("backslashes", &get("/..\\..\\..\\etc\\passwd"), TRAVERSAL, true),
        odd("encoded NUL", &get("/metrics%00"), TRAVERSAL, true),
        odd("raw NUL in the path", b"GET /metrics\0/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", BAD, true),
        odd("asterisk form", b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", &[200, 204, 400, 404, 405], true),
        // Very long URLs.
        odd("100 KB path", &long_path(100 * 1024, "/"), &[400, 404, 414, 431], true),
        odd("1 MiB path", &long_path(1 << 20, "/"), &[400, 414, 431], true),
        odd("100 KB query on /metrics", &long_path(100 * 1024, "/metrics?q="), &[400, 414, 431], true),
        // Versions and things that are not HTTP/1.
        odd("HTTP/2.0 request line", b"GET /metrics HTTP/2.0\r\nHost: x\r\nConnection: close\r\n\r\n", &[400, 505], true),
        odd("HTTP/9.9", b"GET /metrics HTTP/9.9\r\nHost: x\r\nConnection: close\r\n\r\n", &[400, 505], true),
        // A server may speak h2c with prior knowledge (the current one does
        // in test builds, where wiremock turns on hyper-util's http2).
        Odd {
            may_answer_h2: true,
            ..odd("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", &[400, 505], true)
        },
        odd("TLS ClientHello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x00\x01\x02\x03\x04\x05\x06\x07\r\n\r\n", BAD, true),
        odd("binary garbage", &[garbage, b"\r\n\r\n".to_vec()].concat(), BAD, true),
        // Malformed and smuggling-ish heads.
        odd("header without a colon", b"GET /metrics HTTP/1.1\r\nHost: x\r\nnot a header\r\nConnection: close\r\n\r\n", BAD, true),
        odd("NUL in a header value", b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\nConnection: close\r\n\r\n", BAD, true),
        odd("space before the colon", b"GET /metrics HTTP/1.1\r\nHost : x\r\nConnection: close\r\n\r\n", BAD, true),
        odd("Content-Length and chunked", b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n", &[400, 404, 405], true),
        odd("two Content-Lengths", b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nab", BAD, true),
        odd("negative Content-Length", b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\nConnection: close\r\n\r\n", BAD, true),
        odd("bad chunk size", b"POST /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", &[400, 404, 405], true),
        odd("unknown transfer coding", b"POST /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\n", &[400, 404, 405, 501], true),
    ]
}

/// Sends every odd request on its own connection; returns the failures.
async fn send_odd_requests(t: &Target) -> Vec<String> {
    let mut failures = Vec::new();
    for case in odd_requests() {
        let outcome = exchange(t.addr, &case.request, Duration::from_secs(10)).await;
        let ok = match &outcome {
            Outcome::Response(r) => {
                // A 200 is only ever allowed without the metrics (OPTIONS,
                // HEAD) — the GET cases that serve them are checked apart.
                let no_data = !r.is_metrics() || case.name.starts_with("HEAD");
                let head_is_bodiless = case.name != "HEAD /metrics" || r.body.is_empty();
                case.allowed.contains(&r.status) && no_data && head_is_bodiless
            }
            Outcome::Closed(_) => case.may_close,
            Outcome::NotHttp1(_) => case.may_answer_h2,
            Outcome::TimedOut | Outcome::Broken(_) => false,
        };
        println!("{:<48} -> {}", case.name, outcome.describe());
        if !ok {
            failures.push(format!(
                "{}: expected one of {:?}{}, got {}",
                case.name,
                case.allowed,
                if case.may_close {
                    " or a closed connection"
                } else {
                    ""
                },
                outcome.describe()
            ));
        }
    }
    failures
}

// ---------------------------------------------------------------------------
// The tests.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_concurrent_scrapes_are_all_answered() {
    let _serial = SERIAL.lock().await;
    let mut t = Target::start().await;
    let before = t.exporter.stats();
    concurrent_scrapes(&t, 500, Duration::from_secs(30)).await;
    // And again, on the same server.
    concurrent_scrapes(&t, 500, Duration::from_secs(30)).await;
    let after = t.exporter.stats();
    println!("exporter before: {before}; after: {after}");
    t.assert_healthy("after 2 × 500 concurrent scrapes").await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_keep_alive_clients_hammering_are_all_answered() {
    let _serial = SERIAL.lock().await;
    let mut t = Target::start().await;
    const CLIENTS: usize = 50;
    const FOR: Duration = Duration::from_secs(4);
    let until = Instant::now() + FOR;
    let reference = Arc::new((t.metrics.clone(), t.metrics_gzip.clone()));
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let addr = t.addr;
            let reference = reference.clone();
            tokio::spawn(async move {
                let gzip = i % 2 == 1;
                let request: &[u8] = if gzip {
                    b"GET /metrics HTTP/1.1\r\nHost: exporter\r\nAccept-Encoding: gzip\r\n\r\n"
                } else {
                    b"GET /metrics HTTP/1.1\r\nHost: exporter\r\n\r\n"
                };
                let expected = if gzip { &reference.1 } else { &reference.0 };
                let (mut requests, mut connections) = (0usize, 0usize);
                let mut latencies = Vec::new();
                let mut conn: Option<BufReader<TcpStream>> = None;
                while Instant::now() < until {
                    if conn.is_none() {
                        let s = TcpStream::connect(addr)
                            .await
                            .map_err(|e| format!("client {i}: connect: {e}"))?;
                        connections += 1;
                        conn = Some(BufReader::new(s));
                    }
                    let c = conn.as_mut().expect("connected");
                    let sent = Instant::now();
                    c.get_mut().write_all(request).await.map_err(|e| {
                        format!("client {i}, request {requests} on a kept-alive connection: write: {e}")
                    })?;
                    let resp = tokio::time::timeout(Duration::from_secs(10), read_response(c, "GET"))
                        .await
                        .map_err(|_| format!("client {i}, request {requests}: no response in 10 s"))?
                        .map_err(|e| format!("client {i}, request {requests}: {e}"))?
                        .ok_or_else(|| {
                            format!(
                                "client {i}, request {requests}: the server closed a kept-alive connection without a response or Connection: close"
                            )
                        })?;
                    latencies.push(sent.elapsed());
                    requests += 1;
                    if resp.status != 200 || &resp.body != expected {
                        return Err(format!(
                            "client {i}, request {requests}: HTTP {} with {} bytes, expected 200 with {} bytes",
                            resp.status,
                            resp.body.len(),
                            expected.len()
                        ));
                    }
                    if resp.closes() {
                        conn = None;
                    }
                }
                Ok::<_, String>((requests, connections, latencies))
            })
        })
        .collect();
    let results = tokio::time::timeout(
        FOR + Duration::from_secs(30),
        futures_util::future::join_all(tasks),
    )
    .await
    .expect("the keep-alive clients finish");
    let (mut requests, mut connections, mut latencies) = (0, 0, Vec::new());
    let mut failures = Vec::new();
    for r in results {
        match r.expect("client task") {
            Ok((n, c, l)) => {
                requests += n;
                connections += c;
                latencies.extend(l);
            }
            Err(e) => failures.push(e),
        }
    }
    println!(
        "{CLIENTS} keep-alive clients: {requests} requests on {connections} connections in {FOR:?}; p50 {:?}, p99 {:?}, max {:?}",
        percentile(&mut latencies, 50),
        percentile(&mut latencies, 99),
        percentile(&mut latencies, 100)
    );
    assert!(
        failures.is_empty(),
        "{} of {CLIENTS} clients failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(
        requests >= CLIENTS * 5,
        "only {requests} requests answered in {FOR:?}"
    );
    assert!(
        connections * 2 <= requests,
        "keep-alive not honoured: {requests} requests needed {connections} connections"
    );
    t.assert_healthy("after the keep-alive clients").await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_do_not_delay_scrapes_and_stalled_ones_are_closed() {
    let _serial = SERIAL.lock().await;
    let mut t = Target::start().await;
    let addr = t.addr;

    // 100 connections with half a request line, then nothing.
    let mut stalled = stalled_connections(addr, 100).await;

    // A client that drips its headers, one byte every 500 ms: a per-read
    // timeout does not catch it, a timeout on the whole head does.
    let dripper = tokio::spawn(async move {
        let opened = Instant::now();
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (mut rd, mut wr) = stream.into_split();
        wr.write_all(b"GET /metrics HTTP/1.1\r\nHost: exporter\r\nX-Drip: ")
            .await
            .expect("write");
        let mut buf = [0u8; 1024];
        let deadline = tokio::time::Instant::now() + STALLED_CLOSED_WITHIN + Duration::from_secs(1);
        loop {
            tokio::select! {
                r = rd.read(&mut buf) => match r {
                    Ok(0) | Err(_) => return Some(opened.elapsed()),
                    Ok(_) => {} // e.g. a 408 before the close
                },
                _ = tokio::time::sleep(Duration::from_millis(500)) => {
                    if wr.write_all(b"a").await.is_err() {
                        return Some(opened.elapsed());
                    }
                }
                _ = tokio::time::sleep_until(deadline) => return None,
            }
        }
    });

    // A client that reads its response one byte every 50 ms, through a
    // small receive buffer.
    let slow_reader = tokio::spawn(async move {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(2048).expect("SO_RCVBUF");
        let mut stream = socket.connect(addr).await.expect("connect");
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: exporter\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            match stream.read(&mut byte).await {
                Ok(0) | Err(_) => break,
                Ok(_) => got.push(byte[0]),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        got
    });

    // Meanwhile, scrapes are answered promptly, for 5 s.
    let mut latencies = Vec::new();
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        latencies.push(t.assert_scrape(PROMPT, "while slow clients hang on").await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "{} scrapes beside 100 stalled connections, a dripper and a slow reader: p50 {:?}, max {:?}",
        latencies.len(),
        percentile(&mut latencies, 50),
        percentile(&mut latencies, 100)
    );

    let slow = slow_reader.await.expect("slow reader");
    assert!(
        slow.starts_with(b"HTTP/1.1 200"),
        "the slow reader got {:?}",
        String::from_utf8_lossy(&slow)
    );
    println!("the slow reader read {} bytes in 5 s", slow.len());

    // The stalled connections are closed by the server.
    let mut still_open = 0;
    let mut closed_after = Vec::new();
    for (stream, opened) in stalled.iter_mut() {
        let deadline = tokio::time::Instant::from_std(*opened + STALLED_CLOSED_WITHIN);
        let (_, closed) = wait_closed(stream, deadline).await;
        if closed {
            closed_after.push(opened.elapsed());
        } else {
            still_open += 1;
        }
    }
    let dripped = dripper.await.expect("dripper");
    println!(
        "stalled connections closed by the server: {} of 100 (after {:?} to {:?}); the dripper: {dripped:?}",
        closed_after.len(),
        closed_after.iter().min(),
        closed_after.iter().max()
    );
    assert_eq!(
        still_open, 0,
        "{still_open} of 100 connections stalled in the request line were still open {STALLED_CLOSED_WITHIN:?} after they were opened"
    );
    assert!(
        dripped.is_some(),
        "a client dripping its headers one byte every 500 ms was still connected after {STALLED_CLOSED_WITHIN:?}"
    );
    drop(stalled);
    t.assert_healthy("after the slow clients").await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_request_heads_are_refused_without_memory_growth() {
    let _serial = SERIAL.lock().await;
    let mut t = Target::start().await;

    // A head well under any sane limit is served.
    let served = expect_200(t.addr, &big_header_value(8 * 1024), "8 KiB header").await;
    assert_eq!(served, t.metrics, "8 KiB header");

    let before = t.exporter.stats();
    let one_mib = Arc::new(big_header_value(1 << 20));
    let ten_thousand = Arc::new(many_headers(10_000));
    for round in 0..3 {
        let (a, c) = refused_requests(t.addr, one_mib.clone(), 20, &[431], "1 MiB header").await;
        println!("round {round}: 20 × 1 MiB header value: {a} answered 431, {c} closed");
        let (a, c) =
            refused_requests(t.addr, ten_thousand.clone(), 20, &[431], "10 000 headers").await;
        println!("round {round}: 20 × 10 000 headers: {a} answered 431, {c} closed");
        t.assert_scrape(Duration::from_secs(5), "between oversized heads")
            .await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = t.exporter.stats();
    println!("exporter before: {before}; after 120 oversized heads: {after}");
    assert!(
        after.rss_kb < before.rss_kb + RSS_GROWTH_LIMIT_KB,
        "RSS grew from {before} to {after} over 120 oversized request heads"
    );
    t.assert_healthy("after the oversized heads").await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_methods_paths_and_garbage_get_4xx_and_the_server_keeps_serving() {
    let _serial = SERIAL.lock().await;
    let mut t = Target::start().await;
    let failures = send_odd_requests(&t).await;

    // GETs of the metrics that are odd but valid are served.
    for (what, request) in [
        ("a query string", get("/metrics?x=1&y=%00")),
        (
            "HTTP/1.0 without Host",
            b"GET /metrics HTTP/1.0\r\n\r\n".to_vec(),
        ),
        ("an 8 KB query string", long_path(8 * 1024, "/metrics?q=")),
    ] {
        let body = expect_200(t.addr, &request, what).await;
        assert_eq!(body, t.metrics, "{what}");
    }

    // Pipelined requests are answered in order on one connection.
    let mut stream = BufReader::new(TcpStream::connect(t.addr).await.expect("connect"));
    stream
        .get_mut()
        .write_all(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await
        .expect("write");
    let mut pipelined = Vec::new();
    for _ in 0..3 {
        let r = tokio::time::timeout(Duration::from_secs(10), read_response(&mut stream, "GET"))
            .await
            .expect("pipelined response in time")
            .expect("pipelined response")
            .expect("a response, not EOF");
        pipelined.push(r);
    }
    assert_eq!(
        pipelined.iter().map(|r| r.status).collect::<Vec<_>>(),
        [200, 200, 404]
    );
    assert_eq!(pipelined[0].body, b"OK\n");
    assert_eq!(pipelined[1].body, t.metrics);

    assert!(
        failures.is_empty(),
        "{} odd requests got the wrong answer:\n{}",
        failures.len(),
        failures.join("\n")
    );
    t.assert_healthy("after the odd requests").await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_fds_and_threads_stay_bounded_under_abuse() {
    let _serial = SERIAL.lock().await;
    let mut t = Target::start().await;
    // Warm up: the allocator's arenas and the runtime's threads.
    concurrent_scrapes(&t, 100, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = t.exporter.stats();

    let one_mib = Arc::new(big_header_value(1 << 20));
    let ten_thousand = Arc::new(many_headers(10_000));
    let mut peak = before;
    for round in 0..3 {
        concurrent_scrapes(&t, 500, Duration::from_secs(30)).await;
        let stalled = stalled_connections(t.addr, 100).await;
        refused_requests(t.addr, one_mib.clone(), 50, &[431], "1 MiB header").await;
        refused_requests(t.addr, ten_thousand.clone(), 20, &[431], "10 000 headers").await;
        // Whether each is answered right is the odd-requests test's business.
        let failures = send_odd_requests(&t).await;
        if !failures.is_empty() {
            println!(
                "round {round}: {} odd requests answered wrong",
                failures.len()
            );
        }
        let during = t.exporter.stats();
        println!("round {round}, with 100 stalled connections open: {during}");
        peak.rss_kb = peak.rss_kb.max(during.rss_kb);
        drop(stalled); // closed by us
    }

    // Once the clients are gone, the fds go back to where they were.
    let started = Instant::now();
    let mut after = t.exporter.stats();
    while after.fds > before.fds + 2 && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = t.exporter.stats();
    }
    println!(
        "exporter before: {before}; peak RSS {:.1} MiB; after (clients gone): {after}",
        peak.rss_mib()
    );
    assert!(
        after.rss_kb < before.rss_kb + RSS_GROWTH_LIMIT_KB,
        "RSS grew from {before} to {after} under abuse"
    );
    assert!(
        after.fds <= before.fds + 2,
        "open fds went from {} to {} and stayed there after the clients left",
        before.fds,
        after.fds
    );
    assert!(
        after.threads <= before.threads + 2,
        "threads went from {} to {}",
        before.threads,
        after.threads
    );
    t.assert_healthy("after the abuse").await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_is_not_held_up_by_stalled_clients() {
    let _serial = SERIAL.lock().await;
    let t = Target::start().await;
    let _stalled = stalled_connections(t.addr, 20).await;
    let _idle: Vec<TcpStream> = {
        let mut v = Vec::new();
        for _ in 0..20 {
            v.push(TcpStream::connect(t.addr).await.expect("connect"));
        }
        v
    };
    // Let the server pick them up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopped = t.exporter.stop(Duration::from_secs(15)).await;
    println!(
        "exit {} {:?} after SIGTERM with 20 stalled and 20 idle connections",
        stopped.status, stopped.took
    );
    assert!(stopped.status.success(), "{}", stopped.logs);
    assert!(
        stopped.took < Duration::from_secs(12),
        "shutdown took {:?} with stalled clients",
        stopped.took
    );
}

/// `ProcStats` is read from `/proc`: make sure it means what the tests
/// think on this machine (the test process itself has threads and fds).
#[test]
fn proc_stats_of_this_process_are_plausible() {
    let s = ProcStats::of(std::process::id());
    assert!(s.rss_kb > 100, "{s}");
    assert!(s.threads >= 1, "{s}");
    assert!(s.fds >= 3, "{s}");
}

/// Clients that send many pipelined requests and never read the answers:
/// once the socket buffers are full the server's writes stall, and the
/// write-stall timeout (10 s) ends the connection, so such clients cannot
/// hold connection slots for ever. Meanwhile scrapes are answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_never_read_are_cut_off() {
    let _serial = SERIAL.lock().await;
    let mut t = Target::start().await;
    let per_connection = 5000usize;
    let request = b"GET /metrics HTTP/1.1\r\nHost: exporter\r\n\r\n".repeat(per_connection);
    let full = per_connection * t.metrics.len();
    let mut deaf = Vec::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(t.addr).await.expect("connect");
        stream
            .write_all(&request)
            .await
            .expect("pipelined requests");
        deaf.push(stream);
    }
    let opened = Instant::now();
    t.assert_healthy("while 20 clients do not read").await;

    tokio::time::sleep_until((opened + STALLED_CLOSED_WITHIN).into()).await;
    for (i, stream) in deaf.iter_mut().enumerate() {
        // Drain what the kernel holds; then the server's close must show.
        let mut got = 0usize;
        let mut buf = vec![0u8; 1 << 16];
        let closed = loop {
            match tokio::time::timeout(Duration::from_secs(3), stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break true,
                Ok(Ok(n)) => got += n,
                Err(_) => break false,
            }
        };
        assert!(
            closed,
            "connection {i} still open {:?} after it stopped reading ({got} bytes waiting)",
            opened.elapsed()
        );
        assert!(
            got < full,
            "connection {i} got all {per_connection} answers ({got} bytes): the writes never stalled, the test proves nothing"
        );
    }
    t.assert_healthy("after the deaf clients").await;
    t.stop().await;
}
