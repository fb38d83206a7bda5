//! The immutable [`Snapshot`] a poll produces: everything `/metrics` shows
//! of the API's data.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{CampaignCounts, Failure};

/// What the exporter knows of one campaign.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CampaignStatus {
    /// Display name: configured, else from the records.
    pub name: Option<String>,
    /// Whether its last poll succeeded.
    pub up: bool,
    /// End of its last successful poll.
    pub last_success: Option<SystemTime>,
    /// How long its last poll took.
    pub poll_duration: Option<Duration>,
    /// Its last good counts; `None` before the first success and once stale.
    pub counts: Option<Arc<CampaignCounts>>,
    /// Why its last poll failed: the first failed read's kind and message.
    pub error: Option<Failure>,
    /// When the polls began failing, while they fail.
    pub failing_since: Option<SystemTime>,
    /// Insertion-time segments held for it.
    pub segments: usize,
    /// The time by which every segment had last been read.
    pub refreshed: Option<SystemTime>,
}

/// What the exporter knows of one view.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ViewStatus {
    /// Its health, freshness and cost, as a campaign's would be; `name`
    /// and `counts` stay `None` (its counts are [`ViewStatus::counts`]).
    pub status: CampaignStatus,
    /// Its last good counts by each record's campaign; `None` before the
    /// first success and once stale.
    pub counts: Option<BTreeMap<String, Arc<CampaignCounts>>>,
}

/// Everything `/metrics` shows of the API's data, as of the end of a poll.
/// Immutable: a poll builds a new one and swaps it in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Campaign UUID to what is known of it.
    pub campaigns: BTreeMap<String, CampaignStatus>,
    /// View name to what is known of it.
    pub views: BTreeMap<String, ViewStatus>,
    /// Template UUID to its name, for templates with counts.
    pub template_names: BTreeMap<String, String>,
    /// Whether every campaign (or discovery) and every view has counts and
    /// its last poll succeeded; `None` before the first poll.
    pub up: Option<bool>,
    /// Campaigns (UUIDs, or `(discovery)`) and views (`view:<name>`) no
    /// poll has read yet: not ready.
    pub waiting: Vec<String>,
    /// `evolux_campaign_subscribers` and `evolux_view_subscribers` series the
    /// series cap left out.
    pub series_dropped: usize,
    /// Subscribers in the series left out.
    pub records_dropped: u64,
}

impl Snapshot {
    /// Whether a poll has run and read every campaign at least once
    /// (successfully or not): what `/readyz` answers.
    pub fn all_read(&self) -> bool {
        self.up.is_some() && self.waiting.is_empty()
    }

    /// Campaigns whose last poll failed.
    pub fn failed(&self) -> impl Iterator<Item = (&str, &CampaignStatus)> {
        self.campaigns
            .iter()
            .filter(|(_, s)| !s.up)
            .map(|(k, v)| (k.as_str(), v))
    }
}

/// Something that got worse from one snapshot to the next, worth a log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A configured campaign answered, with no subscribers: it looks just
    /// like a mistyped UUID. Said once, when it becomes empty.
    BecameEmpty {
        /// Its UUID.
        campaign: String,
    },
    /// A campaign's counts were removed: no success for longer than
    /// `poll.max_staleness`.
    CountsRemoved {
        /// Its UUID.
        campaign: String,
    },
    /// A view's counts were removed, as a campaign's are.
    ViewCountsRemoved {
        /// Its name.
        view: String,
    },
    /// The series cap left out a different number of series than before.
    SeriesDropped {
        /// Series left out now.
        series: usize,
        /// Subscribers in them.
        records: u64,
    },
}

impl Snapshot {
    /// Applies the series cap: keeps at most `max_series` subscriber
    /// series, whole templates in campaign and template order, the
    /// campaigns' before the views' (so the same series survive from poll
    /// to poll), and counts what it leaves out in
    /// [`Snapshot::series_dropped`] and [`Snapshot::records_dropped`]. The
    /// only place the cap applies.
    pub fn cap_series(mut self, max_series: usize) -> Snapshot {
        let mut cap = Cap {
            room: max_series,
            ..Cap::default()
        };
        for status in self.campaigns.values_mut() {
            if let Some(counts) = &mut status.counts {
                cap.apply(counts);
            }
        }
        for view in self.views.values_mut() {
            for counts in view.counts.iter_mut().flat_map(|c| c.values_mut()) {
                cap.apply(counts);
            }
        }
        let campaigns = self.campaigns.values().filter_map(|s| s.counts.as_ref());
        let views = self
            .views
            .values()
            .filter_map(|v| v.counts.as_ref())
            .flat_map(|c| c.values());
        let shown: std::collections::BTreeSet<&str> = campaigns
            .chain(views)
            .flat_map(|c| c.templates.keys().map(|t| &**t))
            .collect();
        let names = std::mem::take(&mut self.template_names);
        self.template_names = names
            .into_iter()
            .filter(|(t, _)| shown.contains(t.as_str()))
            .collect();
        self.series_dropped = cap.series;
        self.records_dropped = cap.records;
        self
    }

    /// What got worse since `previous`. `configured`: the campaigns were
    /// configured (not discovered), so an empty one is suspicious.
    pub fn changes(&self, previous: &Snapshot, configured: bool) -> Vec<Change> {
        let total = |s: &CampaignStatus| s.counts.as_ref().map(|c| c.total());
        let mut out = Vec::new();
        for (campaign, status) in &self.campaigns {
            let before = previous.campaigns.get(campaign);
            let was_empty = before.is_some_and(|p| p.up && total(p) == Some(0));
            if configured && status.up && total(status) == Some(0) && !was_empty {
                out.push(Change::BecameEmpty {
                    campaign: campaign.clone(),
                });
            }
            if status.counts.is_none() && before.is_some_and(|p| p.counts.is_some()) {
                out.push(Change::CountsRemoved {
                    campaign: campaign.clone(),
                });
            }
        }
        for (view, status) in &self.views {
            let before = previous.views.get(view);
            if status.counts.is_none() && before.is_some_and(|p| p.counts.is_some()) {
                out.push(Change::ViewCountsRemoved { view: view.clone() });
            }
        }
        if self.series_dropped != previous.series_dropped && self.series_dropped > 0 {
            out.push(Change::SeriesDropped {
                series: self.series_dropped,
                records: self.records_dropped,
            });
        }
        out
    }
}

/// The series cap as it goes through the counts: room left, and what it
/// left out.
#[derive(Default)]
struct Cap {
    room: usize,
    series: usize,
    records: u64,
}

impl Cap {
    /// Keeps the templates of `counts` that fit, whole, and takes their
    /// room; leaves the others out and counts them.
    fn apply(&mut self, counts: &mut Arc<CampaignCounts>) {
        let over: Vec<Box<str>> = counts
            .templates
            .iter()
            .filter(|(_, states)| {
                let fits = states.series() <= self.room;
                if fits {
                    self.room -= states.series();
                }
                !fits
            })
            .map(|(t, _)| t.clone())
            .collect();
        if over.is_empty() {
            return;
        }
        let kept = Arc::make_mut(counts);
        for t in over {
            if let Some(states) = kept.templates.remove(&t) {
                self.series += states.series();
                self.records += states.total();
            }
        }
    }
}
