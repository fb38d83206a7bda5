//! The poll loop: every `poll.interval`, the segment reads that are due
//! (see [`crate::segments`]), within the request limits; the answers become
//! a new [`Snapshot`] and new exposition bytes, swapped in at once.

mod findings;
mod logs;
pub mod settings;
pub mod target;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::Mutex;
use tracing::{debug, warn};

use crate::evolux::query;
use crate::evolux::{EvoluxClient, QueryStats};
use crate::metrics::{Exposition, SelfMetrics, render};
use crate::model::{Campaign, Failure, Query, Reason, Snapshot, Tally, View};
use crate::segments::layout::Read;
use crate::segments::round::{self, PollRules, Reader, Reads};
use logs::{log_change, log_reconciled, log_report};
pub use settings::PollSettings;
use target::{Answer, TargetState};

/// What `/metrics` and `/readyz` read: the latest snapshot and its bytes.
#[derive(Debug, Default)]
pub struct Published {
    exposition: RwLock<Arc<Exposition>>,
    snapshot: RwLock<Arc<Snapshot>>,
    ready: AtomicBool,
    /// The last poll's report and when it ended.
    last_poll: RwLock<Option<(SystemTime, PollReport)>>,
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

    /// The last poll's report and when it ended; `None` before the first.
    pub fn last_poll(&self) -> Option<(SystemTime, PollReport)> {
        self.last_poll
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether every campaign polled now (or discovery) has been read at
    /// least once, successfully or not.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    fn publish(&self, snapshot: Arc<Snapshot>, exposition: Arc<Exposition>, ready: bool) {
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = snapshot;
        *self.exposition.write().unwrap_or_else(|e| e.into_inner()) = exposition;
        self.ready.store(ready, Ordering::Release);
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

/// The campaigns to poll (this shard's), each with its window resolved
/// (empty: discovery), and the views, replaced by a reload
/// ([`Poller::set_campaigns`]). Readiness is decided under the same lock,
/// so a reload and a poll's end never cross.
#[derive(Debug, Default)]
struct CampaignList {
    list: Arc<Vec<Campaign>>,
    views: Arc<Vec<View>>,
    /// Set by a reload, taken in by the next poll.
    changed: bool,
    /// A reload brought a campaign or view not read yet (new, or with
    /// other filters or window): not ready until a poll takes it in.
    unread: bool,
}

impl CampaignList {
    /// What each target asks: every campaign (or discovery), then every
    /// view.
    fn queries(&self) -> Vec<Query> {
        let mut out: Vec<Query> = if self.list.is_empty() {
            vec![Query::Discovery]
        } else {
            self.list.iter().cloned().map(Query::Campaign).collect()
        };
        out.extend(self.views.iter().cloned().map(Query::View));
        out
    }
}

/// Polls the API and publishes what it finds.
#[derive(Debug)]
pub struct Poller {
    settings: PollSettings,
    /// The campaigns to poll and what a reload changed of them.
    campaigns: std::sync::Mutex<CampaignList>,
    client: EvoluxClient,
    self_metrics: Arc<SelfMetrics>,
    published: Arc<Published>,
    /// The targets and their segments, held for the whole of a poll: polls
    /// never overlap.
    targets: Mutex<Vec<TargetState>>,
}

impl Poller {
    /// A poller of `campaigns` (discovery when empty) and `views` that
    /// publishes to `published`, which starts with the self-metrics only.
    pub fn new(
        settings: PollSettings,
        campaigns: Vec<Campaign>,
        views: Vec<View>,
        client: EvoluxClient,
        self_metrics: Arc<SelfMetrics>,
        published: Arc<Published>,
    ) -> Poller {
        let initial = render(&Snapshot::default(), &self_metrics);
        published.publish(Arc::new(Snapshot::default()), Arc::new(initial), false);
        Poller {
            settings,
            campaigns: std::sync::Mutex::new(CampaignList {
                list: Arc::new(campaigns),
                views: Arc::new(views),
                ..CampaignList::default()
            }),
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

    /// The scheduling rules the settings make.
    pub fn rules(&self) -> PollRules {
        self.settings.rules()
    }

    /// The campaigns polled now (empty: discovery).
    pub fn campaigns(&self) -> Arc<Vec<Campaign>> {
        self.campaign_list().list.clone()
    }

    fn campaign_list(&self) -> std::sync::MutexGuard<'_, CampaignList> {
        self.campaigns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The views polled now.
    pub fn views(&self) -> Arc<Vec<View>> {
        self.campaign_list().views.clone()
    }

    /// Replaces the campaigns and views to poll (a reload); the next poll
    /// takes them in (see [`target::reconcile`]). Until then, a target that
    /// is new or whose filters or window changed has not been read: not
    /// ready.
    pub fn set_campaigns(&self, campaigns: Vec<Campaign>, views: Vec<View>) {
        let mut current = self.campaign_list();
        let before = current.queries();
        current.list = Arc::new(campaigns);
        current.views = Arc::new(views);
        current.changed = true;
        let unread = current
            .queries()
            .iter()
            .any(|q| !before.iter().any(|b| b.same_records(q)));
        if unread {
            current.unread = true;
            self.published.ready.store(false, Ordering::Release);
        }
    }

    /// The targets to poll: each configured campaign of this shard, or
    /// discovery, and each view; after a reload, the old targets reconciled
    /// with the new ones.
    fn take_in_campaigns(&self, targets: &mut Vec<TargetState>, now: SystemTime) {
        let (changed, queries) = {
            let mut current = self.campaign_list();
            let changed = std::mem::take(&mut current.changed);
            if !targets.is_empty() && !changed {
                return;
            }
            // Taken in: from now on the snapshot says what waits.
            current.unread = false;
            (changed, current.queries())
        };
        let new_target = |q: &Query| {
            let axis = query::axis(q, self.settings.window);
            TargetState::new(q.clone(), axis, &self.rules(), now)
        };
        let old = std::mem::take(targets);
        let (reconciled, report) = target::reconcile(old, &queries, new_target);
        *targets = reconciled;
        if changed {
            log_reconciled(&report);
        }
        if let Some(note) = self.settings.budget_note(targets.len()) {
            warn!("{note}");
        }
    }

    /// One poll: plan the due reads, make them, take in the answers, and
    /// publish the new snapshot (see [`round::poll`]). Waits for a poll
    /// already running to end first, so polls never overlap.
    pub async fn poll_once(&self) -> PollReport {
        let mut targets = self.targets.lock().await;
        let started = Instant::now();
        let now = SystemTime::now();
        let rules = self.rules();
        self.take_in_campaigns(&mut targets, now);
        let deadline = tokio::time::Instant::now() + self.settings.deadline;
        let mut report = PollReport::default();
        let reader = ApiReader {
            poller: self,
            deadline,
        };
        round::poll(
            &mut targets,
            now,
            &rules,
            |t| &mut t.layout,
            &reader,
            |t, reads| self.take_in(t, reads, now, &rules, &mut report),
        )
        .await;
        let snapshot = target::snapshot(&targets).cap_series(self.settings.max_series);
        drop(targets);
        report.campaigns = snapshot.campaigns.len();
        self.publish(snapshot);
        report.duration = started.elapsed();
        log_report(&report);
        *self
            .published
            .last_poll
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some((SystemTime::now(), report.clone()));
        report
    }

    /// Takes one target's answers in: its segments, its failures (counted
    /// by reason), what verification found; adds to the report.
    fn take_in(
        &self,
        t: &mut TargetState,
        reads: Reads<(Answer, QueryStats)>,
        now: SystemTime,
        rules: &PollRules,
        report: &mut PollReport,
    ) {
        report.queries += reads.answers.len();
        let mut failed_reads = 0;
        let mut answers = Vec::with_capacity(reads.answers.len());
        for (_, (answer, stats)) in reads.answers {
            report.bytes += stats.bytes;
            report.pages += stats.pages;
            match &answer.result {
                Ok(tally) => report.records += tally.records,
                Err(failure) => {
                    failed_reads += 1;
                    self.self_metrics
                        .poll
                        .poll_error(&t.subject(), failure.reason);
                }
            }
            answers.push(answer);
        }
        report.failed_reads += failed_reads;
        report.failed += usize::from(failed_reads > 0);
        let applied = t.record_poll(now, SystemTime::now(), reads.elapsed, answers, rules);
        let incomplete = findings::take(&self.self_metrics.poll, t, &applied, failed_reads);
        report.failed += usize::from(incomplete);
        if let Some(error) = t.error() {
            warn!(campaign = t.label().as_str(), reason = %error.reason, error = %error.message, "campaign poll failed; keeping its last good counts");
        }
    }

    /// Renders and swaps in a new snapshot, saying what got worse.
    fn publish(&self, snapshot: Snapshot) {
        let previous = self.published.snapshot();
        let configured = !self.campaigns().is_empty();
        for change in snapshot.changes(&previous, configured) {
            log_change(&change, self.settings.max_series);
        }
        let exposition = render(&snapshot, &self.self_metrics);
        // A reload taken in after this poll began waits for the next one.
        let current = self.campaign_list();
        let ready = snapshot.all_read() && !current.unread;
        self.published
            .publish(Arc::new(snapshot), Arc::new(exposition), ready);
        drop(current);
    }

    /// One read: the query, its pages, its tally.
    async fn read(
        &self,
        t: &TargetState,
        r: Read,
        deadline: tokio::time::Instant,
    ) -> (Answer, QueryStats) {
        let params = query::params(&t.query, r.range);
        let fixed = t.query.fixed_campaign();
        let bound = self.settings.read_series_bound();
        let mut tally = Tally::new(fixed.as_deref(), bound);
        debug!(
            campaign = t.label().as_str(),
            kind = ?r.kind,
            start = r.range.start.map(query::iso_millis).as_deref().unwrap_or("-"),
            end = r.range.end.map(query::iso_millis).as_deref().unwrap_or("-"),
            "read"
        );
        let outcome =
            tokio::time::timeout_at(deadline, self.client.run_query(&params, &mut tally)).await;
        let (result, stats) = match outcome {
            Ok(Ok(stats)) => (judge(tally, &stats, bound), stats),
            Ok(Err(e)) => (Err(e.into_failure()), QueryStats::default()),
            Err(_) => (
                Err(Failure::new(
                    Reason::Deadline,
                    format!(
                        "poll did not finish within {:?} (the larger of poll.max-interval and 10 × evolux.timeout)",
                        self.settings.deadline
                    ),
                )),
                QueryStats::default(),
            ),
        };
        if result.is_ok() && stats.invalid > 0 {
            warn!(
                campaign = t.label().as_str(),
                invalid = stats.invalid,
                "records that are not objects or not valid JSON were skipped"
            );
        }
        (
            Answer {
                kind: r.kind,
                result,
            },
            stats,
        )
    }

    /// Polls every `poll.interval` until `shutdown` resolves. The first poll
    /// starts at once; a poll longer than the interval delays the next one
    /// rather than overlap it.
    pub async fn run(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        let mut ticker = tokio::time::interval(self.settings.interval);
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

/// The poll's reads, made to the API by the poller's client.
struct ApiReader<'p> {
    poller: &'p Poller,
    /// Reads still running then fail.
    deadline: tokio::time::Instant,
}

impl Reader<TargetState> for ApiReader<'_> {
    type Answer = (Answer, QueryStats);

    fn read<'a>(
        &'a self,
        _: usize,
        target: &'a TargetState,
        read: Read,
    ) -> impl std::future::Future<Output = Self::Answer> + 'a {
        self.poller.read(target, read, self.deadline)
    }

    fn records((answer, stats): &Self::Answer) -> Option<u64> {
        answer.result.is_ok().then_some(stats.records)
    }

    fn vouched((answer, stats): &Self::Answer) -> bool {
        answer.result.is_ok() && stats.stated_total.is_some()
    }
}

/// Whether a read that the API answered in full is a usable tally.
fn judge(tally: Tally, stats: &QueryStats, bound: usize) -> Result<Tally, Failure> {
    // Nothing but unusable elements: the upstream is not sending records,
    // so this is no reason to drop the last good counts.
    if stats.invalid > 0 && stats.invalid == stats.records {
        return Err(Failure::new(
            Reason::BadBody,
            format!(
                "none of the {} elements of the records array is a record (objects with the subscriber fields)",
                stats.records
            ),
        ));
    }
    if tally.over_cap > 0 {
        return Err(Failure::new(
            Reason::TooLarge,
            format!(
                "the answer holds more than {bound} distinct series ({} records left over): more than a read may hold (4 × poll.max-series, at least 100000)",
                tally.over_cap
            ),
        ));
    }
    Ok(tally)
}
