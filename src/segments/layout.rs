//! One target's segments: which reads are due ([`Layout::plan`]) and what
//! their answers change ([`Layout::apply`]).
//!
//! A target goes through [`Mode`]s: never read ([`Mode::New`]: one
//! unsegmented read comes first, checked by its two halves read just
//! before it, and its counts are exported at once unless the check finds
//! a silent cap: see [`cap`]);
//! read whole, its segments filling ([`Mode::Filling`]: the whole read
//! stands in until every segment has counts); segmented
//! ([`Mode::Segmented`]); and, after a verification disagreed, read whole
//! every poll ([`Mode::Fallback`]) until one agrees. A target whose counts
//! expire is new again.
//!
//! Reads name segments by [`SegmentId`], never by position: `apply` finds
//! each answer's segment whatever its place.

use std::time::{Duration, SystemTime};

use super::verify::{self, Mismatch};
use super::{Axis, Counted, Millis, Policy, PollRules, Range, duration_millis, millis};
use crate::model::axis::later;

mod apply;
pub mod cap;
mod plan;
mod reshape;

const HOUR_MS: Millis = 3_600_000;
const DAY_MS: Millis = 24 * HOUR_MS;

/// Where the first segment is cut, back from the seal point, when a target
/// starts: most history is old and settles at once, the recent part is
/// small and can change.
const GRID_MS: [Millis; 5] = [HOUR_MS, DAY_MS, 7 * DAY_MS, 30 * DAY_MS, 365 * DAY_MS];

/// A segment's identity within its layout: given when it is made, never
/// given again, kept through its reads (a merge keeps the earlier one's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SegmentId(u64);

#[cfg(test)]
impl SegmentId {
    /// An identity for the tests of other modules.
    pub(crate) fn for_tests(n: u64) -> SegmentId {
        SegmentId(n)
    }
}

/// An insertion-time slice of a target, and what its last reads said.
#[derive(Clone, Debug)]
pub struct Segment {
    /// Its identity, which reads name.
    pub id: SegmentId,
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
    /// Good reads in a row that found the counts unchanged (settled
    /// neighbours merge).
    pub unchanged: u32,
    /// Good reads in a row that found the counts changed (a region in flux
    /// is split); a first read has nothing to compare with.
    pub changes: u32,
    /// The last read that found its counts changed, or its first read.
    pub changed_at: Option<SystemTime>,
    /// The change before that: two changes close together say the changes
    /// recur ([`Policy::gap`]).
    pub changed_before: Option<SystemTime>,
    /// When it should next be read.
    pub due: SystemTime,
    /// Since when its reads fail; `None` while they succeed.
    pub failing_since: Option<SystemTime>,
}

impl Segment {
    fn unread(id: SegmentId, lo: Option<Millis>, hi: Option<Millis>, due: SystemTime) -> Segment {
        Segment {
            id,
            lo,
            hi,
            counts: None,
            records: 0,
            read_at: None,
            unchanged: 0,
            changes: 0,
            changed_at: None,
            changed_before: None,
            due,
            failing_since: None,
        }
    }
}

/// Where a target stands. Transitions: `New` -> (a whole read) `Filling`
/// -> (every segment read) `Segmented` <-> (a verification) `Fallback`;
/// from any, counts expired: `New`.
#[derive(Clone, Debug)]
pub enum Mode {
    /// Never read whole, or its counts expired (since then): the next read
    /// is one unsegmented read, before any other read of any target.
    New(SystemTime),
    /// Read whole; that read stands in while the segments fill.
    Filling(Segment),
    /// The segments' sum is the target's counts (none while a segment is
    /// at a silent cap: [`cap`]).
    Segmented,
    /// A verification disagreed: the target is read whole every poll, and
    /// that read stands in, until a verification agrees.
    Fallback(Segment),
}

/// What a read is for, as planned and as answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadKind {
    /// A segment as it is.
    Segment(SegmentId),
    /// One half of segment `parent`, cut after millisecond `at`.
    Half {
        /// The segment being split.
        parent: SegmentId,
        /// The later half (`at + 1` on), else the earlier (up to `at`).
        upper: bool,
        /// The last millisecond of the earlier half.
        at: Millis,
    },
    /// The whole target, unsegmented: a new target's first read, a
    /// fallback's read, or a verification's.
    Whole,
    /// A piece of a new target's whole range, read just before its first
    /// [`ReadKind::Whole`] to check it (its two halves, and the pieces a
    /// half that held every record was split into).
    Check(Range),
    /// A half of one check piece, read when the pieces add up to more than
    /// the whole with none at its size: halves that add up to their piece
    /// say the server tiles, so the whole was cut at a cap.
    Probe(Range),
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

