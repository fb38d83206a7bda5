//! The one driver of a poll: prepare and plan each target, [`select`] what
//! fits the request budget, make the reads, hand each target its answers.
//! The poller runs it with real requests; the tests and the fleet
//! benchmark run it with a simulated API ([`poll_with`]), so what they
//! measure is what the poller does.
//!
//! The budget counts every read. A new target's whole read and its check
//! (three requests, and the check's refining out of what the budget has
//! left; the whole read alone when the budget is smaller) come
//! before any other read of any target (it has no counts at all); then the newest
//! segments, where inserts land, most overdue first, keeping a tenth of
//! the budget for the rest while the rest waits; then verifications, then
//! the other due reads, most overdue first. What does not fit stays due,
//! grows more overdue, and comes first in a later poll.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::future::Future;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant, SystemTime};

use futures_util::FutureExt;
use futures_util::future::join_all;

use super::Range;
use super::layout::{Applied, Class, Layout, Plan, Read, ReadKind, ReadOk, Unit};
pub use super::policy::PollRules;
use refine::{Answers, refine};
pub use refine::{REFINE_LEVELS, REFINE_WAYS};

mod refine;

/// What one target's reads of a poll answered, in the order they were made.
#[derive(Debug)]
pub struct Reads<A> {
    /// Each read's purpose and answer.
    pub answers: Vec<(ReadKind, A)>,
    /// From the first read's start to the last one's end.
    pub elapsed: Duration,
}

/// What makes a poll's reads: the API, or a simulation of it.
pub trait Reader<T> {
    /// What a read answers.
    type Answer;

    /// Makes `read` for `target` (the `i`th).
    fn read<'a>(
        &'a self,
        i: usize,
        target: &'a T,
        read: Read,
    ) -> impl Future<Output = Self::Answer> + 'a;

    /// The records a good read returned; `None` for a failed one.
    fn records(answer: &Self::Answer) -> Option<u64>;

    /// Whether the server vouched for a good read's completeness: it stated
    /// the query's total, and the records read matched it. A cap cannot
    /// hide behind such a read, so its check needs no refining.
    fn vouched(_answer: &Self::Answer) -> bool {
        false
    }
}

/// One poll of `targets` at `now`: each target's layout (`layout_of`) is
/// prepared and planned, the due reads are fitted into `rules.budget`,
/// `reader` makes them (every target's at once; within a target, each
/// unit's first reads at once, then its verification reads in order), and
/// `take` gets each target's answers, to apply them to its layout.
pub async fn poll<T, R: Reader<T>>(
    targets: &mut [T],
    now: SystemTime,
    rules: &PollRules,
    layout_of: impl Fn(&mut T) -> &mut Layout,
    reader: &R,
    mut take: impl FnMut(&mut T, Reads<R::Answer>),
) {
    let plans = targets
        .iter_mut()
        .map(|t| {
            let layout = layout_of(t);
            layout.prepare(now, &rules.policy);
            layout.plan(now, &rules.policy)
        })
        .collect();
    let chosen = select(plans, rules.budget);
    let used: usize = chosen.iter().flatten().map(Unit::cost).sum();
    // What the budget has left pays for refining first reads' checks.
    let left = AtomicUsize::new(rules.budget.max(1).saturating_sub(used));
    let left = &left;
    let shared: &[T] = targets;
    let now_ms = super::millis(now);
    let runs = join_all(
        shared
            .iter()
            .zip(&chosen)
            .enumerate()
            .map(|(i, (t, units))| {
                let answers = Answers {
                    records: R::records,
                    vouched: R::vouched,
                    left,
                };
                run_target(units, now_ms, answers, move |r| reader.read(i, t, r))
            }),
    )
    .await;
    for (t, reads) in targets.iter_mut().zip(runs) {
        take(t, reads);
    }
}

/// One target's units: each unit's first reads at once, then its
/// verification reads one after another; then a first read's check made
/// telling ([`refine`]).
async fn run_target<A, F: Future<Output = A>>(
    units: &[Unit],
    now_ms: super::Millis,
    answers_are: Answers<'_, A>,
    read: impl Fn(Read) -> F,
) -> Reads<A> {
    let started = Instant::now();
    let read = &read;
    let first = units.iter().flat_map(|u| &u.reads).map(|r| {
        let answer = read(*r);
        async move { (r.kind, answer.await) }
    });
    let mut answers = join_all(first).await;
    for r in units.iter().flat_map(|u| &u.then) {
        answers.push((r.kind, read(*r).await));
    }
    refine(&mut answers, now_ms, &answers_are, read).await;
    Reads {
        answers,
        elapsed: started.elapsed(),
    }
}

/// A simulated API: `read(target, range)` answers at once.
struct Simulated<F>(RefCell<F>);

