//! A configured campaign (its UUID, name, window and the API's filters), a
//! configured view (a named query over the filters, across campaigns), and
//! [`Query`], what one poll target asks of the API. Plain values, built by
//! [`crate::config`] and read by the query builder and the poller.

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

/// One configured view: a named query over the API's filters, counted by
/// the records' campaign, template and state beside the campaigns (never
/// inside them: `evolux_view_subscribers`).
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// Its label value, `[a-z0-9_-]`, unique; the only part of it that is
    /// ever logged or exported.
    pub name: String,
    /// `campaigns[]`; empty: every campaign, grouped by each record's.
    pub campaigns: Vec<Uuid>,
    /// Count only subscribers inserted this long before the poll.
    pub window: Option<Duration>,
    /// The other filters. Values may be personal data (a CPF): never
    /// logged, never labels.
    pub filters: Filters,
}

/// What one poll target asks of the API.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// One configured campaign: `campaigns[]` its UUID, its filters.
    Campaign(Campaign),
    /// One configured view: its campaigns (or none: every one), its filters.
    View(View),
    /// Every campaign, no filter, grouped by each record's campaign.
    Discovery,
}

impl Query {
    /// The UUIDs sent as `campaigns[]`: none asks for every campaign.
    pub fn campaigns(&self) -> &[Uuid] {
        match self {
            Query::Campaign(c) => std::slice::from_ref(&c.uuid),
            Query::View(v) => &v.campaigns,
            Query::Discovery => &[],
        }
    }

    /// The filters besides `campaigns[]` and the window.
    pub fn filters(&self) -> Option<&Filters> {
        match self {
            Query::Campaign(c) => Some(&c.filters),
            Query::View(v) => Some(&v.filters),
            Query::Discovery => None,
        }
    }

    /// The campaign every record counts under whatever it says: a
    /// configured campaign's, or a view's only one. `None`: each record's.
    pub fn fixed_campaign(&self) -> Option<String> {
        match self.campaigns() {
            [one] => Some(one.to_string()),
            _ => None,
        }
    }

    /// For logs and readiness: a campaign's UUID, `view:<name>`, or
    /// `(discovery)`. Never a filter value.
    pub fn label(&self) -> String {
        match self {
            Query::Campaign(c) => c.uuid.to_string(),
            Query::View(v) => format!("view:{}", v.name),
            Query::Discovery => "(discovery)".to_string(),
        }
    }

    /// Whether `other` asks the API for the same records (names aside): a
    /// reload keeps what the exporter knows of a target only then.
    pub fn same_records(&self, other: &Query) -> bool {
        match (self, other) {
            (Query::Campaign(a), Query::Campaign(b)) => {
                (a.uuid, &a.filters, a.window) == (b.uuid, &b.filters, b.window)
            }
            (Query::View(a), Query::View(b)) => {
                (&a.name, &a.campaigns, &a.filters, a.window)
                    == (&b.name, &b.campaigns, &b.filters, b.window)
            }
            (Query::Discovery, Query::Discovery) => true,
            _ => false,
        }
    }
}
