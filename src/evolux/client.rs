//! The HTTP client of the report API: auth, limits, retries, pagination,
//! and the streaming count of each response body.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{
    ACCEPT, ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, LINK,
    RETRY_AFTER,
};
use reqwest::{Response, StatusCode};
use tracing::debug;
use url::Url;

use super::body::{BodyDecoder, BodyError, Encoding};
use super::error::{FetchError, status_error};
use super::fields::ResponseLayout;
use super::instruments::ApiMetrics;
use super::limiter::Limiter;
use super::pagination::{NextRef, PageFacts, Paginator, Stated, Step, Style, link};
use super::query::REPORT_PATH;
use super::retry::{backoff, is_retryable, parse_retry_after};
use super::scanner::PageEnd;
use super::transport::transport_reason;
use crate::model::Reason;
use crate::model::RecordSink;
use crate::token::TokenSource;

/// Most pages followed in one query; a next link chain longer than this is
/// taken for a server that paginates forever.
pub const MAX_PAGES: usize = 10_000;

/// The head of a query's first response, as `--evolux.diagnose` prints it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FirstResponse {
    /// The HTTP status.
    pub status: u16,
    /// `Content-Type`, lower-cased; empty when absent.
    pub content_type: String,
    /// `Content-Encoding`, lower-cased; empty when absent.
    pub content_encoding: String,
}

/// What a query did, for the poll's log line and `--evolux.diagnose`.
#[derive(Debug, Default, Clone)]
pub struct QueryStats {
    /// Pages read.
    pub pages: usize,
    /// Elements of the records arrays.
    pub records: u64,
    /// Elements that were not usable records.
    pub invalid: u64,
    /// Body bytes read.
    pub bytes: u64,
    /// The first response's head.
    pub first: Option<FirstResponse>,
    /// Where the records array was found (a JSON pointer, `(root)` for a
    /// bare array), on the first page.
    pub records_at: Option<String>,
    /// How the pages were linked: the style that led past the first page;
    /// `None` for a single page.
    pub pagination: Option<Style>,
    /// The total the server stated on its last page, if any.
    pub stated_total: Option<Stated>,
}

/// How to reach the API: plain values, built by [`crate::config`].
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// Base URL; the report path is joined to it. A placeholder in demo mode,
    /// replaced by the demo server's address when it starts.
    pub url: Url,
    /// Where the bearer token comes from.
    pub token: TokenSource,
    /// `--evolux.ca-file`, for the summary.
    pub ca_file: Option<PathBuf>,
    /// Its certificates, trusted in addition to the built-in roots.
    pub ca_certificates: Vec<reqwest::Certificate>,
    /// The proxy to go through, resolved by [`super::proxy::resolve`]: the
    /// only one used (reqwest's own lookup is off).
    pub proxy: super::ProxyChoice,
    /// Longest a request may go without a response head or a body byte: an
    /// idle bound, reset by every byte that arrives, not a total. A slow but
    /// steady body is read to the end; the poll deadline
    /// ([`crate::poller::PollSettings::deadline`]) ends one that never does.
    pub timeout: Duration,
    /// Requests in flight at once.
    pub max_concurrency: usize,
    /// Requests started per second, at most.
    pub max_rps: f64,
    /// A response body larger than this fails the poll.
    pub max_response_size: u64,
    /// Retries after the first attempt of a request.
    pub max_retries: u32,
    /// First backoff delay; doubled on each retry, with full jitter. Not a
    /// flag: tests shorten it.
    pub retry_base_delay: Duration,
    /// Longest backoff or `Retry-After` wait honoured; a longer one fails the
    /// request at once rather than stall the poll.
    pub retry_max_delay: Duration,
}

