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

/// Which query a result is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A configured campaign, with its configured name.
    Campaign {
        /// Its UUID.
        uuid: String,
        /// Its configured display name.
        name: Option<String>,
    },
    /// One query without `campaigns[]`, grouped by each record's campaign.
    Discovery,
}

/// Everything `/metrics` shows of the API's data, as of the end of a poll.
/// Immutable: a poll builds a new one and swaps it in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Campaign UUID to what is known of it.
    pub campaigns: BTreeMap<String, CampaignStatus>,
    /// Template UUID to its name, for templates with counts.
    pub template_names: BTreeMap<String, String>,
    /// Whether every campaign (or discovery) has counts and its last poll
    /// succeeded; `None` before the first poll.
    pub up: Option<bool>,
    /// Campaigns (UUIDs, or `(discovery)`) no poll has read yet: not ready.
    pub waiting: Vec<String>,
    /// `evolux_campaign_subscribers` series the series cap left out.
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
    /// The series cap left out a different number of series than before.
    SeriesDropped {
        /// Series left out now.
        series: usize,
        /// Subscribers in them.
        records: u64,
    },
}

impl Snapshot {
    /// Applies the series cap: keeps at most `max_series`
    /// `evolux_campaign_subscribers` series, whole templates in campaign and
    /// template order (so the same series survive from poll to poll), and
    /// counts what it leaves out in [`Snapshot::series_dropped`] and
    /// [`Snapshot::records_dropped`]. The only place the cap applies.
    pub fn cap_series(mut self, max_series: usize) -> Snapshot {
        let mut written = 0usize;
        let (mut series, mut records) = (0usize, 0u64);
        for status in self.campaigns.values_mut() {
            let Some(counts) = &status.counts else {
                continue;
            };
            let over: Vec<&str> = counts
                .templates
                .iter()
                .filter(|(_, states)| {
                    let fits = written + states.series() <= max_series;
                    if fits {
                        written += states.series();
                    }
                    !fits
                })
                .map(|(t, _)| &**t)
                .collect();
            if over.is_empty() {
                continue;
            }
            let mut kept = (**counts).clone();
            for t in over {
                if let Some(states) = kept.templates.remove(t) {
                    series += states.series();
                    records += states.total();
                }
            }
            status.counts = Some(Arc::new(kept));
        }
        let shown: std::collections::BTreeSet<&str> = self
            .campaigns
            .values()
            .filter_map(|s| s.counts.as_ref())
            .flat_map(|c| c.templates.keys().map(|t| &**t))
            .collect();
        let names = std::mem::take(&mut self.template_names);
        self.template_names = names
            .into_iter()
            .filter(|(t, _)| shown.contains(t.as_str()))
            .collect();
        self.series_dropped = series;
        self.records_dropped = records;
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
        if self.series_dropped != previous.series_dropped && self.series_dropped > 0 {
            out.push(Change::SeriesDropped {
                series: self.series_dropped,
                records: self.records_dropped,
            });
        }
        out
    }
}
