//! `--evolux.diagnose`: first contact with a real server. Each configured
//! campaign (or, with none, discovery) is read once as a poll's whole read
//! would be, through the exporter's own client, query builder and tally;
//! then the last hour is read in two halves and whole, to see whether the
//! server's `start`/`end` tile. [`Diagnosis`] prints it for a person
//! ([`report`]) and judges it ([`verdict`]): key names, counts, states and
//! UUIDs only, never a value a record holds.

pub mod cap;
#[cfg(test)]
mod fixtures;
pub mod keys;
pub mod report;
pub mod sink;
pub mod verdict;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt;

use crate::config::Config;
use crate::demo::{DemoOptions, DemoServer};
use crate::evolux::fields::ResponseLayout;
use crate::evolux::{ApiMetrics, EvoluxClient, QueryStats, query};
use crate::model::{
    Campaign, Failure, Field, Millis, Query, Range, Reason, RecordSink, Tally, millis,
};
pub use cap::CapCheck;
pub use keys::KeyNames;
pub use sink::Counted;
use sink::{DiagnoseSink, FIELDS};
pub use verdict::Verdict;

/// The window the `start`/`end` check reads: the last hour (or less, when
/// the campaign's own range is shorter).
pub const TILING_WINDOW: Millis = 3_600_000;

