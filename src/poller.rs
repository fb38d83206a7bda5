//! The poll loop: every `poll.interval`, one query per campaign (or one
//! discovery query), a few at a time; the results become a new
//! [`Snapshot`] and new exposition bytes, swapped in at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt;
use tokio::sync::Mutex;
use tracing::{info, warn};

use crate::aggregate::{QueryResult, Snapshot, Tally, Target};
use crate::config::{CampaignConfig, Config};
use crate::evolux::EvoluxClient;
use crate::evolux::query;
use crate::metrics::{Exposition, SelfMetrics, render};

/// What `/metrics` and `/readyz` read: the latest snapshot and its bytes.
#[derive(Debug, Default)]
pub struct Published {
    exposition: RwLock<Arc<Exposition>>,
    snapshot: RwLock<Arc<Snapshot>>,
    ready: AtomicBool,
}

impl Published {
    /// The bytes to serve now.
    pub fn exposition(&self) -> Arc<Exposition> {
        self.exposition
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The snapshot those bytes were rendered from.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether a first poll has finished.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    fn publish(&self, snapshot: Arc<Snapshot>, exposition: Arc<Exposition>, ready: bool) {
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = snapshot;
        *self.exposition.write().unwrap_or_else(|e| e.into_inner()) = exposition;
        if ready {
            self.ready.store(true, Ordering::Release);
        }
    }
}

/// What one poll did, as logged.
#[derive(Debug, Clone, Default)]
pub struct PollReport {
    /// Queries run.
    pub queries: usize,
    /// Queries that failed.
    pub failed: usize,
    /// Records counted.
    pub records: u64,
    /// Pages read.
    pub pages: usize,
    /// Wall time of the poll.
    pub duration: Duration,
}

/// Polls the API and publishes what it finds.
#[derive(Debug)]
pub struct Poller {
    config: Arc<Config>,
    client: EvoluxClient,
    self_metrics: Arc<SelfMetrics>,
    published: Arc<Published>,
    /// Held for the whole of a poll: polls never overlap.
    running: Mutex<()>,
}

impl Poller {
    /// A poller that publishes to `published`, which starts with the
    /// self-metrics only.
    pub fn new(
        config: Arc<Config>,
        client: EvoluxClient,
        self_metrics: Arc<SelfMetrics>,
        published: Arc<Published>,
    ) -> Poller {
        let initial = render(&Snapshot::default(), &self_metrics, config.poll.max_series);
        published.publish(Arc::new(Snapshot::default()), Arc::new(initial), false);
        Poller {
            config,
            client,
            self_metrics,
            published,
            running: Mutex::new(()),
        }
    }

    /// Where the results go.
    pub fn published(&self) -> &Arc<Published> {
        &self.published
    }