/// A client of one Evolux server.
#[derive(Clone, Debug)]
pub struct EvoluxClient {
    http: reqwest::Client,
    report_url: Url,
    token: TokenSource,
    layout: Arc<ResponseLayout>,
    limiter: Arc<Limiter>,
    metrics: ApiMetrics,
    timeout: Duration,
    max_response_size: u64,
    max_retries: u32,
    retry_base_delay: Duration,
    retry_max_delay: Duration,
}

impl EvoluxClient {
    /// A client for `config.url`, reading where `layout` says, recording
    /// each request in `metrics`.
    pub fn new(
        config: &ClientSettings,
        layout: Arc<ResponseLayout>,
        metrics: ApiMetrics,
    ) -> Result<EvoluxClient, reqwest::Error> {
        let origin = config.url.origin();
        let redirect = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 5 {
                attempt.error("too many redirects")
            } else if attempt.url().origin() == origin {
                attempt.follow()
            } else {
                // Never carry the token to another host: hand the 3xx back.
                attempt.stop()
            }
        });
        // Only the proxy we resolved: reqwest would read the variables itself.
        let mut builder = reqwest::Client::builder().no_proxy();
        if let Some(proxy) = config.proxy.reqwest_proxy()? {
            builder = builder.proxy(proxy);
        }
        for ca in &config.ca_certificates {
            builder = builder.add_root_certificate(ca.clone());
        }
        let http = builder
            .user_agent(concat!("evolux-exporter/", env!("CARGO_PKG_VERSION")))
            .redirect(redirect)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .build()?;
        let report_url = config
            .url
            .join(REPORT_PATH)
            .unwrap_or_else(|_| config.url.clone());
        Ok(EvoluxClient {
            http,
            report_url,
            token: config.token.clone(),
            layout,
            limiter: Arc::new(Limiter::new(config.max_concurrency, config.max_rps)),
            metrics,
            timeout: config.timeout,
            max_response_size: config.max_response_size,
            max_retries: config.max_retries,
            retry_base_delay: config.retry_base_delay,
            retry_max_delay: config.retry_max_delay,
        })
    }

    /// The report endpoint's URL.
    pub fn report_url(&self) -> &Url {
        &self.report_url
    }

    /// Runs one query: the first page with `params`, then every page the
    /// server's pagination leads to (detected, or `response.pagination`),
    /// handing each record to `sink` as it streams in. Fails when the
    /// records read differ from a total the server stated.
    pub async fn run_query(
        &self,
        params: &[(&'static str, String)],
        sink: &mut impl RecordSink,
    ) -> Result<QueryStats, FetchError> {
        let token = self.token.current()?.header_value()?;
        let mut paginator = Paginator::new(&self.layout.pagination);
        let mut first = self.report_url.clone();
        let extra = paginator.first_params();
        if !params.is_empty() || !extra.is_empty() {
            first
                .query_pairs_mut()
                .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())))
                .extend_pairs(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        let mut url = first.clone();
        let mut stats = QueryStats::default();
        let mut seen: HashSet<Url> = HashSet::new();
        loop {
            if !seen.insert(url.clone()) {
                return Err(FetchError::PageLoop(stats.pages));
            }
            if stats.pages >= MAX_PAGES {
                return Err(FetchError::TooManyPages);
            }
            let page = self.fetch_page(&url, &token, sink, &mut stats).await?;
            stats.pages += 1;
            if stats.pages == 1 {
                stats.first = Some(page.head);
                stats.records_at = page.end.records_at.clone();
            }
            let facts = PageFacts {
                hints: page.end.hints,
                link_next: page.link_next,
                link_header: page.link_header,
                header_total: page.header_total,
                records: page.end.records,
            };
            let step = paginator.after_page(&facts).map_err(FetchError::Pagination);
            stats.pagination = paginator.style();
            stats.stated_total = paginator.stated().cloned();
            let next_url = match step? {
                Step::Done => return Ok(stats),
                Step::Follow(_, NextRef::Link(link)) => {
                    url.join(&link).map_err(|_| FetchError::BadNext)?
                }
                Step::Follow(_, NextRef::Param(name, value)) => with_param(&first, &name, &value),
            };
            if next_url.origin() != self.report_url.origin() {
                return Err(FetchError::ForeignNext(
                    next_url.host_str().unwrap_or("?").to_string(),
                ));
            }
            url = next_url;
        }
    }

    /// One page, with retries before the body starts.
    async fn fetch_page(
        &self,
        url: &Url,
        token: &reqwest::header::HeaderValue,
        sink: &mut impl RecordSink,
        stats: &mut QueryStats,
    ) -> Result<Page, FetchError> {
        let mut attempt = 0;
        loop {
            let permit = self.limiter.acquire().await;
            let started = Instant::now();
            let request = self
                .http
                .get(url.clone())
                .header(AUTHORIZATION, token.clone())
                .header(ACCEPT, "application/json")
                .header(ACCEPT_ENCODING, "gzip");
            // --evolux.timeout bounds the wait for the response head, then
            // each wait for a body byte (read_body).
            let sent = match tokio::time::timeout(self.timeout, request.send()).await {
                Ok(sent) => sent.map_err(|e| transport_reason(e, self.timeout)),
                Err(_) => Err((
                    Reason::Timeout,
                    format!(
                        "timed out after {:?} waiting for the response (--evolux.timeout)",
                        self.timeout
                    ),
                )),
            };
            let wait = match sent {
                Ok(resp) if resp.status().is_success() => {
                    self.metrics.request(resp.status().as_str());
                    let result = self.read_body(resp, sink, stats).await;
                    self.metrics.observe(started.elapsed());
                    drop(permit);
                    return result;
                }
                Ok(resp) => {
                    let status = resp.status();
                    self.metrics.request(status.as_str());
                    self.metrics.observe(started.elapsed());
                    if !is_retryable(status) || attempt >= self.max_retries {
                        return Err(status_error(status));
                    }
                    let retry_after = (status == StatusCode::TOO_MANY_REQUESTS
                        || status == StatusCode::SERVICE_UNAVAILABLE)
                        .then(|| resp.headers().get(RETRY_AFTER))
                        .flatten()
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, SystemTime::now()));
                    if let Some(wait) = retry_after {
                        // The server asked for quiet: every request waits,
                        // not only this one; no longer than the exporter
                        // ever waits for a retry.
                        let pause = wait.min(self.retry_max_delay);
                        if let Some(until) = tokio::time::Instant::now().checked_add(pause) {
                            self.limiter.pause_until(until);
                        }
                        if wait > self.retry_max_delay {
                            return Err(FetchError::RetryAfterTooLong {
                                status,
                                wait,
                                max: self.retry_max_delay,
                            });
                        }
                    }
                    debug!(
                        status = status.as_u16(),
                        attempt, "retrying after error status"
                    );
                    retry_after.unwrap_or_else(|| self.backoff(attempt))
                }
                Err((kind, message)) => {
                    self.metrics.request("error");
                    self.metrics.observe(started.elapsed());
                    if attempt >= self.max_retries {
                        return Err(FetchError::Transport { kind, message });
                    }
                    debug!(reason = %message, attempt, "retrying after transport error");
                    self.backoff(attempt)
                }
            };
            drop(permit);
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        backoff(
            attempt,
            self.retry_base_delay,
            self.retry_max_delay,
            fastrand::f64(),
        )
    }

    /// Streams a 2xx body through the decoder and the scanner. Each wait for
    /// body bytes is bounded by `--evolux.timeout`, restarted by every chunk
    /// however small: a body that goes silent that long is cut, a slow but
    /// steady one is read to the end (the poll deadline bounds it).
    async fn read_body(
        &self,
        mut resp: Response,
        sink: &mut impl RecordSink,
        stats: &mut QueryStats,
    ) -> Result<Page, FetchError> {
        let header = |name| {
            resp.headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_ascii_lowercase)
        };
        let content_type = header(CONTENT_TYPE).unwrap_or_default();
        if content_type.starts_with("text/html") {
            return Err(FetchError::Html(content_type));
        }
        let encoding = Encoding::from_header(header(CONTENT_ENCODING).as_deref())
            .map_err(FetchError::Encoding)?;
        let head = FirstResponse {
            status: resp.status().as_u16(),
            content_type: content_type.clone(),
            content_encoding: header(CONTENT_ENCODING).unwrap_or_default(),
        };
        let links: Vec<&str> = resp
            .headers()
            .get_all(LINK)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let link_header = !links.is_empty();
        let link_next = link::next_target(links);
        let totals: &[&str] = if self.layout.header_totals {
            &["x-total-count", "x-total"]
        } else {
            &[]
        };
        let header_total = totals.iter().find_map(|&name| {
            let n = resp
                .headers()
                .get(name)?
                .to_str()
                .ok()?
                .trim()
                .parse()
                .ok()?;
            Some((
                n,
                if name == "x-total" {
                    "X-Total"
                } else {
                    "X-Total-Count"
                },
            ))
        });
        let declared = header(CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > self.max_response_size) {
            return Err(FetchError::TooLarge {
                limit: self.max_response_size,
            });
        }
        let mut decoder = BodyDecoder::new(&self.layout, encoding, self.max_response_size, sink);
        let mut bytes: u64 = 0;
        let mut idle_until = tokio::time::Instant::now() + self.timeout;
        loop {
            let chunk = match tokio::time::timeout_at(idle_until, resp.chunk()).await {
                Ok(Ok(Some(c))) => c,
                Ok(Ok(None)) => break,
                Ok(Err(e)) => {
                    let (kind, message) = transport_reason(e, self.timeout);
                    // A body cut short is a broken body, whatever broke it,
                    // unless it was a timeout.
                    let kind = if kind == Reason::Timeout {
                        kind
                    } else {
                        Reason::BadBody
                    };
                    return Err(FetchError::Body {
                        bytes,
                        kind,
                        message,
                    });
                }
                Err(_) => {
                    return Err(FetchError::Body {
                        bytes,
                        kind: Reason::Timeout,
                        message: format!("no body byte for {:?} (--evolux.timeout)", self.timeout),
                    });
                }
            };
            // Any byte is progress; an empty chunk (possible in HTTP/2) is not.
            if !chunk.is_empty() {
                idle_until = tokio::time::Instant::now() + self.timeout;
            }
            bytes += chunk.len() as u64;
            self.metrics.response_bytes(chunk.len() as u64);
            if bytes > self.max_response_size {
                return Err(FetchError::TooLarge {
                    limit: self.max_response_size,
                });
            }
            decoder.feed(&chunk).map_err(|e| body_error(e, bytes))?;
        }
        let end = decoder.finish().map_err(|e| body_error(e, bytes))?;
        self.metrics.records(end.records);
        stats.records += end.records;
        stats.invalid += end.invalid;
        stats.bytes += bytes;
        Ok(Page {
            end,
            head,
            link_next,
            link_header,
            header_total,
        })
    }
}

/// One page read: its body's end and what its headers said.
struct Page {
    end: PageEnd,
    head: FirstResponse,
    link_next: Option<String>,
    link_header: bool,
    header_total: Option<(u64, &'static str)>,
}

/// `base` with query parameter `name` set to `value` (replaced if present).
fn with_param(base: &Url, name: &str, value: &str) -> Url {
    let mut url = base.clone();
    let kept: Vec<(String, String)> = base
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair(name, value);
    url
}

fn body_error(e: BodyError, bytes: u64) -> FetchError {
    match e {
        BodyError::TooLarge { limit } => FetchError::TooLarge { limit },
        BodyError::Scan(e) => FetchError::Scan(e),
        BodyError::Gzip(message) => FetchError::Body {
            bytes,
            kind: Reason::BadBody,
            message,
        },
    }
}