impl<F: FnMut(usize, Range) -> Option<ReadOk>> Reader<Layout> for Simulated<F> {
    type Answer = Option<ReadOk>;

    fn read<'a>(
        &'a self,
        i: usize,
        _: &'a Layout,
        read: Read,
    ) -> impl Future<Output = Option<ReadOk>> + 'a {
        // Called as the reads are started, one at a time: the borrow never
        // overlaps another.
        std::future::ready((self.0.borrow_mut())(i, read.range))
    }

    fn records(answer: &Option<ReadOk>) -> Option<u64> {
        answer.as_ref().map(|a| a.records)
    }
}

/// [`poll`] with `read(target, range)` answering each query at once
/// (`None`: it failed), applying the answers to each layout. The tests and
/// the benchmark drive the segment engine through it.
pub fn poll_with(
    layouts: &mut [Layout],
    now: SystemTime,
    rules: &PollRules,
    read: impl FnMut(usize, Range) -> Option<ReadOk>,
) -> Vec<Applied> {
    let reader = Simulated(RefCell::new(read));
    let mut applied = Vec::with_capacity(layouts.len());
    let round = poll(
        layouts,
        now,
        rules,
        |l| l,
        &reader,
        |l, reads| {
            applied.push(l.apply(now, reads.answers, rules));
        },
    );
    // Every read answers at once, so the poll ends at its first step.
    round
        .now_or_never()
        .expect("a poll whose reads are all ready ends at once");
    applied
}

/// The units to run for each target (same order as `plans`), within
/// `budget` requests (first pages) in all, at least one.
pub fn select(plans: Vec<Plan>, budget: usize) -> Vec<Vec<Unit>> {
    let mut chosen: Vec<Vec<Unit>> = vec![Vec::new(); plans.len()];
    let mut left = budget.max(1);
    let mut units: Vec<(usize, Unit)> = Vec::new();
    let mut verifies: Vec<(usize, Unit)> = Vec::new();
    for (t, plan) in plans.into_iter().enumerate() {
        units.extend(plan.regular.into_iter().map(|u| (t, u)));
        verifies.extend(plan.verify.map(|u| (t, u)));
    }
    units.sort_by_key(|(t, u)| (u.class, Reverse(u.overdue), *t));
    verifies.sort_by_key(|(t, u)| (Reverse(u.overdue), *t));
    let mut rest = Vec::new();
    let mut first_waits = false;
    let mut newest = Vec::new();
    for (t, unit) in units {
        match unit.class {
            Class::First => {
                // A first read with its check (three requests) when a poll
                // can ever make it, else the whole read alone.
                let unit = if unit.cost() > budget.max(1) {
                    unit.unsplit()
                } else {
                    unit
                };
                first_waits |= !take(&mut chosen, t, unit, &mut left);
            }
            Class::Newest => newest.push((t, unit)),
            Class::Verify | Class::Other => rest.push((t, unit)),
        }
    }
    // A target without counts comes before any other read.
    if first_waits {
        return chosen;
    }
    // While anything else waits, a tenth of what is left stays for it, so
    // history keeps being read when the newest segments alone would use
    // the budget up (too many campaigns for the rate), and the staleness
    // shows on the dashboard and in alerts.
    let waiting = !rest.is_empty() || !verifies.is_empty();
    let reserve = if waiting {
        (left / 10).max(1).min(left.saturating_sub(1))
    } else {
        0
    };
    let mut for_newest = left - reserve;
    for (t, unit) in newest {
        // A seal that does not fit is read as one request: the newest
        // segment is never starved by its own halves.
        let unit = if unit.cost() > for_newest {
            unit.unsplit()
        } else {
            unit
        };
        let cost = unit.cost();
        if take(&mut chosen, t, unit, &mut for_newest) {
            left -= cost;
        }
    }
    let mut verified = vec![false; chosen.len()];
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
    for (t, unit) in rest {
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
        take(&mut chosen, t, unit, &mut left);
    }
    chosen
}

