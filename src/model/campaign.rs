//! A configured campaign: its UUID, name, window and the API's filters.
//! Plain values, built by [`crate::config`] and read by the query builder
//! and the poller.

use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use uuid::Uuid;

/// One configured campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct Campaign {
    /// The campaign's UUID, sent as `campaigns[]`.
    pub uuid: Uuid,
    /// Display name for `evolux_campaign_info`; the records' name otherwise.
    pub name: Option<String>,
    /// Count only subscribers inserted this long before the poll.
    pub window: Option<Duration>,
    /// Other API filters.
    pub filters: Filters,
}

/// The API's filters other than `campaigns[]` and the window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filters {
    /// `state`.
    pub state: Option<String>,
    /// `template_uuid`.
    pub template_uuid: Option<Uuid>,
    /// `timezone`.
    pub timezone: Option<String>,
    /// `conversation_field_key` and `conversation_field_value`, always together.
    /// The value is personal data: never logged.
    pub conversation_field: Option<(String, String)>,
    /// `phone_number`: personal data, never logged.
    pub phone_number: Option<String>,
    /// `name`: personal data, never logged.
    pub name: Option<String>,
    /// Fixed `start`; excludes a window.
    pub start: Option<DateTime<FixedOffset>>,
    /// Fixed `end`; excludes a window.
    pub end: Option<DateTime<FixedOffset>>,
}
