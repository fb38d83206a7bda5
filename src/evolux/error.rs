//! Why a query failed ([`FetchError`]), and its kind for the
//! `evolux_campaign_poll_errors_total{reason}` label.

use std::time::Duration;

use reqwest::StatusCode;

use super::client::MAX_PAGES;
use super::pagination::PageError;
use super::scanner::ScanError;
use crate::model::{Failure, Reason};
use crate::token::TokenError;

/// Why a query failed. Messages hold no token, no query string (filters may
/// be personal data) and no body content.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No usable token.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The server answered with an error status (after any retries).
    #[error("HTTP {status}{hint}")]
    Status {
        /// The status.
        status: StatusCode,
        /// What it likely means.
        hint: &'static str,
    },
    /// `Retry-After` asked for a longer wait than the exporter allows.
    #[error("HTTP {status} with Retry-After {wait:?}, longer than the {max:?} the exporter waits")]
    RetryAfterTooLong {
        /// The status.
        status: StatusCode,
        /// What the server asked for.
        wait: Duration,
        /// The exporter's limit.
        max: Duration,
    },
    /// No response: connection refused, DNS, TLS, timeout.
    #[error("request failed: {message}")]
    Transport {
        /// `Timeout`, `Connection` or `Tls`.
        kind: Reason,
        /// What happened, without the URL.
        message: String,
    },
    /// The body broke off, stalled or is not valid gzip.
    #[error("reading the body failed after {bytes} bytes: {message}")]
    Body {
        /// Bytes read before the failure.
        bytes: u64,
        /// `Timeout` for a stall, `BadBody` for a body cut short or broken.
        kind: Reason,
        /// Why.
        message: String,
    },
    /// The body passed `--evolux.max-response-size`, on the wire or decoded.
    #[error("response larger than --evolux.max-response-size ({limit} bytes)")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// The server sent a coding other than the gzip the client asked for.
    #[error("the server sent a body in an {0}")]
    Encoding(String),
    /// An HTML page instead of JSON (a maintenance page, a login page).
    #[error("the server sent an HTML page (Content-Type {0}), not JSON")]
    Html(String),
    /// The body is not a page of records.
    #[error("bad response body: {0}")]
    Scan(#[from] ScanError),
    /// A next link to another host: the token is not sent there.
    #[error("a next link points to another host ({0}); not following it with the token")]
    ForeignNext(String),
    /// A next link that cannot be resolved.
    #[error("a next link is not a valid URL")]
    BadNext,
    /// A next link back to a page already read.
    #[error("the next links loop back to page {0} of this query")]
    PageLoop(usize),
    /// Too many pages.
    #[error("more than {MAX_PAGES} pages")]
    TooManyPages,
    /// The pages cannot be followed to an exact count: their totals
    /// disagree, or they say more follow with no way to reach them.
    #[error(transparent)]
    Pagination(#[from] PageError),
}

impl FetchError {
    /// The kind of this failure, for `evolux_campaign_poll_errors_total`.
    pub fn reason(&self) -> Reason {
        match self {
            FetchError::Token(_) => Reason::Auth,
            FetchError::Status { status, .. } | FetchError::RetryAfterTooLong { status, .. } => {
                Reason::of_status(status.as_u16())
            }
            FetchError::Transport { kind, .. } | FetchError::Body { kind, .. } => *kind,
            FetchError::TooLarge { .. } => Reason::TooLarge,
            FetchError::Pagination(_) => Reason::Incomplete,
            FetchError::Encoding(_)
            | FetchError::Html(_)
            | FetchError::Scan(_)
            | FetchError::ForeignNext(_)
            | FetchError::BadNext
            | FetchError::PageLoop(_)
            | FetchError::TooManyPages => Reason::BadBody,
        }
    }

    /// As a [`Failure`]: the kind and the message.
    pub fn into_failure(self) -> Failure {
        Failure::new(self.reason(), self.to_string())
    }
}

/// A non-2xx status as the error, with a hint at what to check.
pub(super) fn status_error(status: StatusCode) -> FetchError {
    let hint = match status.as_u16() {
        401 => ": the token was refused (check EVOLUX_TOKEN or the token file)",
        403 => ": the token may not read this report",
        404 => ": no such endpoint (check --evolux.url)",
        429 => ": rate limited (lower --evolux.max-rps)",
        300..=399 => ": a redirect to another host, not followed",
        500..=599 => ": the server failed",
        _ => "",
    };
    FetchError::Status { status, hint }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_has_its_documented_reason() {
        let status = |code: u16| FetchError::Status {
            status: StatusCode::from_u16(code).unwrap(),
            hint: "",
        };
        let cases = [
            (status(401), Reason::Auth),
            (status(403), Reason::Forbidden),
            (status(404), Reason::NotFound),
            (status(429), Reason::RateLimited),
            (status(503), Reason::ServerError),
            (status(418), Reason::HttpOther),
            (
                FetchError::RetryAfterTooLong {
                    status: StatusCode::TOO_MANY_REQUESTS,
                    wait: Duration::from_secs(3600),
                    max: Duration::from_secs(30),
                },
                Reason::RateLimited,
            ),
            (
                FetchError::Transport {
                    kind: Reason::Tls,
                    message: "invalid peer certificate".into(),
                },
                Reason::Tls,
            ),
            (
                FetchError::Body {
                    bytes: 10,
                    kind: Reason::Timeout,
                    message: "stalled".into(),
                },
                Reason::Timeout,
            ),
            (FetchError::TooLarge { limit: 1 }, Reason::TooLarge),
            (FetchError::Html("text/html".into()), Reason::BadBody),
            (FetchError::Encoding("br".into()), Reason::BadBody),
            (FetchError::ForeignNext("evil".into()), Reason::BadBody),
            (FetchError::PageLoop(2), Reason::BadBody),
            (FetchError::TooManyPages, Reason::BadBody),
            (FetchError::BadNext, Reason::BadBody),
            (
                FetchError::Pagination(PageError::Incomplete {
                    stated: 600,
                    stated_at: "/count".into(),
                    read: 200,
                }),
                Reason::Incomplete,
            ),
        ];
        for (error, reason) in cases {
            let text = error.to_string();
            let failure = error.into_failure();
            assert_eq!(failure.reason, reason, "{text}");
            assert_eq!(failure.message, text);
        }
    }
}
