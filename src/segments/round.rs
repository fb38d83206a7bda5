//! One poll's share of the due reads: what fits the request budget.
//!
//! Every target's newest segment is read in every poll, whatever the
//! budget: that is where inserts land. Verifications come next, most
//! overdue first, then the other due reads, most overdue first. What does
//! not fit stays due, grows more overdue, and comes first in a later poll.

use std::time::{Duration, SystemTime};

use super::layout::{Applied, Layout, Plan, ReadKind, ReadOk, Unit};
use super::{Policy, Range};

/// Timing and limits of a poll, as the layouts need them.
#[derive(Clone, Copy, Debug)]
pub struct PollRules {
    /// How segments are laid out and scheduled.
    pub policy: Policy,
    /// Requests a poll may make beyond the newest segments' reads.
    pub budget: usize,
    /// A segment failing for this long loses its counts.
    pub max_staleness: Duration,
    /// Wait between verifications of a target.
    pub verify_interval: Duration,
}

/// One poll of every target at `now`, with `read(target, range)` answering
/// each query at once (`None`: it failed). The poller does the same with
/// real requests; tests and the benchmark use this with a simulated API.
pub fn poll_with(
    layouts: &mut [Layout],
    now: SystemTime,
    rules: &PollRules,
    mut read: impl FnMut(usize, Range) -> Option<ReadOk>,
) -> Vec<Applied> {
    let plans = layouts
        .iter_mut()
        .map(|l| {
            l.prepare(now, &rules.policy);
            l.plan(now, &rules.policy)
        })
        .collect();
    let chosen = select(plans, rules.budget);
    layouts
        .iter_mut()
        .zip(chosen)
        .enumerate()
        .map(|(t, (layout, units))| {
            let answers: Vec<(ReadKind, Option<ReadOk>)> = units
                .iter()
                .flat_map(|u| u.reads.iter().chain(&u.then))
                .map(|r| (r.kind, read(t, r.range)))
                .collect();
            layout.apply(
                now,
                answers,
                &rules.policy,
                rules.max_staleness,
                rules.verify_interval,
            )
        })
        .collect()
}

