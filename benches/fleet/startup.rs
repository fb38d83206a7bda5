//! From start-up to counts: after which poll every campaign has counts
//! (`Layout::counts()` is `Some`) and every one is segmented, and how many
//! reads each poll makes against the budget. [`many`] runs it for a large
//! fleet cheaply: few subscribers a campaign, counts only, no bodies.

use std::time::{Duration, SystemTime};

use evolux_exporter::model::CampaignCounts;
use evolux_exporter::segments::round::{PollRules, poll_with};
use evolux_exporter::segments::{Axis, Counted, Layout, Mode, Range, ReadOk};

use crate::model::{DAY_MS, HOUR_MS, Kind, state_at, steps};
use crate::support::{Rng, uuid};

/// Where a fleet stands after each poll.
#[derive(Default)]
pub struct Progress {
    /// The first poll (from 1) after which every campaign had counts.
    counted: Option<usize>,
    /// The first poll after which every campaign was segmented.
    segmented: Option<usize>,
    /// Reads (requests) of each poll.
    pub reads: Vec<u64>,
}

impl Progress {
    /// Takes in poll `reads`' outcome: the layouts after it.
    pub fn after_poll(&mut self, layouts: &[Layout], reads: u64) {
        self.reads.push(reads);
        let polls = self.reads.len();
        if self.counted.is_none() && layouts.iter().all(|l| l.counts().is_some()) {
            self.counted = Some(polls);
        }
        let segmented = layouts.iter().all(|l| matches!(l.mode(), Mode::Segmented));
        if self.segmented.is_none() && segmented {
            self.segmented = Some(polls);
        }
    }

    /// Whether every campaign is segmented.
    pub fn done(&self) -> bool {
        self.segmented.is_some()
    }

    /// One line each: counts, segmented, reads per poll.
    pub fn print(&self, campaigns: usize, interval: Duration, budget: usize) {
        // Reads answer at once here: poll n starts (n - 1) intervals after
        // the start, and its reads take what the API takes.
        let at = |p: usize| {
            let s = (p - 1) as u64 * interval.as_secs();
            format!("poll {p} (which starts {s} s after the start)")
        };
        let or_not =
            |p: Option<usize>| p.map_or(format!("not within {} polls", self.reads.len()), at);
        println!(
            "  {campaigns} campaigns: every campaign has counts after {}; every one segmented after {}",
            or_not(self.counted),
            or_not(self.segmented),
        );
        let first: Vec<String> = self.reads.iter().take(6).map(u64::to_string).collect();
        println!(
            "    reads per poll: max {} of budget {budget} ({}); polls 1-6: {}",
            self.reads.iter().max().unwrap_or(&0),
            if self.reads.iter().all(|r| *r <= budget as u64) {
                "within"
            } else {
                "OVER"
            },
            first.join(", "),
        );
    }
}

/// `campaigns` campaigns of `per` subscribers each (every tenth active,
/// the rest settled), polled from start-up until every one is segmented
/// or `max_polls`.
pub fn many(campaigns: usize, per: usize, rules: &PollRules, start: SystemTime, max_polls: usize) {
    let start_ms = evolux_exporter::segments::millis(start);
    let mut rng = Rng::new(11);
    let fleet: Vec<(String, Kind, Vec<i64>)> = (0..campaigns)
        .map(|c| {
            let active = c % 10 == 9;
            let (from, span) = if active {
                (
                    start_ms - 3 * DAY_MS,
                    3 * DAY_MS + max_polls as i64 * HOUR_MS / 60,
                )
            } else {
                (
                    start_ms - 90 * DAY_MS + (c as i64 * 88 * DAY_MS) / campaigns as i64,
                    DAY_MS,
                )
            };
            let mut inserted: Vec<i64> = (0..per)
                .map(|_| from + (rng.next() % span as u64) as i64)
                .collect();
            inserted.sort_unstable();
            let kind = if active { Kind::Active } else { Kind::Settled };
            (uuid(1, c as u64), kind, inserted)
        })
        .collect();
    let mut layouts: Vec<Layout> = fleet
        .iter()
        .map(|_| {
            Layout::new(
                Axis::ALL,
                &rules.policy,
                rules.verify_interval.is_some(),
                start,
            )
        })
        .collect();
    let mut progress = Progress::default();
    for poll in 0..max_polls {
        let now = start + rules.policy.interval * poll as u32;
        let t = evolux_exporter::segments::millis(now);
        let mut reads = 0;
        poll_with(&mut layouts, now, rules, |target, range: Range| {
            reads += 1;
            let (uuid, kind, inserted) = &fleet[target];
            let lo = range
                .start
                .map_or(0, |s| inserted.partition_point(|&x| x < s));
            let hi = inserted.partition_point(|&x| range.end.is_none_or(|e| x <= e) && x <= t);
            let mut counts = CampaignCounts::default();
            for (i, at) in inserted.iter().enumerate().take(hi).skip(lo) {
                if let Some(state) = state_at(&steps(target, *kind, i, *at), t) {
                    counts
                        .templates
                        .entry("t".into())
                        .or_default()
                        .add_state(state, 1);
                }
            }
            let mut counted = Counted::default();
            counted.campaigns.insert(uuid.clone(), counts);
            Some(ReadOk {
                counted,
                records: (hi.saturating_sub(lo)) as u64,
            })
        });
        progress.after_poll(&layouts, reads);
        if progress.done() {
            break;
        }
    }
    progress.print(campaigns, rules.policy.interval, rules.budget);
}
