//! A transport error (connection, proxy tunnel, TLS, timeout) as the
//! poll's reason and a message without the request's URL.

use std::time::Duration;

use crate::model::Reason;

/// A reqwest error as its kind and a text without its URL (the query may
/// hold personal data).
pub(super) fn transport_reason(e: reqwest::Error, timeout: Duration) -> (Reason, String) {
    if e.is_timeout() {
        return (
            Reason::Timeout,
            format!("timed out after {timeout:?} (--evolux.timeout)"),
        );
    }
    let reason = if is_tls(&e) {
        Reason::Tls
    } else {
        Reason::Connection
    };
    let kind = if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "body error"
    } else {
        "error"
    };
    let mut msg = kind.to_string();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(&e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    (reason, msg)
}

/// Whether a TLS error (certificate, handshake) is behind `e`.
fn is_tls(e: &reqwest::Error) -> bool {
    std::error::Error::source(e).is_some_and(is_tls_error)
}

/// Whether `e` is, wraps or is caused by a `rustls::Error`. The layers
/// between (hyper-util, hyper-rustls, tokio-rustls) wrap it in `io::Error`s,
/// an `io::Error` in an `io::Error`: each is looked into.
fn is_tls_error(e: &(dyn std::error::Error + 'static)) -> bool {
    if e.is::<rustls::Error>() {
        return true;
    }
    if let Some(inner) = e
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
        && is_tls_error(inner)
    {
        return true;
    }
    e.source().is_some_and(is_tls_error)
}