/// Adds `unit` to target `t`'s choice if it fits in `left`, and says so.
fn take(chosen: &mut [Vec<Unit>], t: usize, unit: Unit, left: &mut usize) -> bool {
    let fits = unit.cost() <= *left;
    if fits {
        *left -= unit.cost();
        chosen[t].push(unit);
    }
    fits
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::segments::Range;
    use crate::segments::layout::{Read, ReadKind, SegmentId};

    fn unit(reads: usize, class: Class, overdue_s: u64) -> Unit {
        let read = Read {
            kind: ReadKind::Segment(SegmentId::for_tests(0)),
            range: Range {
                start: None,
                end: None,
            },
        };
        Unit {
            reads: vec![read; reads],
            then: Vec::new(),
            class,
            overdue: Duration::from_secs(overdue_s),
        }
    }

    fn plan(regular: Vec<Unit>) -> Plan {
        Plan {
            regular,
            verify: None,
        }
    }

    fn classes(chosen: &[Vec<Unit>]) -> Vec<Vec<Class>> {
        chosen
            .iter()
            .map(|units| units.iter().map(|u| u.class).collect())
            .collect()
    }

    #[test]
    fn the_budget_counts_every_read_and_the_most_overdue_come_first() {
        use Class::{Newest, Other};
        let plans = vec![
            plan(vec![
                unit(1, Newest, 0),
                unit(1, Other, 10),
                unit(1, Other, 300),
            ]),
            plan(vec![unit(1, Newest, 60), unit(1, Other, 200)]),
            plan(vec![unit(1, Newest, 0)]),
        ];
        // Budget 3: a tenth (one) stays for history; of the newest reads
        // the most overdue goes first, then the first target's.
        let chosen = select(plans.clone(), 3);
        assert_eq!(
            classes(&chosen),
            [vec![Newest, Other], vec![Newest], vec![]]
        );
        assert_eq!(chosen[0][1].overdue.as_secs(), 300);
        // Budget 1: one read in all, the most overdue newest one.
        let chosen = select(plans.clone(), 1);
        assert_eq!(classes(&chosen), [vec![], vec![Newest], vec![]]);
        // Budget 5: every newest read, then the 300 s and 200 s overdue
        // reads, not the 10 s one.
        let chosen = select(plans, 5);
        assert_eq!(
            chosen
                .iter()
                .map(|c| c.iter().map(Unit::cost).sum::<usize>())
                .sum::<usize>(),
            5
        );
        let overdue: Vec<u64> = chosen
            .iter()
            .flatten()
            .filter(|u| u.class == Other)
            .map(|u| u.overdue.as_secs())
            .collect();
        assert_eq!(overdue, [300, 200]);
    }

    #[test]
    fn a_target_without_counts_comes_before_any_other_read() {
        use Class::{First, Newest, Other};
        let plans = vec![
            plan(vec![unit(1, Newest, 900), unit(1, Other, 900)]),
            plan(vec![unit(1, First, 0)]),
            plan(vec![unit(1, First, 0)]),
            plan(vec![unit(1, First, 0)]),
        ];
        // Two of three first reads fit: nothing else is read.
        let chosen = select(plans.clone(), 2);
        assert_eq!(classes(&chosen), [vec![], vec![First], vec![First], vec![]]);
        // All three fit: the rest of the budget goes on as usual.
        let chosen = select(plans, 5);
        assert_eq!(
            classes(&chosen),
            [vec![Newest, Other], vec![First], vec![First], vec![First]]
        );
    }

    #[test]
    fn a_tiny_budget_still_reads_history_and_a_split_that_does_not_fit_is_read_whole() {
        let split = Unit {
            reads: crate::segments::layout::halves_for_tests(
                SegmentId::for_tests(4),
                Range {
                    start: Some(0),
                    end: Some(999),
                },
                499,
            ),
            ..unit(2, Class::Other, 900)
        };
        let plans = vec![
            plan(vec![unit(1, Class::Newest, 0), split]),
            plan(vec![unit(1, Class::Newest, 0)]),
            plan(vec![unit(1, Class::Newest, 0)]),
        ];
        // Budget 3: the newest reads would take it all; one request stays
        // for history, and the split goes as one read of its parent.
        let chosen = select(plans, 3);
        let history: Vec<&Unit> = chosen
            .iter()
            .flatten()
            .filter(|u| u.class == Class::Other)
            .collect();
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].cost(), 1);
        assert_eq!(
            history[0].reads[0].kind,
            ReadKind::Segment(SegmentId::for_tests(4))
        );
        assert_eq!(
            history[0].reads[0].range,
            Range {
                start: Some(0),
                end: Some(999)
            }
        );
    }

    #[test]
    fn a_seal_that_does_not_fit_reads_the_newest_segment_as_one_request() {
        let seal = Unit {
            reads: crate::segments::layout::halves_for_tests(
                SegmentId::for_tests(7),
                Range {
                    start: Some(0),
                    end: None,
                },
                499,
            ),
            ..unit(2, Class::Newest, 60)
        };
        let chosen = select(vec![plan(vec![seal, unit(1, Class::Other, 9)])], 1);
        assert_eq!(classes(&chosen), [vec![Class::Newest]]);
        assert_eq!(chosen[0][0].cost(), 1);
        assert_eq!(
            chosen[0][0].reads[0].kind,
            ReadKind::Segment(SegmentId::for_tests(7))
        );
    }

    #[test]
    fn a_verification_replaces_the_targets_other_reads_when_it_fits() {
        let plan = Plan {
            regular: vec![unit(1, Class::Newest, 0), unit(1, Class::Other, 500)],
            verify: Some(Unit {
                then: vec![unit(1, Class::Other, 0).reads[0]; 2],
                ..unit(3, Class::Verify, 100)
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
