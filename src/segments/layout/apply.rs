//! What a poll's answers change ([`Layout::apply`]): the mode, the
//! segments' counts, staleness, merges, and the verification's verdict.

use std::time::SystemTime;

use super::reshape::record;
use super::*;

/// The answers of a poll's reads, sorted by what they were for.
#[derive(Default)]
struct Sorted {
    halves: Vec<(SegmentId, bool, Millis, Option<ReadOk>)>,
    /// A new target's check: its pieces and their answers.
    checks: Vec<(Range, Option<ReadOk>)>,
    /// The halves of one piece, when the pieces could mean a cap or an
    /// overlap.
    probes: Vec<(Range, Option<ReadOk>)>,
    /// The newest segment's regular read, as counted (verification).
    newest_first: Option<Option<Counted>>,
    whole: Option<Option<ReadOk>>,
    newest_again: Option<Option<ReadOk>>,
}

impl Layout {
    /// Takes in what the reads of a poll that started at `now` answered
    /// (`None`: the read failed), under the poll's `rules`; then moves the
    /// target on through its [`Mode`]s, drops stale counts and merges
    /// settled neighbours.
    pub fn apply(
        &mut self,
        now: SystemTime,
        answers: Vec<(ReadKind, Option<ReadOk>)>,
        rules: &PollRules,
    ) -> Applied {
        let policy = &rules.policy;
        let mut applied = Applied::default();
        let sorted = self.take_segment_answers(now, answers, policy);
        if let Some(answer) = sorted.whole.clone() {
            match &mut self.mode {
                Mode::New(_) => match answer {
                    Some(ok) => {
                        let checks = sorted.checks.clone();
                        let probes = sorted.probes.clone();
                        self.conclude_first(now, ok, (checks, probes), rules, &mut applied)
                    }
                    // To the back of the queue, due again at the next
                    // interval: a target whose whole read keeps failing does
                    // not hold the others' first reads.
                    None => self.mode = Mode::New(now + policy.interval),
                },
                // A whole read refreshes what stands in.
                Mode::Fallback(whole) | Mode::Filling(whole) => {
                    record(whole, now, answer, policy, true)
                }
                Mode::Segmented => {}
            }
        }
        if let (Some(first), Some(again), Some(whole)) =
            (sorted.newest_first, sorted.newest_again, sorted.whole)
        {
            self.conclude_verification(now, first, again, whole, rules, &mut applied);
        }
        self.split(now, sorted.halves, policy);
        applied.expired = self.expired(now, rules.max_staleness);
        if applied.expired {
            // Counts gone: the target starts over with one whole read (and
            // its check, which finds a cap again if there is one).
            self.mode = Mode::New(now);
            self.segments.clear();
            self.cap = None;
        }
        let filled = !self.segments.is_empty()
            && self
                .segments
                .iter()
                .all(|s| s.counts.is_some() && s.failing_since.is_none());
        if filled && matches!(self.mode, Mode::Filling(_)) {
            self.mode = Mode::Segmented;
        }
        if policy.segmented() && matches!(self.mode, Mode::Filling(_) | Mode::Segmented) {
            self.merge(policy);
        }
        applied.incomplete = self.shortfall(now);
        applied
    }

    /// Records each segment read's answer; returns the others.
    fn take_segment_answers(
        &mut self,
        now: SystemTime,
        answers: Vec<(ReadKind, Option<ReadOk>)>,
        policy: &Policy,
    ) -> Sorted {
        let mut sorted = Sorted::default();
        let newest = self.segments.last().map(|s| s.id);
        let growing = self.growing(now, policy);
        for (kind, answer) in answers {
            match kind {
                ReadKind::Segment(id) => {
                    let Some(i) = self.find(id) else { continue };
                    if Some(id) == newest {
                        sorted.newest_first = Some(answer.as_ref().map(|a| a.counted.clone()));
                    }
                    record(
                        &mut self.segments[i],
                        now,
                        answer,
                        policy,
                        Some(id) == newest && growing,
                    );
                }
                ReadKind::Half { parent, upper, at } => {
                    sorted.halves.push((parent, upper, at, answer))
                }
                ReadKind::Whole => sorted.whole = Some(answer),
                ReadKind::Check(range) => sorted.checks.push((range, answer)),
                ReadKind::Probe(range) => sorted.probes.push((range, answer)),
                ReadKind::NewestAgain => sorted.newest_again = Some(answer),
            }
        }
        sorted
    }

    /// A new target's whole read: its counts stand in while the segments
    /// fill. Unsegmented (or an axis too short to cut), the one segment is
    /// the whole target, and the read is its first.
    /// A target whose last verification disagreed goes back to fallback:
    /// only a verification that agrees lets its segments count again.
    pub(super) fn start_filling(&mut self, now: SystemTime, whole: ReadOk, policy: &Policy) {
        if self.distrusted {
            let mut stand_in = Segment::unread(self.new_id(), None, None, now);
            record(&mut stand_in, now, Some(whole), policy, true);
            self.mode = Mode::Fallback(stand_in);
            return;
        }
        let mut grid = self.grid(now, policy);
        if let [only] = grid.as_mut_slice() {
            record(only, now, Some(whole), policy, true);
            self.mode = Mode::Segmented;
        } else {
            let mut stand_in = Segment::unread(self.new_id(), None, None, now);
            record(&mut stand_in, now, Some(whole), policy, true);
            self.mode = Mode::Filling(stand_in);
        }
        self.segments = grid;
    }

    /// Compares the segments' sum with the whole read: on agreement the
    /// target is segmented (leaving fallback or filling), on disagreement
    /// it falls back to whole reads.
    fn conclude_verification(
        &mut self,
        now: SystemTime,
        newest_first: Option<Counted>,
        newest_again: Option<ReadOk>,
        whole: Option<ReadOk>,
        rules: &PollRules,
        applied: &mut Applied,
    ) {
        let policy = &rules.policy;
        let interval = rules.verify_interval.unwrap_or(policy.max_interval);
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
            self.next_verify = Some(now + policy.max_interval.min(interval));
            return;
        };
        let newest = self.segments.len() - 1;
        let older = Counted::sum(
            self.segments[..newest]
                .iter()
                .filter_map(|s| s.counts.as_ref()),
        );
        self.next_verify = Some(now + interval);
        applied.mismatches = verify::compare(&older, &first, &again.counted, &whole.counted);
        if !applied.mismatches.is_empty() && self.cap_from_verification(&whole, applied) {
            return;
        }
        self.distrusted = !applied.mismatches.is_empty();
        if applied.mismatches.is_empty() {
            let every_poll = self.growing(now, policy);
            record(
                &mut self.segments[newest],
                now,
                Some(again),
                policy,
                every_poll,
            );
            applied.recovered = matches!(self.mode, Mode::Fallback(_));
            self.mode = Mode::Segmented;
        } else {
            self.fall_back(now, whole, policy);
        }
    }
}
