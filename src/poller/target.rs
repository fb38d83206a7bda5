//! One poll target (a configured campaign, a view, or discovery): its
//! segments, the names its records gave, and how its last poll went; and
//! the [`Snapshot`] that all targets make together.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::metrics::Subject;
use crate::model::{CampaignStatus, Failure, Query, Reason, Snapshot, Tally, ViewStatus};
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
    /// What is asked of the API.
    pub query: Query,
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
    pub fn new(query: Query, axis: Axis, rules: &PollRules, now: SystemTime) -> TargetState {
        let verify = rules.verify_interval.is_some();
        TargetState {
            query,
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

    /// The campaign UUID, `view:<name>` or `(discovery)`, for logs.
    pub fn label(&self) -> String {
        self.query.label()
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

    /// Where its failures are counted: under a campaign's UUID (empty in
    /// discovery), or a view's name.
    pub fn subject(&self) -> Subject {
        match &self.query {
            Query::Campaign(c) => Subject::Campaign(c.uuid.to_string()),
            Query::View(v) => Subject::View(v.name.clone()),
            Query::Discovery => Subject::Campaign(String::new()),
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

    /// What `/metrics` shows of each of its campaigns (none for a view):
    /// nothing before its first read.
    pub fn statuses(&self) -> Vec<(String, CampaignStatus)> {
        if !self.read {
            return Vec::new();
        }
        let counts = self.layout.counts();
        let status = |uuid: &str, configured: Option<&String>, counts| CampaignStatus {
            name: configured
                .cloned()
                .or_else(|| self.record_names.get(uuid).cloned()),
            counts,
            ..self.health()
        };
        match &self.query {
            Query::Campaign(c) => {
                let uuid = c.uuid.to_string();
                let mine =
                    counts.map(|mut all| Arc::new(all.campaigns.remove(&uuid).unwrap_or_default()));
                let s = status(&uuid, c.name.as_ref(), mine);
                vec![(uuid, s)]
            }
            // Discovery knows the campaigns its segments count; while any
            // segment has no counts (never read, or stale) it shows none.
            Query::Discovery => counts
                .map(|c| c.campaigns)
                .unwrap_or_default()
                .into_iter()
                .map(|(uuid, c)| {
                    let s = status(&uuid, None, Some(Arc::new(c)));
                    (uuid, s)
                })
                .collect(),
            Query::View(_) => Vec::new(),
        }
    }

    /// What `/metrics` shows of it if it is a view, read at least once.
    pub fn view_status(&self) -> Option<(String, ViewStatus)> {
        let Query::View(view) = &self.query else {
            return None;
        };
        if !self.read {
            return None;
        }
        let counts = self.layout.counts().map(|c| {
            c.campaigns
                .into_iter()
                .map(|(uuid, counts)| (uuid, Arc::new(counts)))
                .collect()
        });
        Some((
            view.name.clone(),
            ViewStatus {
                status: self.health(),
                counts,
            },
        ))
    }

    /// Its health, freshness and cost, without names or counts.
    fn health(&self) -> CampaignStatus {
        CampaignStatus {
            name: None,
            up: self.up,
            last_success: self.last_success,
            poll_duration: self.duration,
            counts: None,
            error: self.error.clone(),
            failing_since: self.failing_since,
            segments: self.layout.segment_count(),
            refreshed: self.layout.refreshed(),
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

/// The targets for `queries`, keeping what `old` knows where it still
/// holds: a target that asks for the same records (the same campaign or
/// view, filters and window) keeps its segments, counts and health (its
/// name updated); any other gets a fresh target from `new_target`.
/// Discovery, campaigns and views share nothing.
pub fn reconcile(
    old: Vec<TargetState>,
    queries: &[Query],
    new_target: impl Fn(&Query) -> TargetState,
) -> (Vec<TargetState>, Reconciled) {
    let mut report = Reconciled::default();
    let mut by_label: HashMap<String, TargetState> =
        old.into_iter().map(|t| (t.label(), t)).collect();
    let mut targets = Vec::with_capacity(queries.len());
    for q in queries {
        let label = q.label();
        let kept = by_label.remove(&label).and_then(|mut t| {
            if !t.query.same_records(q) {
                report.changed.push(label.clone());
                return None;
            }
            if t.query != *q {
                report.renamed.push(label.clone());
                t.query = q.clone();
            }
            Some(t)
        });
        targets.push(kept.unwrap_or_else(|| {
            if !report.changed.contains(&label) {
                report.added.push(label.clone());
            }
            new_target(q)
        }));
    }
    report.removed = sorted(by_label.into_keys());
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
            .map(TargetState::label)
            .collect(),
        ..Snapshot::default()
    };
    for t in targets {
        if let Some((name, view)) = t.view_status() {
            for template in view
                .counts
                .iter()
                .flat_map(|c| c.values())
                .flat_map(|c| c.templates.keys())
            {
                if let Some(name) = t.template_name(template) {
                    s.template_names.insert(template.to_string(), name.clone());
                }
            }
            s.views.insert(name, view);
        }
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
