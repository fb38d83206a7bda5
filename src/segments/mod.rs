//! Insertion-time segments: how a poll reads only what may have changed.
//!
//! Each poll target (a configured campaign, or discovery) keeps its history
//! cut into segments by the moment subscribers were inserted. The segments'
//! queries tile the target's insertion-time axis exactly: bounds are
//! inclusive milliseconds (the API's `...T02:59:59.999Z` / `...T03:00:00.000Z`),
//! each segment starts one millisecond after the one before it ends, the
//! oldest has no `start` and the newest no `end`. A subscriber is therefore
//! counted in exactly one segment, and the target's counts are the sum of
//! its segments' latest counts. What this assumes of the API's `start` and
//! `end`, and how a server that reads them otherwise is caught, is in
//! `docs/evolux-api.md`.
//!
//! A target the exporter has never read is read whole first, after its two
//! halves, which check that the server does not cut answers short
//! ([`layout::cap`]); it is exported from that read while its segments
//! fill ([`layout::Mode`]). Then reads
//! are scheduled by observed change ([`Policy::gap`]): the newest segment,
//! where inserts land, every `poll.interval`; a segment whose counts
//! changed at its last read again at the next interval; one whose changes
//! recur at half the time since its last change; settled history at
//! `poll.max_interval`. Segments split where they are large and changing
//! and merge where they are settled, within a fixed number per target.
//! [`round`] is the one driver of a poll (plan, select within the request
//! budget, read, apply), which the poller, the tests and the fleet
//! benchmark all run; [`verify`] compares the segments' sum with one
//! unsegmented read, and judges parts against a whole ([`verify::judge`]).
//!
//! Everything here is pure: the poller hands it the time and what the API
//! answered, and it decides what to read next and what to count.

pub mod counts;
pub mod layout;
pub mod policy;
pub mod round;
pub mod verify;

pub use crate::model::{Axis, AxisStart, Millis, Range, duration_millis, millis};
pub use counts::Counted;
pub use layout::{Layout, Mode, ReadKind, ReadOk, Unit};
pub use policy::{Policy, PollRules};
