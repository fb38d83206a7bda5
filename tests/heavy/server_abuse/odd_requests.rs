//! Odd requests: methods, paths, versions and heads a scrape never sends.

use std::time::Duration;

use super::{Target, is_metrics, long_path};
use crate::raw_http::{Outcome, exchange, get};
use evolux_exporter::server::MAX_REQUEST_HEAD_BYTES;

/// A `GET /metrics` whose head (request line, headers and the blank line)
/// is exactly `bytes` long, padded by one header.
fn padded_head(bytes: usize) -> Vec<u8> {
    let start = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: ";
    let end = "\r\n\r\n";
    let pad = bytes - start.len() - end.len();
    let head = format!("{start}{}{end}", "a".repeat(pad));
    assert_eq!(head.len(), bytes);
    head.into_bytes()
}

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
        // Request heads over the 64 KiB docs/operations.md promises (431, answered).
        odd("70 000-byte head on /metrics", &padded_head(70_000), &[431], false),
        odd("100 000-byte head on /metrics", &padded_head(100_000), &[431], false),
        odd("a head one byte over the limit", &padded_head(MAX_REQUEST_HEAD_BYTES + 1), &[431], false),
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
pub async fn send_odd_requests(t: &Target) -> Vec<String> {
    let mut failures = Vec::new();
    for case in odd_requests() {
        let outcome = exchange(t.addr, &case.request, Duration::from_secs(10)).await;
        let ok = match &outcome {
            Outcome::Response(r) => {
                // A 200 is only ever allowed without the metrics (OPTIONS,
                // HEAD) — the GET cases that serve them are checked apart.
                let no_data = !is_metrics(&r.body) || case.name.starts_with("HEAD");
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
