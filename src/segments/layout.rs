//! One target's segments: which reads are due ([`Layout::plan`]) and what
//! their answers change ([`Layout::apply`]).

use std::time::{Duration, SystemTime};

use super::verify::{self, Mismatch};
use super::{Axis, Counted, Millis, Policy, Range, duration_millis, millis};
use crate::model::axis::later;

mod apply;
mod plan;
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
