//! The poll loop: every `poll.interval`, the segment reads that are due
//! (see [`crate::segments`]), within the request limits; the answers become
//! a new [`Snapshot`] and new exposition bytes, swapped in at once.

pub mod target;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use futures_util::future::join_all;
use tokio::sync::Mutex;
use tracing::{debug, info, warn};

use crate::aggregate::{Snapshot, Tally, Target};
use crate::config::Config;
use crate::evolux::query;
use crate::evolux::{EvoluxClient, QueryStats};
use crate::metrics::{Exposition, SelfMetrics, render};
use crate::segments::Policy;
use crate::segments::layout::{Read, Unit};
use crate::segments::round::{self, PollRules};
use target::{Answer, TargetState};

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
    /// Reads (queries) made.
    pub queries: usize,
    /// Targets (campaigns, or discovery) with a failed read.
    pub failed: usize,
    /// Reads that failed.
    pub failed_reads: usize,
    /// Records counted.
    pub records: u64,
    /// Body bytes received, as on the wire.
    pub bytes: u64,
    /// Pages read.
    pub pages: usize,
    /// Campaigns exported after the poll.
    pub campaigns: usize,
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
    /// The targets and their segments, held for the whole of a poll: polls
    /// never overlap.
    targets: Mutex<Vec<TargetState>>,
}

