//! What the configuration asks the API for: the campaigns (flags and the
//! file's `campaigns:`) and the views (`views:`), each checked with
//! errors that name the field. Filter values are never echoed: a field
//! value may be personal data.

use std::time::Duration;

use uuid::Uuid;

use super::file::{FileCampaign, FileFilters, FileView};
use super::validate::positive;
use super::{ConfigError, invalid};
use crate::model::{Campaign, Filters, View};

/// Flag campaigns and file campaigns together: the file adds settings to a
/// UUID, the flags may add more UUIDs; a UUID given twice in the file is an
/// error (two different questions about one campaign are two views).
pub(super) fn campaigns(
    flag_uuids: Vec<Uuid>,
    file_campaigns: Vec<FileCampaign>,
) -> Result<Vec<Campaign>, ConfigError> {
    let mut out: Vec<Campaign> = Vec::new();
    for (i, c) in file_campaigns.into_iter().enumerate() {
        let field = |f: &str| format!("campaigns[{i}].{f}");
        if out.iter().any(|o| o.uuid == c.uuid) {
            return Err(invalid(
                field("uuid"),
                format!(
                    "{} is listed twice; to count it under other filters too, add a view (views:)",
                    c.uuid
                ),
            ));
        }
        if let Some(name) = &c.name
            && name.trim().is_empty()
        {
            return Err(invalid(field("name"), "must not be empty"));
        }
        let window = c.window.map(|w| w.0);
        out.push(Campaign {
            uuid: c.uuid,
            name: c.name,
            window,
            filters: filters(&field, window, c.filters)?,
        });
    }
    for uuid in flag_uuids {
        if !out.iter().any(|o| o.uuid == uuid) {
            out.push(Campaign {
                uuid,
                name: None,
                window: None,
                filters: Filters::default(),
            });
        }
    }
    Ok(out)
}

/// The file's `views:`: each a name (`[a-z0-9_-]`, unique), optional
/// campaigns (none: every campaign), an optional window and the filters.
pub(super) fn views(file_views: Vec<FileView>) -> Result<Vec<View>, ConfigError> {
    let mut out: Vec<View> = Vec::new();
    for (i, v) in file_views.into_iter().enumerate() {
        let field = |f: &str| format!("views[{i}].{f}");
        check_name(&v.name).map_err(|reason| invalid(field("name"), reason))?;
        if out.iter().any(|o| o.name == v.name) {
            return Err(invalid(
                field("name"),
                format!("{:?} is the name of another view: names are unique", v.name),
            ));
        }
        let mut campaigns: Vec<Uuid> = Vec::with_capacity(v.campaigns.len());
        for (j, uuid) in v.campaigns.into_iter().enumerate() {
            if campaigns.contains(&uuid) {
                return Err(invalid(
                    field(&format!("campaigns[{j}]")),
                    format!("{uuid} is listed twice"),
                ));
            }
            campaigns.push(uuid);
        }
        let window = v.window.map(|w| w.0);
        out.push(View {
            name: v.name,
            campaigns,
            window,
            filters: filters(&field, window, v.filters)?,
        });
    }
    Ok(out)
}

/// The views `--demo` runs when the file gives none: the demo data's
/// custom field `perfil`, both of its values, across every campaign (the
/// API document's Caso 1, without its dates).
pub(super) fn demo_views() -> Vec<View> {
    [("pj", "Pessoa Jurídica"), ("pf", "Pessoa Física")]
        .into_iter()
        .map(|(name, value)| View {
            name: name.to_string(),
            campaigns: Vec::new(),
            window: None,
            filters: Filters {
                conversation_field: Some(("perfil".to_string(), value.to_string())),
                ..Filters::default()
            },
        })
        .collect()
}

/// A view's name: a label value that is also a word in URLs and file
/// names, 1 to 64 of `[a-z0-9_-]`.
fn check_name(name: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?}: 1 to 64 characters of a-z, 0-9, _ and - (it becomes the view label)"
        ))
    }
}

/// A campaign's or view's filters, checked with its `window`; `field`
/// names a key under the entry.
fn filters(
    field: &dyn Fn(&str) -> String,
    window: Option<Duration>,
    f: FileFilters,
) -> Result<Filters, ConfigError> {
    let conversation_field = match (f.conversation_field_key, f.conversation_field_value) {
        (Some(k), Some(v)) => Some((k, v)),
        (None, None) => None,
        (Some(_), None) => {
            return Err(invalid(
                field("filters.conversation_field_key"),
                "needs filters.conversation_field_value too",
            ));
        }
        (None, Some(_)) => {
            return Err(invalid(
                field("filters.conversation_field_value"),
                "needs filters.conversation_field_key too",
            ));
        }
    };
    if let Some(w) = window {
        positive(&field("window"), w)?;
    }
    if window.is_some() && (f.start.is_some() || f.end.is_some()) {
        return Err(invalid(
            field("window"),
            "conflicts with filters.start/filters.end: give one or the other",
        ));
    }
    if let (Some(s), Some(e)) = (f.start, f.end)
        && s > e
    {
        return Err(invalid(field("filters.start"), "is after filters.end"));
    }
    for (key, value) in [
        ("state", &f.state),
        ("timezone", &f.timezone),
        (
            "conversation_field_key",
            &conversation_field.as_ref().map(|c| c.0.clone()),
        ),
    ] {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            return Err(invalid(
                field(&format!("filters.{key}")),
                "must not be empty",
            ));
        }
    }
    Ok(Filters {
        state: f.state,
        template_uuid: f.template_uuid,
        timezone: f.timezone,
        conversation_field,
        phone_number: f.phone_number,
        name: f.name,
        start: f.start,
        end: f.end,
    })
}