/// How urgent a unit is, most urgent first: the order in which a poll's
/// budget goes to them ([`crate::segments::round::select`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// A new target's whole read and its check: it has no counts at all.
    First,
    /// The newest segment (where inserts land), or a fallback's whole read.
    Newest,
    /// A verification.
    Verify,
    /// Any other segment that is due.
    Other,
}

/// Reads that go together: all or none of them are made in a poll.
#[derive(Clone, Debug, PartialEq)]
pub struct Unit {
    /// Made first, at once.
    pub reads: Vec<Read>,
    /// Made after `reads`, one after another (verification).
    pub then: Vec<Read>,
    /// How urgent it is.
    pub class: Class,
    /// How long past due it is.
    pub overdue: Duration,
}

impl Unit {
    /// Requests the unit makes (first pages).
    pub fn cost(&self) -> usize {
        self.reads.len() + self.then.len()
    }

    /// Every read, in the order they are made.
    pub fn all_reads(&self) -> impl Iterator<Item = &Read> {
        self.reads.iter().chain(&self.then)
    }
}

/// What a target should read in a poll.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// The reads that are due.
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
    /// The target's counts expired in this poll (what they stood on failed
    /// for `max_staleness`): it is new again, to be read whole.
    pub expired: bool,
    /// A silent cap was found in this poll (once per finding).
    pub cap: Option<cap::Capped>,
    /// Why the target has no counts to show although its reads succeeded:
    /// segments at the cap, or not read yet (see [`Layout::shortfall`]).
    pub incomplete: Option<String>,
}

/// The segments of one target.
#[derive(Clone, Debug)]
pub struct Layout {
    axis: Axis,
    mode: Mode,
    segments: Vec<Segment>,
    /// When to verify next; `None`: never.
    next_verify: Option<SystemTime>,
    /// The last verification disagreed: the segments are not to be trusted
    /// until one agrees, whatever happens in between (counts expiring).
    distrusted: bool,
    /// The next [`SegmentId`] to give.
    next_id: u64,
    /// The records at which the server seems to cut every answer, once
    /// found: a segment that returns as many is split, and the target has
    /// no counts while one does.
    cap: Option<u64>,
}

impl Layout {
    /// A target with nothing read yet. `verify`: verify once its segments
    /// are laid out (and then as the rules say); ignored when the policy
    /// does not segment.
    pub fn new(axis: Axis, policy: &Policy, verify: bool, now: SystemTime) -> Layout {
        Layout {
            axis,
            mode: Mode::New(now),
            segments: Vec::new(),
            next_verify: (verify && policy.segmented()).then_some(now),
            distrusted: false,
            next_id: 0,
            cap: None,
        }
    }

    /// The segments held (tests and the benchmark read them).
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Where the target stands.
    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    /// The records at which the server seems to cut answers, once found.
    pub fn cap(&self) -> Option<u64> {
        self.cap
    }

    /// Whether a verification mismatch put the target on whole reads.
    pub fn in_fallback(&self) -> bool {
        matches!(self.mode, Mode::Fallback(_))
    }

    /// The axis the target counts on.
    pub fn axis(&self) -> Axis {
        self.axis
    }

    /// Segments held, as `evolux_campaign_segments` shows them: one for a
    /// target read whole.
    pub fn segment_count(&self) -> usize {
        match self.mode {
            Mode::New(_) => 0,
            Mode::Fallback(_) => 1,
            Mode::Filling(_) | Mode::Segmented => self.segments.len(),
        }
    }

    /// The target's counts: the whole read that stands in, or the sum of
    /// the segments; `None` while it has none (never read, or expired).
    pub fn counts(&self) -> Option<Counted> {
        match &self.mode {
            Mode::New(_) => None,
            Mode::Filling(whole) | Mode::Fallback(whole) => whole.counts.clone(),
            Mode::Segmented => {
                if self.at_cap().next().is_some() {
                    return None;
                }
                let mut parts = Vec::with_capacity(self.segments.len());
                for s in &self.segments {
                    parts.push(s.counts.as_ref()?);
                }
                Some(Counted::sum(parts))
            }
        }
    }