/// The units to run for each target (same order as `plans`): every newest
/// segment's read, and the rest within `budget` requests (first pages) in
/// all, or a tenth of it (at least one) when the newest reads take more.
pub fn select(plans: Vec<Plan>, budget: usize) -> Vec<Vec<Unit>> {
    let mut chosen: Vec<Vec<Unit>> = Vec::with_capacity(plans.len());
    let mut others: Vec<(usize, Unit)> = Vec::new();
    let mut verifies: Vec<(usize, Unit)> = Vec::new();
    let mut spent = 0usize;
    for (t, plan) in plans.into_iter().enumerate() {
        let (newest, rest): (Vec<Unit>, Vec<Unit>) =
            plan.regular.into_iter().partition(|u| u.newest);
        spent += newest.iter().map(Unit::cost).sum::<usize>();
        chosen.push(newest);
        others.extend(rest.into_iter().map(|u| (t, u)));
        verifies.extend(plan.verify.map(|u| (t, u)));
    }
    // When the newest reads alone use the budget up (too many campaigns for
    // the rate), a tenth of it still goes to the rest, so history keeps
    // being read and the staleness shows on the dashboard and in alerts.
    let mut left = budget.saturating_sub(spent).max(budget / 10).max(1);
    let mut verified = vec![false; chosen.len()];
    verifies.sort_by_key(|v| std::cmp::Reverse(v.1.overdue));
    for (t, unit) in verifies {
        // A verification reads the newest segment too: it replaces that read.
        let replaced: usize = chosen[t].iter().map(Unit::cost).sum();
        let extra = unit.cost().saturating_sub(replaced);
        if extra <= left {
            left -= extra;
            chosen[t] = vec![unit];
            verified[t] = true;
        }
    }
    others.sort_by_key(|o| std::cmp::Reverse(o.1.overdue));
    for (t, unit) in others {
        if verified[t] {
            continue;
        }
        // A split that does not fit is read whole instead: one request, so
        // a changing segment is never starved by its own halves.
        let unit = if unit.cost() > left {
            unit.unsplit()
        } else {
            unit
        };
        if unit.cost() <= left {
            left -= unit.cost();
            chosen[t].push(unit);
        }
    }
    chosen
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::segments::Range;
    use crate::segments::layout::{Read, ReadKind};

    fn unit(reads: usize, newest: bool, overdue_s: u64) -> Unit {
        let read = Read {
            kind: ReadKind::Segment(0),
            range: Range {
                start: None,
                end: None,
            },
        };
        Unit {
            reads: vec![read; reads],
            then: Vec::new(),
            newest,
            overdue: Duration::from_secs(overdue_s),
        }
    }

    #[test]
    fn newest_reads_are_never_dropped_and_the_most_overdue_come_first() {
        let plans = vec![
            Plan {
                regular: vec![unit(1, true, 0), unit(1, false, 10), unit(1, false, 300)],
                verify: None,
            },
            Plan {
                regular: vec![unit(1, true, 0), unit(1, false, 200)],
                verify: None,
            },
        ];
        // Newest reads that take more than the budget are all made, and a
        // tenth of the budget goes to the most overdue of the rest.
        let mut heavy = plans.clone();
        for p in &mut heavy {
            p.regular[0] = unit(6, true, 0);
        }
        let chosen = select(heavy, 10);
        assert_eq!(chosen.iter().map(Vec::len).collect::<Vec<_>>(), [2, 1]);
        assert_eq!(chosen[0][1].overdue.as_secs(), 300);
        // However small the budget, one request goes to history.
        let chosen = select(plans.clone(), 1);
        assert_eq!(chosen.iter().map(Vec::len).collect::<Vec<_>>(), [2, 1]);
        assert!(chosen[1].iter().all(|u| u.newest));
        // Two more requests: the 300 s and 200 s overdue reads, not the 10 s one.
        let chosen = select(plans, 4);
        let overdue: Vec<u64> = chosen
            .iter()
            .flatten()
            .filter(|u| !u.newest)
            .map(|u| u.overdue.as_secs())
            .collect();
        assert_eq!(overdue, [300, 200]);
    }

    #[test]
    fn a_tiny_budget_still_reads_history_and_a_split_that_does_not_fit_is_read_whole() {
        let split = Unit {
            reads: crate::segments::layout::halves_for_tests(
                4,
                Range {
                    start: Some(0),
                    end: Some(999),
                },
                499,
            ),
            ..unit(2, false, 900)
        };
        let plans = vec![Plan {
            regular: vec![unit(5, true, 0), split],
            verify: None,
        }];
        // Budget 5, all of it taken by the newest reads: one request is left,
        // and the split goes as one read of its parent.
        let chosen = select(plans, 5);
        assert_eq!(chosen[0].len(), 2);
        let whole = &chosen[0][1];
        assert_eq!(whole.cost(), 1);
        assert_eq!(whole.reads[0].kind, ReadKind::Segment(4));
        assert_eq!(
            whole.reads[0].range,
            Range {
                start: Some(0),
                end: Some(999)
            }
        );
    }

    #[test]
    fn a_verification_replaces_the_targets_other_reads_when_it_fits() {
        let plan = Plan {
            regular: vec![unit(1, true, 0), unit(1, false, 500)],
            verify: Some(Unit {
                then: vec![unit(1, false, 0).reads[0]; 2],
                ..unit(3, false, 100)
            }),
        };
        // Verification costs 5, the newest read already counted 1: 4 more.
        let chosen = select(vec![plan.clone()], 5);
        assert_eq!(chosen[0].len(), 1);
        assert_eq!(chosen[0][0].cost(), 5);
        // With less, the verification waits and the due read goes.
        let chosen = select(vec![plan], 3);
        assert_eq!(chosen[0].len(), 2);
        assert!(chosen[0].iter().all(|u| u.then.is_empty()));
    }
}
