//! What a poll's answers change ([`Layout::apply`]): the segments' counts,
//! staleness, merges, and the verification's verdict.

use std::time::SystemTime;

use super::reshape::record;
use super::*;

impl Layout {
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
