//! The exporter's HTTP server: the accept loop over every listener
//! ([`listen`]), plain or TLS, in front of the router ([`routes`]).
//!
//! `/metrics` serves the bytes the last poll rendered, gzipped when the
//! scraper accepts it; it never calls the API and never waits on a poll.
//!
//! The accept loop is the exporter's own, so that it can speak TLS when the
//! web config file asks for it and bound what one client can take: the
//! request head must arrive within [`HEADER_READ_TIMEOUT`] and fit in
//! [`MAX_REQUEST_HEAD_BYTES`] (else 431), a TLS handshake must finish within
//! [`HANDSHAKE_TIMEOUT`], a response must not stall for
//! [`WRITE_STALL_TIMEOUT`] (a client that stopped reading), and at most
//! [`MAX_CONNECTIONS`] connections are served at once (more wait in the
//! kernel's backlog).

pub mod listen;
pub mod routes;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use futures_util::future::select_all;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::auth::{ClientAddr, Guard, VerifiedClientCert, guard_request};
use crate::webconfig::WebConfigSource;
pub use listen::ListenAddress;
pub use routes::{Endpoints, ReloadHook, StatusPage, router};

/// A request head (request line and headers) must arrive within this.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A TLS handshake must finish within this.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A response that makes no progress for this long (a client that stopped
/// reading) ends its connection.
pub const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head; a larger one gets 431.
pub const MAX_REQUEST_HEAD_BYTES: usize = 64 * 1024;
/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 1024;
/// How long shutdown waits for requests in progress.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How the server treats its clients.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// TLS and authentication, from `--web.config.file`.
    pub web_config: Option<Arc<WebConfigSource>>,
}

/// Serves `endpoints` on every one of `listeners` until `shutdown`
/// resolves, then lets requests in progress finish (for up to 10 s). The
/// listeners share the web config and the connection limit.
pub async fn serve(
    listeners: Vec<TcpListener>,
    endpoints: Endpoints,
    options: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let guard = options.web_config.map(|s| Arc::new(Guard::new(s)));
    let mut app = router(endpoints.clone());
    if let Some(guard) = &guard {
        app = app.layer(axum::middleware::from_fn_with_state(
            guard.clone(),
            guard_request,
        ));
    }
    let app = app.layer(axum::middleware::from_fn_with_state(
        endpoints,
        routes::count_scrapes,
    ));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_REQUEST_HEAD_BYTES);
    let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break, // never closed
            },
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = accept_any(&listeners) => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before
                    // it was accepted: wait a moment rather than spin.
                    tracing::debug!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let tls = guard.as_ref().and_then(|g| g.security().tls.clone());
        let app = app.clone();
        let http = http.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                None => {
                    let stream = write_stall_bounded(stream);
                    let conn =
                        http.serve_connection(TokioIo::new(stream), service(app, false, peer.ip()));
                    let _ = watcher.watch(conn).await;
                }
                Some(config) => {
                    let acceptor = tokio_rustls::TlsAcceptor::from(config);
                    let stream = match tokio::time::timeout(
                        HANDSHAKE_TIMEOUT,
                        acceptor.accept(stream),
                    )
                    .await
                    {
                        Ok(Ok(s)) => s,
                        Ok(Err(error)) => {
                            tracing::debug!(%error, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!("TLS handshake timed out");
                            return;
                        }
                    };
                    let verified = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .is_some_and(|c| !c.is_empty());
                    let stream = write_stall_bounded(stream);
                    let conn = http
                        .serve_connection(TokioIo::new(stream), service(app, verified, peer.ip()));
                    let _ = watcher.watch(conn).await;
                }
            }
        });
    }
    drop(listeners);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period");
    }
    Ok(())
}

/// The next connection on any of `listeners`.
async fn accept_any(
    listeners: &[TcpListener],
) -> std::io::Result<(TcpStream, std::net::SocketAddr)> {
    if listeners.is_empty() {
        return std::future::pending().await;
    }
    let accepts = listeners.iter().map(|l| Box::pin(l.accept()));
    select_all(accepts).await.0
}

