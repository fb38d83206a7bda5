//! Why a read failed: a kind from a fixed set, for the
//! `evolux_campaign_poll_errors_total{reason}` label, and a human message
//! for the log.

use std::fmt;

/// The kind of a failed read. The set is fixed and documented (docs/metrics.md,
/// `docs/RUNBOOK.md`): dashboards and alerts match on these labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// 401, or no usable token (an unreadable or empty token file).
    Auth,
    /// 403.
    Forbidden,
    /// 404.
    NotFound,
    /// 429, after the retries.
    RateLimited,
    /// 5xx, after the retries.
    ServerError,
    /// Any other error status.
    HttpOther,
    /// No response head, or no body byte, for `--evolux.timeout`.
    Timeout,
    /// Connection refused or reset, DNS failure.
    Connection,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// Not a page of records: not JSON, an HTML page, a truncated body, a
    /// bad next link, no records where records must be.
    BadBody,
    /// A body over `--evolux.max-response-size`, on the wire or decoded.
    TooLarge,
    /// Still running at the poll's deadline.
    Deadline,
    /// Fewer (or more) records than the server stated, or a silent cap: the
    /// read cannot be shown as a true count.
    Incomplete,
}

impl Reason {
    /// Every reason, in the order docs/metrics.md lists them.
    pub const ALL: [Reason; 13] = [
        Reason::Auth,
        Reason::Forbidden,
        Reason::NotFound,
        Reason::RateLimited,
        Reason::ServerError,
        Reason::HttpOther,
        Reason::Timeout,
        Reason::Connection,
        Reason::Tls,
        Reason::BadBody,
        Reason::TooLarge,
        Reason::Deadline,
        Reason::Incomplete,
    ];

    /// The `reason` label value.
    pub fn metric_label(self) -> &'static str {
        match self {
            Reason::Auth => "auth",
            Reason::Forbidden => "forbidden",
            Reason::NotFound => "not_found",
            Reason::RateLimited => "rate_limited",
            Reason::ServerError => "server_error",
            Reason::HttpOther => "http_other",
            Reason::Timeout => "timeout",
            Reason::Connection => "connection",
            Reason::Tls => "tls",
            Reason::BadBody => "bad_body",
            Reason::TooLarge => "too_large",
            Reason::Deadline => "deadline",
            Reason::Incomplete => "incomplete",
        }
    }

    /// The reason of an error status that retries did not cure.
    pub fn of_status(status: u16) -> Reason {
        match status {
            401 => Reason::Auth,
            403 => Reason::Forbidden,
            404 => Reason::NotFound,
            429 => Reason::RateLimited,
            500..=599 => Reason::ServerError,
            _ => Reason::HttpOther,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.metric_label())
    }
}

/// A failed read: its kind and what the log says. The message holds no
/// token, no query string and no body content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The kind.
    pub reason: Reason,
    /// The human message.
    pub message: String,
}

impl Failure {
    /// A failure of `reason`, saying `message`.
    pub fn new(reason: Reason, message: impl Into<String>) -> Failure {
        Failure {
            reason,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_a_distinct_snake_case_label() {
        let labels: std::collections::BTreeSet<_> =
            Reason::ALL.iter().map(|r| r.metric_label()).collect();
        assert_eq!(labels.len(), Reason::ALL.len());
        assert!(
            labels
                .iter()
                .all(|l| l.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        );
    }

    #[test]
    fn statuses_map_to_their_reasons() {
        let cases = [
            (401, Reason::Auth),
            (403, Reason::Forbidden),
            (404, Reason::NotFound),
            (429, Reason::RateLimited),
            (500, Reason::ServerError),
            (503, Reason::ServerError),
            (400, Reason::HttpOther),
            (410, Reason::HttpOther),
        ];
        for (status, reason) in cases {
            assert_eq!(Reason::of_status(status), reason, "{status}");
        }
    }
}
