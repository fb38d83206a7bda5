//! The insertion-time axis a target counts on, and the ranges its queries
//! send.

use std::time::Duration;

/// Milliseconds since the Unix epoch: the resolution of the API's `start`
/// and `end`.
pub type Millis = i64;

/// A [`std::time::SystemTime`] as [`Millis`], rounded down.
pub fn millis(t: std::time::SystemTime) -> Millis {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// A [`std::time::Duration`] as [`Millis`], saturating.
pub fn duration_millis(d: std::time::Duration) -> Millis {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The insertion times a target counts: its window or fixed `start`/`end`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Axis {
    /// Where counting starts.
    pub start: AxisStart,
    /// The last millisecond counted; `None`: no end.
    pub end: Option<Millis>,
}

/// The start of an [`Axis`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AxisStart {
    /// A fixed first millisecond, or none.
    Fixed(Option<Millis>),
    /// A sliding window: this long before the poll.
    Window(Duration),
}

impl Axis {
    /// All of time.
    pub const ALL: Axis = Axis {
        start: AxisStart::Fixed(None),
        end: None,
    };

    /// The first millisecond counted at `now`.
    pub fn start_at(&self, now: Millis) -> Option<Millis> {
        match self.start {
            AxisStart::Fixed(s) => s,
            AxisStart::Window(w) => Some(now.saturating_sub(duration_millis(w))),
        }
    }
}

/// The `start` and `end` of one query, inclusive; `None` is left out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// `start`.
    pub start: Option<Millis>,
    /// `end`.
    pub end: Option<Millis>,
}

/// The later of two optional starts; `None` is the earliest.
pub(crate) fn later(a: Option<Millis>, b: Option<Millis>) -> Option<Millis> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}