    /// One poll: query, count, swap in the new snapshot. Waits for a poll
    /// already running to end first, so polls never overlap.
    pub async fn poll_once(&self) -> PollReport {
        let _running = self.running.lock().await;
        let started = Instant::now();
        let now = chrono::Utc::now();
        let deadline = self.config.poll.interval.max(self.config.evolux.timeout);
        let max_series = self.config.poll.max_series;

        let targets: Vec<Option<CampaignConfig>> = if self.config.campaigns.is_empty() {
            vec![None]
        } else {
            self.config.owned_campaigns().cloned().map(Some).collect()
        };
        let mut report = PollReport {
            queries: targets.len(),
            ..PollReport::default()
        };
        let results: Vec<(QueryResult, usize)> = futures_util::stream::iter(targets)
            .map(|campaign: Option<CampaignConfig>| async move {
                let q_started = Instant::now();
                let campaign = campaign.as_ref();
                let (target, fixed, window) = match campaign {
                    Some(c) => (
                        Target::Campaign {
                            uuid: c.uuid.to_string(),
                            name: c.name.clone(),
                        },
                        Some(c.uuid.to_string()),
                        self.config.window_of(c),
                    ),
                    None => (Target::Discovery, None, self.config.poll.window),
                };
                let params = query::params(campaign, window, now);
                let mut tally = Tally::new(fixed.as_deref(), max_series);
                let outcome =
                    tokio::time::timeout(deadline, self.client.run_query(&params, &mut tally)).await;
                let (result, pages) = match outcome {
                    // Nothing but unusable elements: the upstream is not
                    // sending records, so this is no reason to drop the
                    // campaign's last good counts.
                    Ok(Ok(stats)) if stats.invalid > 0 && stats.invalid == stats.records => (
                        Err(format!(
                            "none of the {} elements of the records array is a record (objects with the subscriber fields)",
                            stats.records
                        )),
                        stats.pages,
                    ),
                    Ok(Ok(stats)) => {
                        if stats.invalid > 0 {
                            warn!(
                                campaign = fixed.as_deref().unwrap_or("(discovery)"),
                                invalid = stats.invalid,
                                "records that are not objects or not valid JSON were skipped"
                            );
                        }
                        (Ok(tally), stats.pages)
                    }
                    Ok(Err(e)) => (Err(e.to_string()), 0),
                    Err(_) => (
                        Err(format!(
                            "poll did not finish within {deadline:?} (max of poll.interval and evolux.timeout)"
                        )),
                        0,
                    ),
                };
                (
                    QueryResult {
                        target,
                        duration: q_started.elapsed(),
                        result,
                    },
                    pages,
                )
            })
            .buffer_unordered(self.config.evolux.max_concurrency)
            .collect()
            .await;

        let previous = self.published.snapshot();
        let mut query_results = Vec::with_capacity(results.len());
        for (r, pages) in results {
            report.pages += pages;
            match &r.result {
                Ok(t) => {
                    report.records += t.records;
                    if let Target::Campaign { uuid, .. } = &r.target {
                        // A configured campaign with nothing in it looks just
                        // like a mistyped UUID: say so once, when it becomes
                        // empty.
                        let was_empty = previous.campaigns.get(uuid.as_str()).is_some_and(|p| {
                            p.up && p.counts.as_ref().is_some_and(|c| c.total() == 0)
                        });
                        if t.records == 0 && !was_empty {
                            warn!(
                                campaign = uuid.as_str(),
                                "configured campaign returned no subscribers: check its UUID and filters"
                            );
                        }
                    }
                }
                Err(error) => {
                    report.failed += 1;
                    let campaign = match &r.target {
                        Target::Campaign { uuid, .. } => uuid.as_str(),
                        Target::Discovery => "(discovery)",
                    };
                    warn!(campaign, %error, "campaign poll failed; keeping its last good counts");
                }
            }
            query_results.push(r);
        }

        let snapshot = previous.advance(
            query_results,
            SystemTime::now(),
            self.config.poll.max_staleness,
        );
        if snapshot.over_cap_records > 0 {
            warn!(
                records = snapshot.over_cap_records,
                max_series, "records not counted: they would pass poll.max_series"
            );
        }
        let exposition = render(&snapshot, &self.self_metrics, max_series);
        if exposition.series_dropped > 0 {
            warn!(
                series = exposition.series_dropped,
                max_series, "subscriber series dropped by poll.max_series"
            );
        }
        for (campaign, status) in snapshot.campaigns.iter() {
            if !status.up
                && status.counts.is_none()
                && previous
                    .campaigns
                    .get(campaign)
                    .is_some_and(|p| p.counts.is_some())
            {
                warn!(
                    campaign = campaign.as_str(),
                    "counts removed: no success for longer than poll.max_staleness"
                );
            }
        }
        self.published
            .publish(Arc::new(snapshot), Arc::new(exposition), true);
        report.duration = started.elapsed();
        info!(
            campaigns = report.queries,
            failed = report.failed,
            records = report.records,
            pages = report.pages,
            duration_ms = report.duration.as_millis() as u64,
            "poll finished"
        );
        report
    }

    /// Polls every `poll.interval` until `shutdown` resolves. The first poll
    /// starts at once; a poll longer than the interval delays the next one
    /// rather than overlap it.
    pub async fn run(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        let mut ticker = tokio::time::interval(self.config.poll.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = ticker.tick() => {}
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = self.poll_once() => {}
            }
        }
    }
}
