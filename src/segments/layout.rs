//! One target's segments: which reads are due ([`Layout::plan`]) and what
//! their answers change ([`Layout::apply`]).

use std::time::{Duration, SystemTime};

use super::verify::{self, Mismatch};
use super::{Axis, Counted, Millis, Policy, Range, duration_millis, millis};
use crate::model::axis::later;
use reshape::record;

mod reshape;

const HOUR_MS: Millis = 3_600_000;
const DAY_MS: Millis = 24 * HOUR_MS;

/// Where the first segment is cut, back from the seal point, when a target
/// starts: most history is old and settles at once, the recent part is
/// small and can change.
const GRID_MS: [Millis; 5] = [HOUR_MS, DAY_MS, 7 * DAY_MS, 30 * DAY_MS, 365 * DAY_MS];

/// An insertion-time slice of a target, and what its last reads said.
#[derive(Clone, Debug)]
pub struct Segment {
    /// First millisecond; `None`: from the axis start.
    pub lo: Option<Millis>,
    /// Last millisecond; `None`: to the axis end (the newest segment).
    pub hi: Option<Millis>,
    /// Its last good counts; `None` before its first read and once stale.
    pub counts: Option<Counted>,
    /// Records its last good read returned (counted or not).
    pub records: u64,
    /// Start of its last good read.
    pub read_at: Option<SystemTime>,
    /// Good reads in a row that found the counts unchanged.
    pub unchanged: u32,
    /// Good reads in a row that found the counts changed (a first read has
    /// nothing to compare with, and does not count as a change).
    pub changes: u32,
    /// The unchanged streak it had when its current run of changes began:
    /// a single change (a late reply deep in history) confirmed by one
    /// unchanged read puts the segment back on that streak.
    pub streak_before: u32,
    /// When it should next be read.
    pub due: SystemTime,
    /// Since when its reads fail; `None` while they succeed.
    pub failing_since: Option<SystemTime>,
}

impl Segment {
    fn unread(lo: Option<Millis>, hi: Option<Millis>, due: SystemTime) -> Segment {
        Segment {
            lo,
            hi,
            counts: None,
            records: 0,
            read_at: None,
            unchanged: 0,
            changes: 0,
            streak_before: 0,
            due,
            failing_since: None,
        }
    }

    fn settled(&self, policy: &Policy) -> bool {
        self.counts.is_some()
            && self.failing_since.is_none()
            && self.unchanged >= policy.settled_after
    }
}

/// What a read is for, as planned and as answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadKind {
    /// Segment `i` as it is.
    Segment(usize),
    /// One half of segment `parent`, cut after millisecond `at`.
    Half {
        /// The segment being split.
        parent: usize,
        /// The later half (`at + 1` on), else the earlier (up to `at`).
        upper: bool,
        /// The last millisecond of the earlier half.
        at: Millis,
    },
    /// The whole target, unsegmented.
    Whole,
    /// The newest segment once more, after [`ReadKind::Whole`] (verification).
    NewestAgain,
}

/// One planned query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Read {
    /// What it is for.
    pub kind: ReadKind,
    /// Its `start` and `end`.
    pub range: Range,
}

/// Reads that go together: all or none of them are made in a poll.
#[derive(Clone, Debug, PartialEq)]
pub struct Unit {
    /// Made first, at once.
    pub reads: Vec<Read>,
    /// Made after `reads`, one after another (verification).
    pub then: Vec<Read>,
    /// Holds the newest segment's read, which no poll may skip.
    pub newest: bool,
    /// How long past due it is.
    pub overdue: Duration,
}

impl Unit {
    /// Requests the unit makes (first pages).
    pub fn cost(&self) -> usize {
        self.reads.len() + self.then.len()
    }

    /// The unit with a planned split undone: the parent read whole, as one
    /// request. Any other unit is returned as it is.
    pub fn unsplit(self) -> Unit {
        let parent = match self.reads.as_slice() {
            [lower, upper] => match (lower.kind, upper.kind) {
                (ReadKind::Half { parent, .. }, ReadKind::Half { .. }) => {
                    Some((parent, lower.range.start, upper.range.end))
                }
                _ => None,
            },
            _ => None,
        };
        match parent {
            Some((i, start, end)) => Unit {
                reads: vec![Read {
                    kind: ReadKind::Segment(i),
                    range: Range { start, end },
                }],
                ..self
            },
            None => self,
        }
    }
}

/// What a target should read in a poll.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// The reads that are due, the newest segment's first.
    pub regular: Vec<Unit>,
    /// A verification, when due: every segment, the whole target, the newest
    /// again. Taken instead of `regular`, which it covers.
    pub verify: Option<Unit>,
}