/// Why a diagnosis could not start (a read that fails is part of the
/// diagnosis, not an error).
#[derive(Debug, thiserror::Error)]
pub enum DiagnoseError {
    /// The HTTP client cannot be built (a bad CA bundle).
    #[error("building the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    /// The client's instruments cannot be registered.
    #[error("registering the client's instruments: {0}")]
    Metrics(#[from] prometheus::Error),
    /// `--demo`: the simulated API did not start.
    #[error("starting the demo upstream: {0}")]
    Demo(#[from] std::io::Error),
    /// `--demo`: its address is not a URL.
    #[error("the demo upstream's URL: {0}")]
    DemoUrl(#[from] url::ParseError),
}

/// Everything a diagnosis found.
#[derive(Debug)]
pub struct Diagnosis {
    /// The report endpoint read (scheme, host, port and path only), and the
    /// proxy when one is set (without credentials).
    pub endpoint: String,
    /// Per campaign (or the one discovery read), in configuration order.
    pub targets: Vec<TargetReport>,
    /// How long the whole diagnosis took.
    pub elapsed: Duration,
}

impl Diagnosis {
    /// Whether every campaign can be counted exactly: the exit status.
    pub fn ok(&self) -> bool {
        self.targets.iter().all(|t| t.verdict().ok())
    }
}

/// What one campaign's reads found.
#[derive(Debug)]
pub struct TargetReport {
    /// The campaign's UUID, or `None` for discovery.
    pub campaign: Option<String>,
    /// The whole read, or why it failed.
    pub read: Result<WholeRead, Failure>,
    /// The `start`/`end` check.
    pub tiling: Tiling,
    /// The silent-cap check.
    pub cap: CapCheck,
    /// How long its reads took.
    pub elapsed: Duration,
}

impl TargetReport {
    /// Its verdict.
    pub fn verdict(&self) -> Verdict {
        verdict::judge(self)
    }
}

/// A whole read that succeeded.
#[derive(Debug)]
pub struct WholeRead {
    /// The client's account of the query.
    pub stats: QueryStats,
    /// The records' top-level key names.
    pub keys: KeyNames,
    /// The fields the exporter reads, where it looks, and how often found.
    pub fields: Vec<FieldUse>,
    /// What the exporter's tally made of it.
    pub counted: Counted,
}

/// One field the exporter reads from each record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldUse {
    /// Which.
    pub field: Field,
    /// Its JSON pointers, in the order tried.
    pub pointers: Vec<String>,
    /// Records it was found in.
    pub found: u64,
}

/// The `start`/`end` check: a recent window read as two halves, then whole.
#[derive(Debug, Clone, PartialEq)]
pub enum Tiling {
    /// All three reads succeeded.
    Read {
        /// The window (inclusive milliseconds).
        range: Range,
        /// Records of the lower and upper halves.
        halves: [u64; 2],
        /// Records of the whole window, read after the halves.
        whole: u64,
    },
    /// One of the reads failed.
    Failed(Failure),
    /// Not attempted, and why.
    Skipped(&'static str),
}

/// Runs the diagnosis `config` asks for: the configured campaigns (this
/// replica's share) or discovery, `--evolux.max-concurrency` at a time,
/// within the client's limits.
pub async fn run(config: &Config) -> Result<Diagnosis, DiagnoseError> {
    let started = Instant::now();
    let mut settings = config.evolux.clone();
    let _demo = if config.demo {
        let demo = DemoServer::start(DemoOptions::default()).await?;
        settings.url = demo.url().parse()?;
        Some(demo)
    } else {
        None
    };
    let metrics = ApiMetrics::register(&prometheus::Registry::new())?;
    let client = EvoluxClient::new(&settings, Arc::new(config.response.clone()), metrics)?;
    let mut endpoint = client.report_url().clone();
    endpoint.set_query(None);
    let _ = endpoint.set_username("");
    let _ = endpoint.set_password(None);
    let campaigns = config.poll_campaigns();
    let targets: Vec<Option<Campaign>> = if campaigns.is_empty() {
        vec![None]
    } else {
        campaigns.into_iter().map(Some).collect()
    };
    let reader = Reader {
        client: &client,
        layout: &config.response,
        window: config.poll.window,
        max_series: config.poll.read_series_bound(),
        deadline: config.poll.deadline,
    };
    let targets = futures_util::stream::iter(targets)
        .map(|c| reader.target(c))
        .buffered(config.evolux.max_concurrency.max(1))
        .collect()
        .await;
    // Through a proxy (or past one, by NO_PROXY): said, without credentials.
    let endpoint = if settings.proxy.is_set() {
        format!("{endpoint} (proxy: {})", settings.proxy)
    } else {
        endpoint.to_string()
    };
    Ok(Diagnosis {
        endpoint,
        targets,
        elapsed: started.elapsed(),
    })
}

/// What a campaign's (or discovery's) reads ask.
fn query_of(campaign: Option<&Campaign>) -> Query {
    campaign.cloned().map_or(Query::Discovery, Query::Campaign)
}

/// What each campaign's reads share.
struct Reader<'a> {
    client: &'a EvoluxClient,
    layout: &'a ResponseLayout,
    /// `poll.window`, for discovery (a campaign has its own resolved).
    window: Option<Duration>,
    max_series: usize,
    deadline: Duration,
}

impl Reader<'_> {
    /// One campaign's (or discovery's) reads.
    async fn target(&self, campaign: Option<Campaign>) -> TargetReport {
        let started = Instant::now();
        let now = millis(SystemTime::now());
        let axis = query::axis(&query_of(campaign.as_ref()), self.window);
        let whole = Range {
            start: axis.start_at(now),
            end: axis.end,
        };
        let read = self.whole_read(campaign.as_ref(), whole).await;
        let cap = match &read {
            Ok(r) => {
                self.cap_check(campaign.as_ref(), whole, r.stats.records, now)
                    .await
            }
            Err(_) => CapCheck::Skipped("the whole read failed"),
        };
        let tiling = match &read {
            Ok(_) => match tiling_window(whole, now) {
                Some(range) => self.tiling(campaign.as_ref(), range).await,
                None => Tiling::Skipped("the campaign's range holds no recent hour to split"),
            },
            Err(_) => Tiling::Skipped("the whole read failed"),
        };
        TargetReport {
            campaign: campaign.map(|c| c.uuid.to_string()),
            read,
            tiling,
            cap,
            elapsed: started.elapsed(),
        }
    }

    /// The read a poll makes of the whole range, counted by the product's tally.
    async fn whole_read(
        &self,
        campaign: Option<&Campaign>,
        range: Range,
    ) -> Result<WholeRead, Failure> {
        let fixed = campaign.map(|c| c.uuid.to_string());
        let mut sink = DiagnoseSink::new(Tally::new(fixed.as_deref(), self.max_series));
        let stats = self.query(campaign, range, &mut sink).await?;
        let fields = FIELDS
            .iter()
            .zip(sink.found)
            .map(|(field, found)| FieldUse {
                field: *field,
                pointers: self.pointers(*field),
                found,
            })
            .collect();
        Ok(WholeRead {
            stats,
            keys: sink.keys,
            fields,
            counted: Counted::of(sink.tally),
        })
    }

    /// The halves of `range`, then `range` whole: halves first, so that
    /// records inserted meanwhile can only make the whole larger.
    async fn tiling(&self, campaign: Option<&Campaign>, range: Range) -> Tiling {
        let (lower, upper) = halves(range);
        let mut counts = [0u64; 3];
        for (n, r) in counts.iter_mut().zip([lower, upper, range]) {
            let mut discard = |_: &crate::model::RecordFields<'_>| {};
            match self.query(campaign, r, &mut discard).await {
                Ok(stats) => *n = stats.records,
                Err(f) => return Tiling::Failed(f),
            }
        }
        Tiling::Read {
            range,
            halves: [counts[0], counts[1]],
            whole: counts[2],
        }
    }

    /// One query with the poller's parameters, bounded by the poll deadline.
    async fn query(
        &self,
        campaign: Option<&Campaign>,
        range: Range,
        sink: &mut impl RecordSink,
    ) -> Result<QueryStats, Failure> {
        let params = query::params(&query_of(campaign), range);
        match tokio::time::timeout(self.deadline, self.client.run_query(&params, sink)).await {
            Ok(Ok(stats)) => Ok(stats),
            Ok(Err(e)) => Err(e.into_failure()),
            Err(_) => Err(Failure::new(
                Reason::Deadline,
                format!("the read did not finish within {:?}", self.deadline),
            )),
        }
    }

    fn pointers(&self, field: Field) -> Vec<String> {
        self.layout
            .fields
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, ps)| ps.iter().map(ToString::to_string).collect())
            .unwrap_or_default()
    }
}