    /// The time by which everything counted had last been read: the whole
    /// read that stands in, or the oldest of the segments' last good reads.
    pub fn refreshed(&self) -> Option<SystemTime> {
        match &self.mode {
            Mode::New(_) => None,
            Mode::Filling(whole) | Mode::Fallback(whole) => whole.read_at,
            Mode::Segmented => {
                let mut oldest = None;
                for s in &self.segments {
                    let t = s.read_at?;
                    oldest = Some(oldest.map_or(t, |o: SystemTime| o.min(t)));
                }
                oldest
            }
        }
    }

    /// Gets the layout ready for a poll at `now`: drops the segments the
    /// window has left behind, and lays out a fallback's segments again
    /// when its verification is due.
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
        let fallback = matches!(self.mode, Mode::Fallback(_));
        if fallback && self.segments.is_empty() && self.verify_due(now, policy) {
            self.segments = self.grid(now, policy);
        }
    }

    /// A new target whose whole read cannot succeed (too large for one
    /// read, or longer than a poll may last) is read by segments instead:
    /// no stand-in, and no counts until every segment has been read.
    pub fn read_by_segments(&mut self, now: SystemTime, policy: &Policy) {
        if matches!(self.mode, Mode::New(_)) && !self.distrusted {
            self.segments = self.grid(now, policy);
            self.mode = Mode::Segmented;
        }
    }

    fn verify_due(&self, now: SystemTime, policy: &Policy) -> bool {
        self.next_verify.is_some_and(|v| v <= now + policy.slack())
    }

    fn new_id(&mut self) -> SegmentId {
        self.next_id += 1;
        SegmentId(self.next_id)
    }

    /// The segment with this identity, and its place.
    fn find(&self, id: SegmentId) -> Option<usize> {
        self.segments.iter().position(|s| s.id == id)
    }

    /// The first segments: cut at one interval ago, and at an hour, a day,
    /// a week, a month and a year before that, within the axis.
    fn grid(&mut self, now: SystemTime, policy: &Policy) -> Vec<Segment> {
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
            out.push(Segment::unread(self.new_id(), lo, Some(c), now));
            lo = Some(c + 1);
        }
        out.push(Segment::unread(self.new_id(), lo, None, now));
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
pub(crate) fn halves_for_tests(parent: SegmentId, range: Range, at: Millis) -> Vec<Read> {
    halves(parent, range, at).to_vec()
}

/// The two reads that replace segment `parent` (queried as `range`) cut
/// after millisecond `at`: they tile the range as the segments do.
fn halves(parent: SegmentId, range: Range, at: Millis) -> [Read; 2] {
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

/// Pieces that tile `range` (an open start taken as a year before its
/// end, an open end as `now_ms`, and kept open), cut at second ends where
/// there is room, else at milliseconds: at most `k`, fewer where the range
/// is too short; one when it cannot be cut.
pub fn check_pieces(range: Range, now_ms: Millis, k: i64) -> Vec<Range> {
    let hi = range.end.unwrap_or(now_ms);
    let lo = range.start.unwrap_or(hi.saturating_sub(365 * DAY_MS));
    let mut cuts: Vec<Millis> = Vec::new();
    for j in 1..k {
        let c = lo + (hi - lo) / k * j;
        let aligned = to_second_end(c);
        let c = if aligned >= lo { aligned } else { c };
        if c >= lo && c < hi && cuts.last().is_none_or(|l| c > *l) {
            cuts.push(c);
        }
    }
    let mut out = Vec::with_capacity(cuts.len() + 1);
    let mut start = range.start;
    for c in cuts {
        out.push(Range {
            start,
            end: Some(c),
        });
        start = Some(c + 1);
    }
    out.push(Range {
        start,
        end: range.end,
    });
    out
}

/// The last millisecond of the second `ms` falls in, or of the one before
/// when `ms` is not that millisecond: cuts then read like the API
/// document's `...:59.999Z` / `...:00.000Z`.
fn to_second_end(ms: Millis) -> Millis {
    ms - (ms + 1).rem_euclid(1000)
}

#[cfg(test)]
mod tests;