/// The router as a hyper service for one connection, telling it whether
/// the client presented a verified certificate, and its address.
fn service(
    app: Router,
    verified: bool,
    peer: std::net::IpAddr,
) -> impl hyper::service::Service<
    Request<Incoming>,
    Response = Response,
    Error = Infallible,
    Future = impl Future<Output = Result<Response, Infallible>> + Send,
> + Clone {
    hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(VerifiedClientCert(verified));
        req.extensions_mut().insert(ClientAddr(peer));
        let app = app.clone();
        async move {
            // hyper bounds its read buffer, not the head: a head that came
            // in few reads can pass it. The promise is on the head.
            if head_size(&req) > MAX_REQUEST_HEAD_BYTES {
                let mut too_large = Response::new(Body::from("request header fields too large\n"));
                *too_large.status_mut() = StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
                return Ok(too_large);
            }
            app.oneshot(req).await
        }
    })
}

/// The size of a request's head as sent: the request line, each
/// `name: value` line and the blank line that ends the head.
fn head_size<B>(req: &Request<B>) -> usize {
    // Measured without allocating: this runs before every request.
    let uri = req.uri();
    let target = uri.path_and_query().map_or(1, |p| p.as_str().len())
        + uri.authority().map_or(0, |a| a.as_str().len());
    let line = req.method().as_str().len() + target + 12;
    req.headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum::<usize>()
        + line
        + "\r\n".len()
}

/// `stream`, whose writes fail with `TimedOut` once they have made no
/// progress for [`WRITE_STALL_TIMEOUT`]: a peer that stops reading cannot
/// hold a connection (and a slot of the server) forever. Reads are
/// untouched (hyper's header timeout bounds a slow request head).
fn write_stall_bounded<S>(stream: S) -> std::pin::Pin<Box<tokio_io_timeout::TimeoutStream<S>>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite,
{
    let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
    stream.set_write_timeout(Some(WRITE_STALL_TIMEOUT));
    Box::pin(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_write_nobody_reads_times_out() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (a, mut b) = tokio::io::duplex(1024);
        let mut w = write_stall_bounded(a);
        let big = vec![0u8; 64 * 1024];
        let started = tokio::time::Instant::now();
        let err = w.write_all(&big).await.expect_err("nobody reads");
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= WRITE_STALL_TIMEOUT);
        // Reads still work.
        let mut first = [0u8; 16];
        b.read_exact(&mut first).await.expect("what was written");
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_reader_that_keeps_reading_is_served() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (a, mut b) = tokio::io::duplex(1024);
        let mut w = write_stall_bounded(a);
        let pause = WRITE_STALL_TIMEOUT / 10;
        let reader = tokio::spawn(async move {
            let mut got = 0;
            let mut buf = [0u8; 512];
            while got < 16 * 1024 {
                // Slower than the timeout in total, never stalled for it.
                tokio::time::sleep(pause).await;
                got += b.read(&mut buf).await.expect("read");
            }
            got
        });
        w.write_all(&vec![1u8; 16 * 1024])
            .await
            .expect("progress resets the timer");
        assert!(reader.await.expect("reader") >= 16 * 1024);
    }

    #[test]
    fn head_size_counts_the_request_line_and_every_header() {
        let small = Request::get("/metrics").body(()).unwrap();
        assert!(head_size(&small) < 64);
        let exact = Request::get("/metrics")
            .header("host", "x")
            .body(())
            .unwrap();
        let sent = "GET /metrics HTTP/1.1\r\nhost: x\r\n\r\n";
        assert_eq!(head_size(&exact), sent.len(), "every byte of {sent:?}");
        let big = Request::get("/metrics")
            .header("x-a", "a".repeat(40_000))
            .header("x-b", "b".repeat(30_000))
            .body(())
            .unwrap();
        assert!(head_size(&big) > 70_000);
        assert!(head_size(&big) > MAX_REQUEST_HEAD_BYTES);
    }
}
