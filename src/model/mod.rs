//! The model at the bottom of the house: the six states, a record's
//! counted fields, counts and how a read tallies them, the insertion-time
//! axis, why a read failed, and the immutable [`Snapshot`] a poll makes.
//!
//! Pure, and importing nothing else of the crate. Which counts are kept
//! after a failure and which have gone stale is decided per segment, in
//! [`crate::segments`].

pub mod axis;
pub mod campaign;
pub mod counts;
pub mod failure;
pub mod record;
pub mod snapshot;
pub mod tally;

pub use axis::{Axis, AxisStart, Millis, Range, duration_millis, millis};
pub use campaign::{Campaign, Filters, Query, View};
pub use counts::{CampaignCounts, StateCounts};
pub use failure::{Failure, Reason};
pub use record::{Field, RecordFields, RecordSink};
pub use snapshot::{CampaignStatus, Change, Snapshot, ViewStatus};
pub use tally::{CountedCampaign, Tally};

/// The six documented states, in funnel order.
pub const STATES: [&str; 6] = ["pending", "scheduled", "sent", "dnd", "completed", "error"];

/// Label value for a field the record does not have.
pub const UNKNOWN: &str = "unknown";
/// Label value for a field whose value cannot be a label (too long, or
/// characters no identifier has).
pub const INVALID: &str = "invalid";

#[cfg(test)]
mod tests;
