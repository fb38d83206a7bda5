//! How segments are laid out and scheduled: the thresholds of one target.

use std::time::Duration;

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

    /// The wait before the next read of a segment that came back unchanged
    /// `unchanged` times in a row: the interval, doubled each time, at most
    /// `max_interval`.
    pub fn gap(&self, unchanged: u32) -> Duration {
        let factor = 1u32 << unchanged.min(20);
        self.interval.saturating_mul(factor).min(self.max_interval)
    }

    /// A read due this close to a poll's start is made in that poll: polls
    /// start one interval apart give or take the timer.
    pub(crate) fn slack(&self) -> Duration {
        self.interval / 2
    }
}
