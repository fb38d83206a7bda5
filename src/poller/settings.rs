//! The poller's settings, and the scheduling rules they make.

use std::time::Duration;

use crate::segments::Policy;
use crate::segments::round::PollRules;

/// Polling schedule and limits: plain values, built by [`crate::config`].
#[derive(Debug, Clone)]
pub struct PollSettings {
    /// Time between the starts of two polls.
    pub interval: Duration,
    /// Default insertion window for campaigns without their own.
    pub window: Option<Duration>,
    /// A failing campaign's counts are removed this long after its last success.
    pub max_staleness: Duration,
    /// Cap on `evolux_campaign_subscribers` series.
    pub max_series: usize,
    /// The staleness bound: the longest any segment goes without a read.
    /// Equal to `interval`: every campaign is read whole, every poll.
    pub max_interval: Duration,
    /// Wait between verifications of a campaign's segments; `None`: never.
    pub verify_interval: Option<Duration>,
    /// Requests (first pages) a poll plans, the newest segments' included:
    /// 80% of what `evolux.max_rps` allows in an interval. Not a flag;
    /// tests shrink it.
    pub budget: usize,
    /// Reads still running this long after their poll began are cut, as
    /// `deadline`: the bound on a poll. `evolux.timeout` only cuts a request
    /// that gets no byte for that long, so a body that keeps bringing bytes,
    /// however few, is ended by this alone (a trickle, an endless body).
    /// Not a flag: the larger of `max_interval` and ten `evolux.timeout`s;
    /// tests shorten it.
    pub deadline: Duration,
}

impl PollSettings {
    /// The scheduling rules: the segment policy, the request budget of one
    /// poll, staleness and verification.
    pub fn rules(&self) -> PollRules {
        PollRules {
            policy: Policy::new(self.interval, self.max_interval),
            budget: self.budget,
            max_staleness: self.max_staleness,
            verify_interval: self.verify_interval,
        }
    }

    /// When `targets` (this replica's campaigns, or discovery) need more
    /// reads than one poll may make (each target's newest segment is read
    /// every interval): what that means and what to raise. `None` when they
    /// fit. The poller logs it when the targets change; `--config.check`
    /// prints it.
    pub fn budget_note(&self, targets: usize) -> Option<String> {
        (targets > self.budget).then(|| {
            let every = targets.div_ceil(self.budget.max(1));
            format!(
                "{targets} campaigns need at least {targets} reads a poll (the newest segment of each), but a poll may make {} (80% of --evolux.max-rps over --poll.interval {:?}): the reads are spread, each campaign read about every {every} intervals instead of every one; raise --poll.interval or --evolux.max-rps",
                self.budget, self.interval
            )
        })
    }

    /// Most distinct series one read may hold before it fails as
    /// `too_large`: a bound on memory against an upstream that invents
    /// labels, well above what the series cap keeps (which is applied to
    /// the whole snapshot, in [`crate::model::snapshot`]).
    pub fn read_series_bound(&self) -> usize {
        self.max_series.saturating_mul(4).max(100_000)
    }
}
