//! What a poll's answers do to the layout's shape: halves replace their
//! parent, stale counts go, settled neighbours merge; and how one answer is
//! taken into a segment.

use std::time::{Duration, SystemTime};

use super::{Layout, Policy, ReadOk, Segment};
use crate::segments::Millis;

impl Layout {
    /// Replaces each parent whose two halves were read by the halves; a
    /// parent with a failed half stays, and counts as failing.
    pub(super) fn split(
        &mut self,
        now: SystemTime,
        mut halves: Vec<(usize, bool, Millis, Option<ReadOk>)>,
        policy: &Policy,
    ) {
        halves.sort_by_key(|h| (std::cmp::Reverse(h.0), h.1));
        let mut it = halves.into_iter().peekable();
        while let Some((parent, _, at, first)) = it.next() {
            let second = match it.peek() {
                Some(h) if h.0 == parent => it.next().and_then(|h| h.3),
                _ => None,
            };
            let Some(p) = self.segments.get(parent).cloned() else {
                continue;
            };
            let (Some(lower), Some(upper)) = (first, second) else {
                record(&mut self.segments[parent], now, None, policy, false);
                continue;
            };
            // A half of a region in flux needs one change of its own (not
            // two) to be halved again: a dense changing region is narrowed
            // down a level every other read.
            let half = |lo, hi, answer: ReadOk| {
                let mut s = Segment::unread(lo, hi, now);
                s.changes = p.changes.saturating_sub(1);
                record(&mut s, now, Some(answer), policy, false);
                s
            };
            let lower = half(p.lo, Some(at), lower);
            let upper = half(Some(at + 1), p.hi, upper);
            self.segments.splice(parent..=parent, [lower, upper]);
        }
    }

    /// Drops the counts of segments that have failed for longer than
    /// `max_staleness`; returns how many.
    pub(super) fn drop_stale(&mut self, now: SystemTime, max_staleness: Duration) -> usize {
        let mut dropped = 0;
        for s in self.segments.iter_mut().chain(self.fallback.as_mut()) {
            let stale = s
                .failing_since
                .is_some_and(|f| now.duration_since(f).unwrap_or_default() >= max_staleness);
            if stale && s.counts.is_some() {
                s.counts = None;
                s.read_at = None;
                dropped += 1;
            }
        }
        dropped
    }

    /// Merges settled neighbours (never the newest segment) while they stay
    /// small enough, then the smallest neighbours while there are too many.
    pub(super) fn merge(&mut self, policy: &Policy) {
        let mergeable = |a: &Segment, b: &Segment| {
            a.counts.is_some()
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
        a.streak_before = a.streak_before.min(b.streak_before);
        a.due = a.due.min(b.due);
    }
}

/// Takes one read's answer into a segment. `every_poll`: read again at the
/// next poll whatever it said (the newest segment, a whole read).
pub(super) fn record(
    s: &mut Segment,
    now: SystemTime,
    answer: Option<ReadOk>,
    policy: &Policy,
    every_poll: bool,
) {
    match answer {
        Some(a) => {
            let first = s.counts.is_none();
            let changed = s.counts.as_ref().is_some_and(|c| *c != a.counted);
            if changed {
                if s.changes == 0 {
                    s.streak_before = s.unchanged;
                }
                s.changes += 1;
                s.unchanged = 0;
            } else if first {
                s.unchanged = 0;
            } else {
                s.unchanged = if s.changes == 1 {
                    s.streak_before.max(1)
                } else {
                    s.unchanged.saturating_add(1)
                };
                s.changes = 0;
            }
            s.counts = Some(a.counted);
            s.records = a.records;
            s.read_at = Some(now);
            s.failing_since = None;
            let gap = if every_poll {
                policy.interval
            } else {
                policy.gap(s.unchanged)
            };
            s.due = now + gap;
        }
        None => {
            s.failing_since.get_or_insert(now);
            s.due = now + policy.interval;
        }
    }
}