/// A good read's answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReadOk {
    /// What it counted.
    pub counted: Counted,
    /// Records it returned, counted or not.
    pub records: u64,
}

/// What [`Layout::apply`] found worth saying.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Applied {
    /// A verification ran and disagreed: the campaigns and their figures.
    pub mismatches: Vec<Mismatch>,
    /// A verification agreed while the target was in fallback: segmented again.
    pub recovered: bool,
    /// Segments whose counts went stale and were dropped in this poll.
    pub dropped: usize,
}

/// The segments of one target.
#[derive(Clone, Debug)]
pub struct Layout {
    axis: Axis,
    segments: Vec<Segment>,
    /// After a verification mismatch: the whole-target read that stands in
    /// for the segments until a verification agrees.
    fallback: Option<Segment>,
    /// When to verify next; `None`: never.
    next_verify: Option<SystemTime>,
}

impl Layout {
    /// A target with nothing read yet. `verify` verifies at the first poll
    /// (and then as [`Layout::apply`] is told); it is ignored when the policy
    /// does not segment.
    pub fn new(axis: Axis, policy: &Policy, verify: bool, now: SystemTime) -> Layout {
        Layout {
            axis,
            segments: Vec::new(),
            fallback: None,
            next_verify: (verify && policy.segmented()).then_some(now),
        }
    }

    /// The segments held (tests and the benchmark read them).
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Whether a verification mismatch put the target on whole reads.
    pub fn in_fallback(&self) -> bool {
        self.fallback.is_some()
    }

    /// The axis the target counts on.
    pub fn axis(&self) -> Axis {
        self.axis
    }

    /// Segments held, as `evolux_campaign_segments` shows them.
    pub fn segment_count(&self) -> usize {
        if self.fallback.is_some() {
            1
        } else {
            self.segments.len()
        }
    }

    /// The target's counts: the sum of its segments, or `None` while any of
    /// them has none (never read, or stale).
    pub fn counts(&self) -> Option<Counted> {
        if let Some(f) = &self.fallback {
            return f.counts.clone();
        }
        if self.segments.is_empty() {
            return None;
        }
        let mut parts = Vec::with_capacity(self.segments.len());
        for s in &self.segments {
            parts.push(s.counts.as_ref()?);
        }
        Some(Counted::sum(parts))
    }

    /// The time by which every segment had last been read: the oldest of
    /// their last good reads.
    pub fn refreshed(&self) -> Option<SystemTime> {
        if let Some(f) = &self.fallback {
            return f.read_at;
        }
        let mut oldest = None;
        for s in &self.segments {
            let t = s.read_at?;
            oldest = Some(oldest.map_or(t, |o: SystemTime| o.min(t)));
        }
        oldest
    }

    /// Gets the layout ready for a poll at `now`: lays out the first
    /// segments, and drops those the window has left behind.
    pub fn prepare(&mut self, now: SystemTime, policy: &Policy) {
        let now_ms = millis(now);
        if let Some(start) = self.axis.start_at(now_ms) {
            let gone = self
                .segments
                .iter()
                .take_while(|s| s.hi.is_some_and(|hi| hi < start))
                .count();
            self.segments.drain(..gone);
            if let Some(first) = self.segments.first_mut() {
                first.lo = None;
            }
        }
        let verify_due = self.verify_due(now, policy);
        if self.segments.is_empty() && (self.fallback.is_none() || verify_due) {
            self.segments = self.grid(now, policy);
        }
    }

    fn verify_due(&self, now: SystemTime, policy: &Policy) -> bool {
        self.next_verify.is_some_and(|v| v <= now + policy.slack())
    }

    /// The first segments: cut at one interval ago, and at an hour, a day,
    /// a week, a month and a year before that, within the axis.
    fn grid(&self, now: SystemTime, policy: &Policy) -> Vec<Segment> {
        let mut cuts = Vec::new();
        if policy.segmented() {
            let now_ms = millis(now);
            let seal = to_second_end(now_ms - duration_millis(policy.interval));
            let start = self.axis.start_at(now_ms);
            cuts = std::iter::once(seal)
                .chain(GRID_MS.iter().map(|back| seal - back))
                .filter(|c| start.is_none_or(|s| *c >= s) && self.axis.end.is_none_or(|e| *c < e))
                .collect();
            cuts.reverse();
        }
        let mut out = Vec::with_capacity(cuts.len() + 1);
        let mut lo = None;
        for c in cuts {
            out.push(Segment::unread(lo, Some(c), now));
            lo = Some(c + 1);
        }
        out.push(Segment::unread(lo, None, now));
        out
    }

