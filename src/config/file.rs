//! The YAML configuration file (`--config.file`), as written by the user.
//! Every key is optional; unknown keys are errors that name the key.

use std::path::PathBuf;

use serde::Deserialize;
use uuid::Uuid;

use super::shard::ShardIndex;
use super::units::{ByteSize, HumanDuration};
use crate::evolux::fields::LayoutOverrides;
use crate::evolux::pagination::RawPagination;
use crate::model::Field;
use crate::telemetry::{LogFormat, LogLevel};

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Where and how to reach the API.
    #[serde(default)]
    pub evolux: FileEvolux,
    /// Campaigns to poll, with their own settings.
    #[serde(default)]
    pub campaigns: Vec<FileCampaign>,
    /// Named queries over the filters, counted beside the campaigns.
    #[serde(default)]
    pub views: Vec<FileView>,
    /// Polling schedule and limits.
    #[serde(default)]
    pub poll: FilePoll,
    /// The exporter's own HTTP server.
    #[serde(default)]
    pub web: FileWeb,
    /// Logging.
    #[serde(default)]
    pub log: FileLog,
    /// Where records, next links and fields are found in the response body.
    #[serde(default)]
    pub response: FileResponse,
    /// This replica's share of the campaigns.
    #[serde(default)]
    pub shard: FileShard,
}

/// `shard:` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileShard {
    pub index: Option<ShardIndex>,
    pub count: Option<u32>,
}

/// `evolux:` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEvolux {
    pub url: Option<String>,
    pub token_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
    pub proxy_url: Option<String>,
    pub timeout: Option<HumanDuration>,
    pub max_concurrency: Option<usize>,
    pub max_rps: Option<f64>,
    pub max_response_size: Option<ByteSize>,
    pub max_retries: Option<u32>,
}

/// One entry of `campaigns:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCampaign {
    pub uuid: Uuid,
    /// Display name, exported in `evolux_campaign_info`.
    pub name: Option<String>,
    /// Overrides `poll.window` for this campaign.
    pub window: Option<HumanDuration>,
    /// API filters other than `campaigns[]`.
    #[serde(default)]
    pub filters: FileFilters,
}

/// One entry of `views:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileView {
    /// Its label value: `[a-z0-9_-]`, unique.
    pub name: String,
    /// `campaigns[]`; absent or empty: every campaign.
    #[serde(default)]
    pub campaigns: Vec<Uuid>,
    /// Overrides `poll.window` for this view.
    pub window: Option<HumanDuration>,
    /// API filters other than `campaigns[]`.
    #[serde(default)]
    pub filters: FileFilters,
}

/// The API's documented filters, minus `campaigns[]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileFilters {
    pub state: Option<String>,
    pub template_uuid: Option<Uuid>,
    pub timezone: Option<String>,
    pub conversation_field_key: Option<String>,
    pub conversation_field_value: Option<String>,
    pub phone_number: Option<String>,
    pub name: Option<String>,
    /// Fixed lower bound of the insertion time (RFC 3339); excludes `window`.
    pub start: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Fixed upper bound of the insertion time (RFC 3339); excludes `window`.
    pub end: Option<chrono::DateTime<chrono::FixedOffset>>,
}

/// `poll:` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePoll {
    pub interval: Option<HumanDuration>,
    pub window: Option<HumanDuration>,
    pub max_staleness: Option<HumanDuration>,
    pub max_series: Option<usize>,
    pub max_interval: Option<HumanDuration>,
    pub verify_interval: Option<HumanDuration>,
}

/// `web:` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileWeb {
    pub listen_address: Option<OneOrMany>,
    pub telemetry_path: Option<String>,
    pub config_file: Option<PathBuf>,
}

/// `log:` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLog {
    pub level: Option<LogLevel>,
    pub format: Option<LogFormat>,
}

/// `response:` section: JSON pointers (RFC 6901), each a single pointer or a
/// list tried in order.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileResponse {
    pub records: Option<OneOrMany>,
    pub next: Option<OneOrMany>,
    pub state: Option<OneOrMany>,
    pub template: Option<OneOrMany>,
    pub template_name: Option<OneOrMany>,
    pub campaign: Option<OneOrMany>,
    pub campaign_name: Option<OneOrMany>,
    pub total: Option<OneOrMany>,
    pub pagination: Option<FilePagination>,
}

/// `response.pagination:`: how the server's pages are linked, when it does
/// not say so itself.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePagination {
    pub style: String,
    pub param: Option<String>,
    pub size_param: Option<String>,
    pub size: Option<u64>,
}

impl FileResponse {
    /// The section as plain pointer lists.
    pub fn into_overrides(self) -> LayoutOverrides {
        let fields = [
            (Field::State, self.state),
            (Field::Template, self.template),
            (Field::TemplateName, self.template_name),
            (Field::Campaign, self.campaign),
            (Field::CampaignName, self.campaign_name),
        ];
        LayoutOverrides {
            records: self.records.map(OneOrMany::into_vec),
            next: self.next.map(OneOrMany::into_vec),
            total: self.total.map(OneOrMany::into_vec),
            pagination: self.pagination.map(|p| RawPagination {
                style: p.style,
                param: p.param,
                size_param: p.size_param,
                size: p.size,
            }),
            fields: fields
                .into_iter()
                .filter_map(|(f, v)| Some((f, v?.into_vec())))
                .collect(),
        }
    }
}

/// A pointer or a list of pointers.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    /// The pointers, in order.
    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

/// Parses the file's text; the error names the offending key (as a path
/// such as `campaigns[0].filters.state`) and its line.
pub fn parse(text: &str) -> Result<FileConfig, String> {
    if text.trim().is_empty() {
        return Ok(FileConfig::default());
    }
    serde_path_to_error::deserialize(serde_yaml::Deserializer::from_str(text)).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde_yaml prefixes its own, coarser, path: keep the precise one.
        let message = match inner.split_once(": ") {
            Some((head, rest)) if !head.contains(char::is_whitespace) => rest.to_string(),
            _ => inner,
        };
        if path.is_empty() || path == "." {
            message
        } else {
            format!("{path}: {message}")
        }
    })
}
