//! How segments are laid out and scheduled: the thresholds of one target,
//! and the rules of one poll.

use std::time::{Duration, SystemTime};

/// How segments are laid out and scheduled.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Policy {
    /// `poll.interval`: the newest segment and changing ones are read this often.
    pub interval: Duration,
    /// `poll.max_interval`: no segment goes longer without a read.
    pub max_interval: Duration,
    /// The newest segment is sealed (cut at one interval ago) once it holds
    /// this many records...
    pub seal_records: u64,
    /// ...or once it spans this long and holds any.
    pub seal_age: Duration,
    /// A segment that changed at its last two reads and holds at least this
    /// many records is halved when next read.
    pub split_records: u64,
    /// Settled neighbours merge while together they hold at most this many.
    pub merge_records: u64,
    /// Most segments a target holds; past it the smallest neighbours merge.
    pub max_segments: usize,
    /// Unchanged reads in a row after which a segment counts as settled.
    pub settled_after: u32,
}

impl Policy {
    /// The policy for a poll interval and staleness bound, with the default
    /// split and merge thresholds.
    pub fn new(interval: Duration, max_interval: Duration) -> Policy {
        Policy {
            interval,
            max_interval: max_interval.max(interval),
            seal_records: 2_000,
            seal_age: Duration::from_secs(3600),
            split_records: 2_000,
            merge_records: 20_000,
            max_segments: 32,
            settled_after: 3,
        }
    }

    /// Whether targets are segmented at all: `max_interval` equal to
    /// `interval` reads each target whole, every poll.
    pub fn segmented(&self) -> bool {
        self.max_interval > self.interval
    }

    /// The wait before the next read of a segment read at `now`, from when
    /// its reads last found a change (`changed`, the first read counting as
    /// one) and the change before that (`before`):
    ///
    /// - changed at this read: the next interval, to see whether the
    ///   changes go on;
    /// - changes that recur (the last two less than `max_interval` apart):
    ///   half the time since the last change, so a segment whose changes
    ///   keep arriving is read every interval or two, and one that falls
    ///   quiet backs off by half again at each read;
    /// - no change seen since its first read: the time since that read (1,
    ///   2, 4, 8... intervals);
    /// - one change after a long quiet (a late reply deep in history),
    ///   confirmed by one unchanged read: straight back to `max_interval`.
    ///
    /// Always between `interval` and `max_interval`.
    pub fn gap(
        &self,
        now: SystemTime,
        changed: Option<SystemTime>,
        before: Option<SystemTime>,
    ) -> Duration {
        let since = |t: SystemTime| now.duration_since(t).unwrap_or_default();
        let gap = match (changed, before) {
            (Some(c), _) if c >= now => self.interval,
            // Only a first read: the time since it, doubling the gap at
            // each unchanged read, as history laid out at start-up mostly
            // is settled.
            (Some(c), None) => since(c),
            (Some(c), Some(b)) if c.duration_since(b).unwrap_or_default() < self.max_interval => {
                since(c) / 2
            }
            _ => self.max_interval,
        };
        gap.clamp(self.interval, self.max_interval)
    }

    /// A read due this close to a poll's start is made in that poll: polls
    /// start one interval apart give or take the timer.
    pub(crate) fn slack(&self) -> Duration {
        self.interval / 2
    }
}

/// Timing and limits of a poll, as the layouts need them.
#[derive(Clone, Copy, Debug)]
pub struct PollRules {
    /// How segments are laid out and scheduled.
    pub policy: Policy,
    /// Requests (first pages) a poll may make, every read included.
    pub budget: usize,
    /// A segment failing for this long loses its counts.
    pub max_staleness: Duration,
    /// Wait between verifications of a target; `None`: never verify.
    pub verify_interval: Option<Duration>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn the_gap_follows_how_recently_a_segment_changed() {
        let p = Policy::new(MIN, 30 * MIN);
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        // Changed now (or first read): the next interval.
        assert_eq!(p.gap(t, Some(t), None), MIN);
        // Recurring changes: half the quiet time, at least the interval.
        let recurring = Some(t - 5 * MIN);
        assert_eq!(p.gap(t + MIN, Some(t), recurring), MIN);
        assert_eq!(p.gap(t + 4 * MIN, Some(t), recurring), 2 * MIN);
        assert_eq!(p.gap(t + 10 * MIN, Some(t), recurring), 5 * MIN);
        assert_eq!(p.gap(t + 600 * MIN, Some(t), recurring), 30 * MIN);
        // Only a first read: the time since it.
        assert_eq!(p.gap(t + MIN, Some(t), None), MIN);
        assert_eq!(p.gap(t + 6 * MIN, Some(t), None), 6 * MIN);
        // One change after a long quiet, or none ever seen: the long gap.
        assert_eq!(p.gap(t + MIN, Some(t), Some(t - 300 * MIN)), 30 * MIN);
        assert_eq!(p.gap(t + MIN, None, None), 30 * MIN);
        // Unsegmented: always the interval.
        let whole = Policy::new(MIN, MIN);
        assert_eq!(whole.gap(t + 9 * MIN, Some(t), None), MIN);
    }
}
