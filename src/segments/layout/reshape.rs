//! What a poll's answers do to the layout's shape: halves replace their
//! parent, stale counts go, settled neighbours merge; and how one answer is
//! taken into a segment.

use std::time::{Duration, SystemTime};

use super::{Layout, Mode, Policy, ReadOk, Segment, SegmentId};
use crate::segments::Millis;

impl Layout {
    /// Replaces each parent whose two halves were read by the halves; a
    /// parent with a failed half stays, and counts as failing.
    pub(super) fn split(
        &mut self,
        now: SystemTime,
        mut halves: Vec<(SegmentId, bool, Millis, Option<ReadOk>)>,
        policy: &Policy,
    ) {
        halves.sort_by_key(|h| (h.0, h.1));
        let mut it = halves.into_iter().peekable();
        while let Some((id, _, at, first)) = it.next() {
            let second = match it.peek() {
                Some(h) if h.0 == id => it.next().and_then(|h| h.3),
                _ => None,
            };
            let Some(parent) = self.find(id) else {
                continue;
            };
            let p = self.segments[parent].clone();
            let (Some(lower), Some(upper)) = (first, second) else {
                record(&mut self.segments[parent], now, None, policy, false);
                continue;
            };
            // A half of a region in flux needs one change of its own (not
            // two) to be halved again: a dense changing region is narrowed
            // down a level every other read.
            // Its change times go on: a half's first read counts as a
            // change of a region whose changes recur.
            let mut half = |lo, hi, answer: ReadOk| {
                let mut s = Segment::unread(self.new_id(), lo, hi, now);
                s.changes = p.changes.saturating_sub(1);
                s.changed_at = p.changed_at;
                record(&mut s, now, Some(answer), policy, false);
                s
            };
            let lower = half(p.lo, Some(at), lower);
            let upper = half(Some(at + 1), p.hi, upper);
            self.segments.splice(parent..=parent, [lower, upper]);
        }
    }

    /// Whether the target's counts have expired: what they stand on has
    /// failed for `max_staleness`. Segmented, any segment; filling, the
    /// stand-in or any segment (the reads that would take over from it);
    /// in fallback, the whole read (segments laid out for a verification
    /// that did not finish do not count).
    pub(super) fn expired(&self, now: SystemTime, max_staleness: Duration) -> bool {
        let stale = |s: &Segment| {
            s.failing_since
                .is_some_and(|f| now.duration_since(f).unwrap_or_default() >= max_staleness)
        };
        match &self.mode {
            Mode::New(_) => false,
            Mode::Fallback(whole) => stale(whole),
            Mode::Filling(whole) => stale(whole) || self.segments.iter().any(stale),
            Mode::Segmented => self.segments.iter().any(stale),
        }
    }

    /// Merges settled neighbours (never the newest segment) while they stay
    /// small enough, then the smallest neighbours while there are too many.
    pub(super) fn merge(&mut self, policy: &Policy) {
        // With a cap known, a merge must stay below it: its next read would
        // be cut.
        let cap = self.cap.unwrap_or(u64::MAX);
        let mergeable = |a: &Segment, b: &Segment| {
            a.records + b.records < cap
                && a.counts.is_some()
                && b.counts.is_some()
                && a.failing_since.is_none()
                && b.failing_since.is_none()
        };
        let mut i = 0;
        while i + 2 < self.segments.len() {
            let (a, b) = (&self.segments[i], &self.segments[i + 1]);
            if a.settled(policy)
                && b.settled(policy)
                && a.records + b.records <= policy.merge_records
                && a.records + b.records < cap
            {
                self.merge_at(i);
            } else {
                i += 1;
            }
        }
        while self.segments.len() > policy.max_segments {
            let smallest = (0..self.segments.len().saturating_sub(2))
                .filter(|&i| mergeable(&self.segments[i], &self.segments[i + 1]))
                .min_by_key(|&i| self.segments[i].records + self.segments[i + 1].records);
            match smallest {
                Some(i) => self.merge_at(i),
                None => break,
            }
        }
    }

    /// Merges segment `i + 1` into segment `i`.
    pub(super) fn merge_at(&mut self, i: usize) {
        let b = self.segments.remove(i + 1);
        let a = &mut self.segments[i];
        a.hi = b.hi;
        if let (Some(ac), Some(bc)) = (&mut a.counts, &b.counts) {
            ac.add(bc);
        }
        a.records += b.records;
        a.read_at = a.read_at.min(b.read_at);
        a.unchanged = a.unchanged.min(b.unchanged);
        a.changes = a.changes.max(b.changes);
        a.changed_at = a.changed_at.max(b.changed_at);
        a.changed_before = a.changed_before.max(b.changed_before);
        a.due = a.due.min(b.due);
    }
}

impl Segment {
    /// Unchanged at its last reads, and quiet for `max_interval`: a region
    /// whose changes recur (replies still trickling in) is not settled,
    /// however many reads in a row happen to miss them.
    pub(super) fn settled(&self, policy: &Policy) -> bool {
        let quiet = match (self.read_at, self.changed_at) {
            (Some(read), Some(changed)) => {
                read.duration_since(changed).unwrap_or_default() >= policy.max_interval
            }
            _ => false,
        };
        self.counts.is_some()
            && self.failing_since.is_none()
            && self.unchanged >= policy.settled_after
            && quiet
    }

    /// Changed at its last read, and the change before that came less than
    /// `max_interval` earlier: changes recur here.
    pub(super) fn recurring(&self, policy: &Policy) -> bool {
        match (self.changed_at, self.changed_before) {
            (Some(c), Some(b)) => {
                self.changes >= 1 && c.duration_since(b).unwrap_or_default() < policy.max_interval
            }
            _ => false,
        }
    }
}

/// Takes one read's answer into a segment. `every_poll`: read again at the
/// next poll whatever it said (the newest segment, a whole read); else the
/// next read follows how recently it changed ([`Policy::gap`]).
pub(super) fn record(
    s: &mut Segment,
    now: SystemTime,
    answer: Option<ReadOk>,
    policy: &Policy,
    every_poll: bool,
) {
    let Some(a) = answer else {
        s.failing_since.get_or_insert(now);
        s.due = now + policy.interval;
        return;
    };
    let first = s.counts.is_none();
    let changed = s.counts.as_ref().is_some_and(|c| *c != a.counted);
    if changed {
        s.changes += 1;
        s.unchanged = 0;
    } else if first {
        s.unchanged = 0;
    } else {
        s.unchanged = s.unchanged.saturating_add(1);
        s.changes = 0;
    }
    // A first read has nothing to compare with: for timing it counts as a
    // change, so the next read tells whether the segment is busy.
    if changed || first {
        s.changed_before = s.changed_at;
        s.changed_at = Some(now);
    }
    s.counts = Some(a.counted);
    s.records = a.records;
    s.read_at = Some(now);
    s.failing_since = None;
    let gap = if every_poll {
        policy.interval
    } else {
        policy.gap(now, s.changed_at, s.changed_before)
    };
    s.due = now + gap;
}
