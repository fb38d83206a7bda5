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
//! - oversized request heads (70 000 and 100 000 bytes, one byte over the
//!   64 KiB limit, a 1 MiB header value, 10 000 headers) get 431
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
//! Each test starts its own exporter; `crate::ALONE` runs them one at a time
//! (and apart from the other heavy tests) so that latencies and memory are
//! not measured while another test hammers the (small) machine.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::proc_stats::panics_in;
use crate::raw_http::{Outcome, exchange, get, read_response};
use crate::support::exporter::{Exporter, Running};
use evolux_exporter::metrics::live::PART_START;

mod odd_requests;
use odd_requests::send_odd_requests;
mod scrapes;
mod slow_and_bad_clients;

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
    exporter: Running,
    addr: SocketAddr,
    /// `/metrics`, plain.
    metrics: Vec<u8>,
    /// `/metrics` with `Accept-Encoding: gzip`.
    metrics_gzip: Vec<u8>,
}

impl Target {
    async fn start() -> Target {
        let exporter = Exporter::new()
            .args(["--demo", "--poll.interval=1h"])
            .start()
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
            Outcome::Response(r)
                if r.status == 200 && same_scrape(&r.body, &self.metrics, false) =>
            {
                started.elapsed()
            }
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

/// The body of a 200 to `request`; panics on anything else.
async fn expect_200(addr: SocketAddr, request: &[u8], what: &str) -> Vec<u8> {
    match exchange(addr, request, Duration::from_secs(10)).await {
        Outcome::Response(r) if r.status == 200 => r.body,
        other => panic!("{what}: expected 200, got {}", other.describe()),
    }
}

/// Whether `body` (gzipped if `gzip`) is the scrape `reference` (taken
/// the same way): the same poll part, then a scrape-time part, whose
/// figures move from scrape to scrape.
fn same_scrape(body: &[u8], reference: &[u8], gzip: bool) -> bool {
    let text = |b: &[u8]| {
        let mut out = Vec::new();
        if gzip {
            std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(b), &mut out).ok()?;
        } else {
            out = b.to_vec();
        }
        let s = String::from_utf8(out).ok()?;
        let at = s.find(PART_START)?;
        Some(s[..at].to_string())
    };
    matches!((text(body), text(reference)), (Some(a), Some(b)) if a == b)
}

/// Whether a body holds metrics.
fn is_metrics(body: &[u8]) -> bool {
    String::from_utf8_lossy(body).contains("evolux_")
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
// Abuse, shared by the tests.

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
                let outcome = Outcome::of(read_response(&mut rd, "GET").await);
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
            Outcome::Response(r) if r.status == 200 && same_scrape(&r.body, expected, gzip) => {}
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
            Outcome::Response(r) if allowed.contains(&r.status) && !is_metrics(&r.body) => {
                answered += 1
            }
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
