//! The query string of a report request: `campaigns[]`, the campaign's
//! filters and its insertion window as `start`/`end`.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::model::Campaign;
use crate::model::{Axis, AxisStart, Millis, Range};

/// The report endpoint, relative to the base URL.
pub const REPORT_PATH: &str = "api/v1/reports/campaign/subscribers";

/// Query parameters, in a stable order: `campaigns[]`, the read's
/// insertion range as `start`/`end` (inclusive milliseconds, UTC), then the
/// campaign's filters. Values may be personal data (`phone_number`, `name`,
/// `conversation_field_value`): never log them. The campaign's own fixed
/// `start`/`end` are part of the range already (see [`axis`]).
pub fn params(campaign: Option<&Campaign>, range: Range) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(c) = campaign {
        out.push(("campaigns[]", c.uuid.to_string()));
    }
    if let Some(s) = range.start {
        out.push(("start", iso_millis(s)));
    }
    if let Some(e) = range.end {
        out.push(("end", iso_millis(e)));
    }
    let Some(c) = campaign else { return out };
    let f = &c.filters;
    if let Some(s) = &f.state {
        out.push(("state", s.clone()));
    }
    if let Some(t) = &f.template_uuid {
        out.push(("template_uuid", t.to_string()));
    }
    if let Some(tz) = &f.timezone {
        out.push(("timezone", tz.clone()));
    }
    if let Some((k, v)) = &f.conversation_field {
        out.push(("conversation_field_key", k.clone()));
        out.push(("conversation_field_value", v.clone()));
    }
    if let Some(p) = &f.phone_number {
        out.push(("phone_number", p.clone()));
    }
    if let Some(n) = &f.name {
        out.push(("name", n.clone()));
    }
    out
}

/// The insertion-time axis a target counts on: a sliding `window`, else
/// the campaign's fixed `start`/`end` filters, else all time.
pub fn axis(campaign: Option<&Campaign>, window: Option<Duration>) -> Axis {
    if let Some(w) = window {
        return Axis {
            start: AxisStart::Window(w),
            end: None,
        };
    }
    let f = campaign.map(|c| &c.filters);
    let ms = |t: &DateTime<chrono::FixedOffset>| t.timestamp_millis();
    Axis {
        start: AxisStart::Fixed(f.and_then(|f| f.start.as_ref()).map(ms)),
        end: f.and_then(|f| f.end.as_ref()).map(ms),
    }
}

/// Milliseconds since the epoch in the document's format, e.g.
/// `2024-08-04T02:59:59.999Z`.
pub fn iso_millis(ms: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Filters;

    fn campaign(filters: Filters) -> Campaign {
        Campaign {
            uuid: "f45d98dc-ac5e-48f2-9c01-ebe18f86d28b".parse().unwrap(),
            name: None,
            window: None,
            filters,
        }
    }

    #[test]
    fn a_range_becomes_start_and_end_in_the_documents_format() {
        // The document's own example: a day in São Paulo, to the last millisecond.
        let start = "2024-08-03T03:00:00.000Z".parse::<DateTime<Utc>>().unwrap();
        let p = params(
            Some(&campaign(Filters::default())),
            Range {
                start: Some(start.timestamp_millis()),
                end: Some(start.timestamp_millis() + 86_400_000 - 1),
            },
        );
        assert_eq!(
            p,
            vec![
                (
                    "campaigns[]",
                    "f45d98dc-ac5e-48f2-9c01-ebe18f86d28b".to_string()
                ),
                ("start", "2024-08-03T03:00:00.000Z".to_string()),
                ("end", "2024-08-04T02:59:59.999Z".to_string()),
            ]
        );
    }

    #[test]
    fn every_filter_is_sent_and_fixed_bounds_make_the_axis() {
        let f = Filters {
            state: Some("error".into()),
            template_uuid: Some("70f4ddb6-ece1-4e13-ab90-3698d9d72bf0".parse().unwrap()),
            timezone: Some("America/Sao_Paulo".into()),
            conversation_field: Some(("perfil".into(), "Pessoa Jurídica".into())),
            phone_number: Some("1199881122".into()),
            name: Some("Maria do Carmo".into()),
            start: Some("2024-09-05T00:00:00-03:00".parse().unwrap()),
            end: None,
        };
        let c = campaign(f);
        let a = axis(Some(&c), None);
        let start = a.start_at(0);
        assert_eq!(
            start.map(iso_millis).as_deref(),
            Some("2024-09-05T03:00:00.000Z")
        );
        assert_eq!(a.end, None);
        let p = params(Some(&c), Range { start, end: None });
        let keys: Vec<&str> = p.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            keys,
            [
                "campaigns[]",
                "start",
                "state",
                "template_uuid",
                "timezone",
                "conversation_field_key",
                "conversation_field_value",
                "phone_number",
                "name"
            ]
        );
    }

    #[test]
    fn a_window_slides_and_discovery_sends_only_the_range() {
        let a = axis(None, Some(Duration::from_secs(60)));
        assert_eq!(a.start_at(120_000), Some(60_000));
        let all = Range {
            start: None,
            end: None,
        };
        assert!(params(None, all).is_empty());
        assert_eq!(axis(None, None), Axis::ALL);
    }
}
