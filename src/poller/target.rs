//! One poll target (a configured campaign, or discovery): its segments,
//! the names its records gave, and how its last poll went; and the
//! [`Snapshot`] that all targets make together.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::model::Campaign;
use crate::model::{CampaignStatus, Failure, Reason, Snapshot, Tally, Target};
use crate::segments::layout::{Applied, ReadKind};
use crate::segments::round::PollRules;
use crate::segments::{Axis, Counted, Layout, ReadOk};

/// What one read answered: a tally, or why it failed (no personal data).
#[derive(Debug)]
pub struct Answer {
    /// What the read was for.
    pub kind: ReadKind,
    /// Its tally, or its failure.
    pub result: Result<Tally, Failure>,
}

/// A target and what the exporter knows of it.
#[derive(Debug)]
pub struct TargetState {
    /// What is asked.
    pub target: Target,
    /// The configured campaign (filters, window); `None` in discovery.
    pub campaign: Option<Campaign>,
    /// Its segments.
    pub layout: Layout,
    record_names: BTreeMap<String, String>,
    template_names: HashMap<String, String>,
    last_success: Option<SystemTime>,
    /// Whether a poll has read it yet (successfully or not).
    read: bool,
    up: bool,
    error: Option<Failure>,
    /// When the polls began failing, while they fail.
    failing_since: Option<SystemTime>,
    duration: Option<Duration>,
}

impl TargetState {
    /// A target not read yet.
    pub fn new(
        target: Target,
        campaign: Option<Campaign>,
        axis: Axis,
        rules: &PollRules,
        now: SystemTime,
    ) -> TargetState {
        let verify = rules.verify_interval.is_some();
        TargetState {
            target,
            campaign,
            layout: Layout::new(axis, &rules.policy, verify, now),
            record_names: BTreeMap::new(),
            template_names: HashMap::new(),
            last_success: None,
            read: false,
            up: false,
            error: None,
            failing_since: None,
            duration: None,
        }
    }

    /// The campaign UUID, or `(discovery)`, for logs.
    pub fn label(&self) -> &str {
        match &self.target {
            Target::Campaign { uuid, .. } => uuid,
            Target::Discovery => "(discovery)",
        }
    }

    /// Whether every read of its last poll succeeded.
    pub fn up(&self) -> bool {
        self.up
    }

    /// Whether a poll has read it yet, successfully or not.
    pub fn read(&self) -> bool {
        self.read
    }

    /// Why its last poll failed: the first failed read's failure.
    pub fn error(&self) -> Option<&Failure> {
        self.error.as_ref()
    }

    /// The campaign label its failures are counted under: the UUID, or
    /// empty in discovery.
    pub fn campaign_label(&self) -> &str {
        match &self.target {
            Target::Campaign { uuid, .. } => uuid,
            Target::Discovery => "",
        }
    }

    /// Takes in a poll that began at `now`, ended at `ended` and took
    /// `duration`: the answers go to the segments, the names are kept. A
    /// poll that read nothing of it leaves its health as it was.
    pub fn record_poll(
        &mut self,
        now: SystemTime,
        ended: SystemTime,
        duration: Duration,
        answers: Vec<Answer>,
        rules: &PollRules,
    ) -> Applied {
        if answers.is_empty() {
            // Nothing of it was read in this poll (nothing due, or no room
            // in the budget): its health and last success stand as they were.
            let mut applied = self.layout.apply(now, Vec::new(), rules);
            applied.incomplete = None;
            return applied;
        }
        self.error = None;
        let mut reads = Vec::with_capacity(answers.len());
        for a in answers {
            let ok = match a.result {
                Ok(tally) => Some(self.take_tally(tally)),
                Err(e) => {
                    // A whole read too big for one read or one poll: read
                    // by segments from now on.
                    if a.kind == ReadKind::Whole
                        && matches!(e.reason, Reason::TooLarge | Reason::Deadline)
                    {
                        self.layout.read_by_segments(now, &rules.policy);
                    }
                    self.error.get_or_insert(e);
                    None
                }
            };
            reads.push((a.kind, ok));
        }
        let applied = self.layout.apply(now, reads, rules);
        // Every read succeeded, yet there is nothing true to show (a silent
        // cap): the poll failed as incomplete.
        if let Some(message) = &applied.incomplete {
            self.error
                .get_or_insert_with(|| Failure::new(Reason::Incomplete, message.clone()));
        }
        self.read = true;
        self.up = self.error.is_none();
        if self.up {
            self.last_success = Some(ended);
            self.failing_since = None;
        } else {
            self.failing_since.get_or_insert(now);
        }
        self.duration = Some(duration);
        applied
    }

    fn take_tally(&mut self, tally: Tally) -> ReadOk {
        let records = tally.records;
        let (counted, template_names) = tally.into_campaigns();
        self.template_names.extend(template_names);
        let mut out = Counted::default();
        for (uuid, counts, name) in counted {
            if let Some(name) = name {
                self.record_names.insert(uuid.clone(), name);
            }
            out.campaigns.insert(uuid, counts);
        }
        ReadOk {
            counted: out,
            records,
        }
    }