    /// The query range of segment `i` at `now`.
    fn range_of(&self, i: usize, now_ms: Millis) -> Range {
        let s = &self.segments[i];
        Range {
            start: later(s.lo, self.axis.start_at(now_ms)),
            end: s.hi.or(self.axis.end),
        }
    }

    fn whole_range(&self, now_ms: Millis) -> Range {
        Range {
            start: self.axis.start_at(now_ms),
            end: self.axis.end,
        }
    }

    /// The reads due at `now`. Call [`Layout::prepare`] first.
    pub fn plan(&self, now: SystemTime, policy: &Policy) -> Plan {
        let now_ms = millis(now);
        let overdue = |due: SystemTime| now.duration_since(due).unwrap_or_default();
        if self.segments.is_empty() && self.fallback.is_none() {
            return Plan::default();
        }
        // A verification reads every segment, so it may run before they
        // have counts: at start-up it is the first poll.
        let verify = self.verify_due(now, policy) && !self.segments.is_empty();
        let verify = verify.then(|| Unit {
            reads: (0..self.segments.len())
                .map(|i| Read {
                    kind: ReadKind::Segment(i),
                    range: self.range_of(i, now_ms),
                })
                .collect(),
            then: vec![
                Read {
                    kind: ReadKind::Whole,
                    range: self.whole_range(now_ms),
                },
                Read {
                    kind: ReadKind::NewestAgain,
                    range: self.range_of(self.segments.len() - 1, now_ms),
                },
            ],
            newest: false,
            overdue: self.next_verify.map_or(Duration::ZERO, overdue),
        });
        if let Some(f) = &self.fallback {
            let whole = Unit {
                reads: vec![Read {
                    kind: ReadKind::Whole,
                    range: self.whole_range(now_ms),
                }],
                then: Vec::new(),
                newest: true,
                overdue: overdue(f.due),
            };
            return Plan {
                regular: vec![whole],
                verify,
            };
        }
        let last = self.segments.len() - 1;
        let mut regular = Vec::new();
        for i in (0..self.segments.len()).rev() {
            let s = &self.segments[i];
            let newest = i == last;
            if !newest && s.due > now + policy.slack() {
                continue;
            }
            let range = self.range_of(i, now_ms);
            let cut = if newest {
                self.seal_point(s, range, now_ms, policy)
            } else {
                self.split_point(s, range, policy)
            };
            let reads = match cut {
                Some(at) => halves(i, range, at).to_vec(),
                None => vec![Read {
                    kind: ReadKind::Segment(i),
                    range,
                }],
            };
            regular.push(Unit {
                reads,
                then: Vec::new(),
                newest,
                overdue: overdue(s.due),
            });
        }
        Plan { regular, verify }
    }

    /// Where to seal the newest segment, if it is due: one interval ago.
    fn seal_point(
        &self,
        s: &Segment,
        range: Range,
        now_ms: Millis,
        policy: &Policy,
    ) -> Option<Millis> {
        if !policy.segmented() || s.counts.is_none() || self.segments.len() >= policy.max_segments {
            return None;
        }
        let at = to_second_end(now_ms - duration_millis(policy.interval));
        let age_ms = range.start.map_or(Millis::MAX, |lo| at.saturating_sub(lo));
        let full = s.records >= policy.seal_records
            || (s.records > 0 && age_ms >= duration_millis(policy.seal_age));
        let fits = range.start.is_none_or(|lo| at >= lo) && range.end.is_none_or(|e| at < e);
        (full && fits).then_some(at)
    }

    /// Where to halve an older segment, if it is large and changing.
    fn split_point(&self, s: &Segment, range: Range, policy: &Policy) -> Option<Millis> {
        // Changed at its last two reads: a region in flux, not one late reply.
        let changing = s.counts.is_some() && s.changes >= 2 && s.failing_since.is_none();
        if !policy.segmented()
            || !changing
            || s.records < policy.split_records
            || self.segments.len() >= policy.max_segments
        {
            return None;
        }
        let hi = range.end?;
        let lo = range.start.unwrap_or(hi.saturating_sub(365 * DAY_MS));
        if hi <= lo {
            return None;
        }
        let mid = lo + (hi - lo) / 2;
        let aligned = to_second_end(mid);
        Some(if aligned >= lo { aligned } else { mid })
    }

