//! Which reads are due ([`Layout::plan`]): a new target's whole read and
//! its two-half check, the segments' regular reads and their splits, a
//! fallback's whole read, and the verification's reads; and a unit undone
//! when it does not fit ([`Unit::unsplit`]).

use std::time::SystemTime;

use super::*;

impl Layout {
    /// The reads due at `now`. Call [`Layout::prepare`] first.
    pub fn plan(&self, now: SystemTime, policy: &Policy) -> Plan {
        let now_ms = millis(now);
        let overdue = |due: SystemTime| now.duration_since(due).unwrap_or_default();
        let whole = |class, since| Unit {
            reads: vec![Read {
                kind: ReadKind::Whole,
                range: self.whole_range(now_ms),
            }],
            then: Vec::new(),
            class,
            overdue: overdue(since),
        };
        let verify = self.plan_verification(now, policy);
        match &self.mode {
            Mode::New(since) => {
                let (reads, then) = self.first_unit(now_ms);
                Plan {
                    regular: vec![Unit {
                        reads,
                        then,
                        class: Class::First,
                        overdue: overdue(*since),
                    }],
                    verify: None,
                }
            }
            Mode::Fallback(f) => Plan {
                regular: vec![whole(Class::Newest, f.due)],
                verify,
            },
            Mode::Filling(f) => {
                let mut regular = self.plan_segments(now, policy);
                // The segments are slow to fill (a tight budget): the
                // stand-in is read again within the staleness bound.
                let due = f.read_at.map(|t| t + policy.max_interval);
                if due.is_some_and(|d| d <= now + policy.slack()) {
                    regular.push(whole(Class::Newest, due.unwrap_or(now)));
                }
                Plan { regular, verify }
            }
            Mode::Segmented => Plan {
                regular: self.plan_segments(now, policy),
                verify,
            },
        }
    }

    /// A verification, if due: every segment, the whole target, the newest
    /// segment again. It reads every segment, so it may run before they
    /// have counts (while they fill).
    fn plan_verification(&self, now: SystemTime, policy: &Policy) -> Option<Unit> {
        let (Some(since), Some(last)) = (self.next_verify, self.segments.len().checked_sub(1))
        else {
            return None;
        };
        // With a cap known, a whole read can only return the cap.
        if matches!(self.mode, Mode::New(_)) || self.cap.is_some() || !self.verify_due(now, policy)
        {
            return None;
        }
        let now_ms = millis(now);
        Some(Unit {
            reads: (0..self.segments.len())
                .map(|i| Read {
                    kind: ReadKind::Segment(self.segments[i].id),
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
                    range: self.range_of(last, now_ms),
                },
            ],
            class: Class::Verify,
            overdue: now.duration_since(since).unwrap_or_default(),
        })
    }

    /// Whether subscribers may still be inserted into the axis: it has no
    /// end, or its end is less than an interval ago (a fixed `end` in the
    /// past is closed: nothing new can land in it).
    pub(super) fn growing(&self, now: SystemTime, policy: &Policy) -> bool {
        let margin = duration_millis(policy.interval);
        self.axis
            .end
            .is_none_or(|end| end.saturating_add(margin) >= millis(now))
    }

    /// The segments' due reads, the newest's first: while the axis grows,
    /// it is due every poll; once closed, it is read as the others are.
    fn plan_segments(&self, now: SystemTime, policy: &Policy) -> Vec<Unit> {
        let now_ms = millis(now);
        let Some(last) = self.segments.len().checked_sub(1) else {
            return Vec::new();
        };
        let growing = self.growing(now, policy);
        let mut regular = Vec::new();
        for i in (0..self.segments.len()).rev() {
            let s = &self.segments[i];
            let newest = i == last && growing;
            let range = self.range_of(i, now_ms);
            // At the cap: split now, whatever the schedule and the limits.
            let capped = self.cap_split_point(i, range, now_ms);
            if !newest && capped.is_none() && s.due > now + policy.slack() {
                continue;
            }
            let cut = if capped.is_some() {
                capped
            } else if newest {
                self.seal_point(s, range, now_ms, policy)
            } else {
                self.split_point(s, range, policy)
            };
            let reads = match cut {
                Some(at) => halves(s.id, range, at).to_vec(),
                None => vec![Read {
                    kind: ReadKind::Segment(s.id),
                    range,
                }],
            };
            regular.push(Unit {
                reads,
                then: Vec::new(),
                class: if newest { Class::Newest } else { Class::Other },
                overdue: now.duration_since(s.due).unwrap_or_default(),
            });
        }
        regular
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
        // Changed at its last two reads, or at its last with the change
        // before it close by: a region in flux, not one late reply.
        let changing = s.counts.is_some()
            && s.failing_since.is_none()
            && (s.changes >= 2 || s.recurring(policy));
        if !policy.segmented()
            || !changing
            || s.records < policy.split_records
            || self.segments.len() >= policy.max_segments
        {
            return None;
        }
        // Only a closed range: the newest segment is sealed, not split.
        let hi = range.end?;
        cap::cut(range, hi)
    }
}

impl Unit {
    /// The unit with a planned split undone: the parent read whole, as one
    /// request; a first read without its check, the whole read alone. Any
    /// other unit is returned as it is.
    pub fn unsplit(self) -> Unit {
        let check = |r: &Read| matches!(r.kind, ReadKind::Check(_));
        if !self.reads.is_empty() && self.reads.iter().all(check) {
            return Unit {
                reads: self.then,
                then: Vec::new(),
                ..self
            };
        }
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
            Some((id, start, end)) => Unit {
                reads: vec![Read {
                    kind: ReadKind::Segment(id),
                    range: Range { start, end },
                }],
                ..self
            },
            None => self,
        }
    }
}