/// The last second's end at or before `ms`, as the segments cut.
fn second_end(ms: Millis) -> Millis {
    ms - (ms + 1).rem_euclid(1000)
}

/// The window the `start`/`end` check reads: the last hour of `whole` up
/// to `now`, ending at a second's end; `None` when less than two seconds
/// of it remain.
pub fn tiling_window(whole: Range, now: Millis) -> Option<Range> {
    let end = second_end(whole.end.map_or(now, |e| e.min(now)));
    let hour = end - TILING_WINDOW + 1;
    let start = whole.start.map_or(hour, |s| s.max(hour));
    (end - start >= 2_000).then_some(Range {
        start: Some(start),
        end: Some(end),
    })
}

/// `range` cut after the end of the second its middle falls in: the two
/// halves tile it as the segments do (`...:59.999`, then `...:00.000`).
pub fn halves(range: Range) -> (Range, Range) {
    let (start, end) = (range.start.unwrap_or(0), range.end.unwrap_or(0));
    let cut = second_end(start + (end - start) / 2);
    (
        Range {
            start: range.start,
            end: Some(cut),
        },
        Range {
            start: Some(cut + 1),
            end: range.end,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_window_is_the_last_hour_cut_at_a_second_end() {
        // 10:00:00.500 on some day, in ms.
        let now = 1_700_000_000_500;
        let all = Range {
            start: None,
            end: None,
        };
        let w = tiling_window(all, now).unwrap();
        assert_eq!(w.end, Some(1_699_999_999_999));
        assert_eq!(w.start, Some(1_699_999_999_999 - TILING_WINDOW + 1));
        let (lo, hi) = halves(w);
        assert_eq!(lo.start, w.start);
        assert_eq!(hi.end, w.end);
        let cut = lo.end.unwrap();
        assert_eq!(hi.start, Some(cut + 1));
        assert_eq!((cut + 1) % 1000, 0, "the upper half starts on a second");
        assert!(w.start.unwrap() < cut && cut < w.end.unwrap());
    }

    #[test]
    fn a_short_or_past_range_bounds_the_window() {
        let now = 1_700_000_000_500;
        let ten_minutes = Range {
            start: Some(now - 600_000),
            end: None,
        };
        assert_eq!(
            tiling_window(ten_minutes, now).unwrap().start,
            ten_minutes.start
        );
        let ended = Range {
            start: None,
            end: Some(1_600_000_000_000),
        };
        assert_eq!(
            tiling_window(ended, now).unwrap().end,
            Some(1_599_999_999_999)
        );
        let one_second = Range {
            start: Some(now - 1_000),
            end: None,
        };
        assert_eq!(tiling_window(one_second, now), None);
    }
}