    /// Takes in what the reads of a poll that started at `now` answered
    /// (`None`: the read failed), then drops stale counts and merges
    /// settled neighbours. `verify_interval` is the wait until the next
    /// verification after one that ran.
    pub fn apply(
        &mut self,
        now: SystemTime,
        answers: Vec<(ReadKind, Option<ReadOk>)>,
        policy: &Policy,
        max_staleness: Duration,
        verify_interval: Duration,
    ) -> Applied {
        let mut applied = Applied::default();
        let mut halves: Vec<(usize, bool, Millis, Option<ReadOk>)> = Vec::new();
        let mut newest_first: Option<Option<Counted>> = None;
        let mut whole: Option<Option<ReadOk>> = None;
        let mut newest_again: Option<Option<ReadOk>> = None;
        let last = self.segments.len().checked_sub(1);
        for (kind, answer) in answers {
            match kind {
                ReadKind::Segment(i) if i < self.segments.len() => {
                    if Some(i) == last {
                        newest_first = Some(answer.as_ref().map(|a| a.counted.clone()));
                    }
                    record(&mut self.segments[i], now, answer, policy, Some(i) == last);
                }
                ReadKind::Segment(_) => {}
                ReadKind::Half { parent, upper, at } => halves.push((parent, upper, at, answer)),
                ReadKind::Whole => whole = Some(answer),
                ReadKind::NewestAgain => newest_again = Some(answer),
            }
        }
        if let Some(answer) = whole.clone()
            && let Some(f) = &mut self.fallback
        {
            record(f, now, answer, policy, true);
        }
        if let (Some(first), Some(again), Some(whole)) = (newest_first, newest_again, whole) {
            self.conclude_verification(
                now,
                first,
                again,
                whole,
                policy,
                verify_interval,
                &mut applied,
            );
        }
        self.split(now, halves, policy);
        applied.dropped = self.drop_stale(now, max_staleness);
        if policy.segmented() && self.fallback.is_none() {
            self.merge(policy);
        }
        applied
    }

    /// Compares the segments' sum with the whole read; on disagreement the
    /// target falls back to whole reads, on agreement it leaves fallback.
    #[allow(clippy::too_many_arguments)]
    fn conclude_verification(
        &mut self,
        now: SystemTime,
        newest_first: Option<Counted>,
        newest_again: Option<ReadOk>,
        whole: Option<ReadOk>,
        policy: &Policy,
        verify_interval: Duration,
        applied: &mut Applied,
    ) {
        // Every read of the verification must have answered in this poll, in
        // full: a failed read leaves a segment with older counts, and the
        // series cap leaves records out. Otherwise it is tried again one
        // bound later (not at every poll: it reads everything).
        let fresh = !self.segments.is_empty()
            && self
                .segments
                .iter()
                .all(|s| s.read_at == Some(now) && s.failing_since.is_none());
        let (Some(first), Some(again), Some(whole), true) =
            (newest_first, newest_again, whole, fresh)
        else {
            self.next_verify = Some(now + policy.max_interval.min(verify_interval));
            return;
        };
        let newest = self.segments.len() - 1;
        let older = Counted::sum(
            self.segments[..newest]
                .iter()
                .filter_map(|s| s.counts.as_ref()),
        );
        self.next_verify = Some(now + verify_interval);
        applied.mismatches = verify::compare(&older, &first, &again.counted, &whole.counted);
        if applied.mismatches.is_empty() {
            record(&mut self.segments[newest], now, Some(again), policy, true);
            applied.recovered = self.fallback.take().is_some();
        } else {
            let mut f = Segment::unread(None, None, now);
            record(&mut f, now, Some(whole), policy, true);
            self.fallback = Some(f);
            self.segments.clear();
        }
    }
}

/// [`halves`], for the tests of other modules.
#[cfg(test)]
pub(crate) fn halves_for_tests(parent: usize, range: Range, at: Millis) -> Vec<Read> {
    halves(parent, range, at).to_vec()
}

/// The two reads that replace segment `parent` (queried as `range`) cut
/// after millisecond `at`: they tile the range as the segments do.
fn halves(parent: usize, range: Range, at: Millis) -> [Read; 2] {
    let half = |upper: bool, range: Range| Read {
        kind: ReadKind::Half { parent, upper, at },
        range,
    };
    [
        half(
            false,
            Range {
                start: range.start,
                end: Some(at),
            },
        ),
        half(
            true,
            Range {
                start: Some(at + 1),
                end: range.end,
            },
        ),
    ]
}

/// The last millisecond of the second `ms` falls in, or of the one before
/// when `ms` is not that millisecond: cuts then read like the API
/// document's `...:59.999Z` / `...:00.000Z`.
fn to_second_end(ms: Millis) -> Millis {
    ms - (ms + 1).rem_euclid(1000)
}

#[cfg(test)]
mod tests;