/// What one target's reads of a poll came to.
struct TargetRun {
    answers: Vec<Answer>,
    stats: QueryStats,
    reads: usize,
    duration: Duration,
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
            targets: Mutex::new(Vec::new()),
        }
    }

    /// Where the results go.
    pub fn published(&self) -> &Arc<Published> {
        &self.published
    }

    /// The scheduling rules the configuration makes.
    pub fn rules(&self) -> PollRules {
        rules(&self.config)
    }

    /// The targets to poll: each configured campaign of this shard, or
    /// discovery.
    fn targets(&self, now: SystemTime) -> Vec<TargetState> {
        let rules = self.rules();
        if self.config.campaigns.is_empty() {
            let axis = query::axis(None, self.config.poll.window);
            return vec![TargetState::new(Target::Discovery, None, axis, &rules, now)];
        }
        self.config
            .owned_campaigns()
            .map(|c| {
                let axis = query::axis(Some(c), self.config.window_of(c));
                let target = Target::Campaign {
                    uuid: c.uuid.to_string(),
                    name: c.name.clone(),
                };
                TargetState::new(target, Some(c.clone()), axis, &rules, now)
            })
            .collect()
    }

    /// One poll: plan the due reads, make them, count, swap in the new
    /// snapshot. Waits for a poll already running to end first, so polls
    /// never overlap.
    pub async fn poll_once(&self) -> PollReport {
        let mut targets = self.targets.lock().await;
        let started = Instant::now();
        let now = SystemTime::now();
        let rules = self.rules();
        if targets.is_empty() {
            *targets = self.targets(now);
        }
        let plans = targets
            .iter_mut()
            .map(|t| {
                t.layout.prepare(now, &rules.policy);
                t.layout.plan(now, &rules.policy)
            })
            .collect();
        let chosen = round::select(plans, rules.budget);
        let deadline = tokio::time::Instant::now() + self.config.poll.deadline;
        let runs = join_all(
            targets
                .iter()
                .zip(chosen)
                .map(|(t, units)| self.run_target(t, units, deadline)),
        )
        .await;

        let mut report = PollReport::default();
        let previous = self.published.snapshot();
        for (t, run) in targets.iter_mut().zip(runs) {
            report.queries += run.reads;
            let failed_reads = run.answers.iter().filter(|a| a.result.is_err()).count();
            report.failed_reads += failed_reads;
            report.failed += usize::from(failed_reads > 0);
            report.records += run
                .answers
                .iter()
                .filter_map(|a| a.result.as_ref().ok())
                .map(|t| t.records)
                .sum::<u64>();
            report.bytes += run.stats.bytes;
            report.pages += run.stats.pages;
            let applied = t.record_poll(now, SystemTime::now(), run.duration, run.answers, &rules);
            for m in &applied.mismatches {
                self.self_metrics.api.verification_mismatch(&m.campaign);
                warn!(
                    target_campaign = t.label(),
                    campaign = m.campaign.as_str(),
                    segments_before = m.segments_before,
                    segments_after = m.segments_after,
                    unsegmented = m.unsegmented,
                    "verification: the unsegmented read disagrees with the sum of the segments; reading this target whole until a verification agrees"
                );
            }
            if applied.recovered {
                info!(
                    campaign = t.label(),
                    "verification agrees again: reading by segments"
                );
            }
            if let Some(error) = t.error() {
                warn!(campaign = t.label(), %error, "campaign poll failed; keeping its last good counts");
            }
        }
        let snapshot = target::snapshot(&targets);
        drop(targets);
        self.warn_about_changes(&previous, &snapshot);
        let exposition = render(&snapshot, &self.self_metrics, self.config.poll.max_series);
        if exposition.series_dropped > 0 {
            warn!(
                series = exposition.series_dropped,
                max_series = self.config.poll.max_series,
                "subscriber series dropped by poll.max_series"
            );
        }
        report.campaigns = snapshot.campaigns.len();
        self.published
            .publish(Arc::new(snapshot), Arc::new(exposition), true);
        report.duration = started.elapsed();
        info!(
            campaigns = report.campaigns,
            reads = report.queries,
            failed = report.failed,
            failed_reads = report.failed_reads,
            records = report.records,
            bytes = report.bytes,
            pages = report.pages,
            duration_ms = report.duration.as_millis() as u64,
            "poll finished"
        );
        report
    }

    /// One target's reads of a poll: each unit's first reads at once, then
    /// its verification reads in order. Reads still running at `deadline`
    /// fail.
    async fn run_target(
        &self,
        t: &TargetState,
        units: Vec<Unit>,
        deadline: tokio::time::Instant,
    ) -> TargetRun {
        let started = Instant::now();
        let first: Vec<&Read> = units.iter().flat_map(|u| &u.reads).collect();
        let mut done = join_all(first.iter().map(|r| self.read(t, r, deadline))).await;
        for r in units.iter().flat_map(|u| &u.then) {
            done.push(self.read(t, r, deadline).await);
        }
        let mut stats = QueryStats::default();
        let reads = done.len();
        let answers = done
            .into_iter()
            .map(|(answer, s)| {
                stats.pages += s.pages;
                stats.records += s.records;
                stats.bytes += s.bytes;
                answer
            })
            .collect();
        TargetRun {
            answers,
            stats,
            reads,
            duration: started.elapsed(),
        }
    }

    /// One read: the query, its pages, its tally.
    async fn read(
        &self,
        t: &TargetState,
        r: &Read,
        deadline: tokio::time::Instant,
    ) -> (Answer, QueryStats) {
        let params = query::params(t.campaign.as_ref(), r.range);
        let fixed = match &t.target {
            Target::Campaign { uuid, .. } => Some(uuid.as_str()),
            Target::Discovery => None,
        };
        let mut tally = Tally::new(fixed, self.config.poll.max_series);
        debug!(
            campaign = t.label(),
            kind = ?r.kind,
            start = r.range.start.map(query::iso_millis).as_deref().unwrap_or("-"),
            end = r.range.end.map(query::iso_millis).as_deref().unwrap_or("-"),
            "read"
        );
        let outcome =
            tokio::time::timeout_at(deadline, self.client.run_query(&params, &mut tally)).await;
        let (result, stats) = match outcome {
            // Nothing but unusable elements: the upstream is not sending
            // records, so this is no reason to drop the last good counts.
            Ok(Ok(stats)) if stats.invalid > 0 && stats.invalid == stats.records => (
                Err(format!(
                    "none of the {} elements of the records array is a record (objects with the subscriber fields)",
                    stats.records
                )),
                stats,
            ),
            Ok(Ok(stats)) => {
                if stats.invalid > 0 {
                    warn!(
                        campaign = t.label(),
                        invalid = stats.invalid,
                        "records that are not objects or not valid JSON were skipped"
                    );
                }
                (Ok(tally), stats)
            }
            Ok(Err(e)) => (Err(e.to_string()), QueryStats::default()),
            Err(_) => (
                Err(format!(
                    "poll did not finish within {:?} (the larger of poll.max-interval and 10 × evolux.timeout)",
                    self.config.poll.deadline
                )),
                QueryStats::default(),
            ),
        };
        (
            Answer {
                kind: r.kind,
                result,
            },
            stats,
        )
    }

    /// Says what changed for the worse between two snapshots: a configured
    /// campaign that became empty, counts removed as stale, records left
    /// out by the series cap.
    fn warn_about_changes(&self, previous: &Snapshot, snapshot: &Snapshot) {
        if snapshot.over_cap_records > 0 {
            warn!(
                records = snapshot.over_cap_records,
                max_series = self.config.poll.max_series,
                "records not counted: they would pass poll.max_series"
            );
        }
        let configured = !self.config.campaigns.is_empty();
        for (campaign, status) in &snapshot.campaigns {
            let before = previous.campaigns.get(campaign);
            let total = |s: &crate::aggregate::CampaignStatus| s.counts.as_ref().map(|c| c.total());
            // A configured campaign with nothing in it looks just like a
            // mistyped UUID: say so once, when it becomes empty.
            let was_empty = before.is_some_and(|p| p.up && total(p) == Some(0));
            if configured && status.up && total(status) == Some(0) && !was_empty {
                warn!(
                    campaign = campaign.as_str(),
                    "configured campaign returned no subscribers: check its UUID and filters"
                );
            }
            if status.counts.is_none() && before.is_some_and(|p| p.counts.is_some()) {
                warn!(
                    campaign = campaign.as_str(),
                    "counts removed: no success for longer than poll.max_staleness"
                );
            }
        }
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

/// The scheduling rules of a configuration: the segment policy, the
/// request budget of one poll, staleness and verification.
pub fn rules(config: &Config) -> PollRules {
    PollRules {
        policy: Policy::new(config.poll.interval, config.poll.max_interval),
        budget: config.poll.budget,
        max_staleness: config.poll.max_staleness,
        verify_interval: config.poll.verify_interval.unwrap_or(Duration::ZERO),
    }
}