    /// What `/metrics` shows of each of its campaigns: nothing before its
    /// first read.
    pub fn statuses(&self) -> Vec<(String, CampaignStatus)> {
        if !self.read {
            return Vec::new();
        }
        let counts = self.layout.counts();
        let status = |uuid: &str, configured: Option<&String>, counts| CampaignStatus {
            name: configured
                .cloned()
                .or_else(|| self.record_names.get(uuid).cloned()),
            up: self.up,
            last_success: self.last_success,
            poll_duration: self.duration,
            counts,
            error: self.error.clone(),
            failing_since: self.failing_since,
            segments: self.layout.segment_count(),
            refreshed: self.layout.refreshed(),
        };
        match &self.target {
            Target::Campaign { uuid, name } => {
                let mine =
                    counts.map(|mut c| Arc::new(c.campaigns.remove(uuid).unwrap_or_default()));
                vec![(uuid.clone(), status(uuid, name.as_ref(), mine))]
            }
            // Discovery knows the campaigns its segments count; while any
            // segment has no counts (never read, or stale) it shows none.
            Target::Discovery => counts
                .map(|c| c.campaigns)
                .unwrap_or_default()
                .into_iter()
                .map(|(uuid, c)| {
                    let s = status(&uuid, None, Some(Arc::new(c)));
                    (uuid, s)
                })
                .collect(),
        }
    }

    /// A template name its records gave.
    fn template_name(&self, template: &str) -> Option<&String> {
        self.template_names.get(template)
    }
}

/// What a reload changed among the targets, for the log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Campaigns new to the configuration: read from scratch.
    pub added: Vec<String>,
    /// Campaigns no longer configured: their series go.
    pub removed: Vec<String>,
    /// Campaigns whose filters or window changed: their segments and counts
    /// were for other records, so they are read from scratch.
    pub changed: Vec<String>,
    /// Campaigns whose name alone changed: segments and counts kept.
    pub renamed: Vec<String>,
}

impl Reconciled {
    /// Whether the reload changed no target.
    pub fn is_empty(&self) -> bool {
        self == &Reconciled::default()
    }
}

/// The targets for `campaigns` (discovery when empty), keeping what `old`
/// knows where it still holds: a campaign whose filters and window are
/// unchanged keeps its segments, counts and health (its name updated); any
/// other gets a fresh target from `new_target`. Discovery and configured
/// campaigns share nothing.
pub fn reconcile(
    old: Vec<TargetState>,
    campaigns: &[Campaign],
    new_target: impl Fn(Option<&Campaign>) -> TargetState,
) -> (Vec<TargetState>, Reconciled) {
    let mut report = Reconciled::default();
    let mut by_uuid: HashMap<String, TargetState> = HashMap::new();
    let mut discovery = None;
    for t in old {
        match &t.target {
            Target::Campaign { uuid, .. } => {
                by_uuid.insert(uuid.clone(), t);
            }
            Target::Discovery => discovery = Some(t),
        }
    }
    if campaigns.is_empty() {
        report.removed = sorted(by_uuid.into_keys());
        return (vec![discovery.unwrap_or_else(|| new_target(None))], report);
    }
    let mut targets = Vec::with_capacity(campaigns.len());
    for c in campaigns {
        let uuid = c.uuid.to_string();
        let kept = by_uuid.remove(&uuid).and_then(|mut t| {
            let before = t.campaign.as_ref()?;
            if (&before.filters, before.window) != (&c.filters, c.window) {
                report.changed.push(uuid.clone());
                return None;
            }
            if before.name != c.name {
                report.renamed.push(uuid.clone());
                t.target = Target::Campaign {
                    uuid: uuid.clone(),
                    name: c.name.clone(),
                };
                t.campaign = Some(c.clone());
            }
            Some(t)
        });
        targets.push(kept.unwrap_or_else(|| {
            if !report.changed.contains(&uuid) {
                report.added.push(uuid.clone());
            }
            new_target(Some(c))
        }));
    }
    report.removed = sorted(by_uuid.into_keys());
    (targets, report)
}

fn sorted(uuids: impl Iterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = uuids.collect();
    v.sort();
    v
}

/// The snapshot of every target after a poll, before the series cap: up
/// when every target's last poll succeeded and it has counts.
pub fn snapshot(targets: &[TargetState]) -> Snapshot {
    let complete = |t: &TargetState| t.up() && t.layout.counts().is_some();
    let mut s = Snapshot {
        up: Some(targets.iter().all(complete)),
        waiting: targets
            .iter()
            .filter(|t| !t.read())
            .map(|t| t.label().to_string())
            .collect(),
        ..Snapshot::default()
    };
    for t in targets {
        for (uuid, status) in t.statuses() {
            if let Some(counts) = &status.counts {
                for template in counts.templates.keys() {
                    if let Some(name) = t.template_name(template) {
                        s.template_names.insert(template.to_string(), name.clone());
                    }
                }
            }
            s.campaigns.insert(uuid, status);
        }
    }
    s
}

#[cfg(test)]
mod tests;
