//! The query string of a report request: `campaigns[]`, the target's
//! filters and its insertion window as `start`/`end`.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::model::Query;
use crate::model::{Axis, AxisStart, Millis, Range};

/// The report endpoint, relative to the base URL.
pub const REPORT_PATH: &str = "api/v1/reports/campaign/subscribers";

/// Query parameters, in a stable order: `campaigns[]` (each of a view's),
/// the read's insertion range as `start`/`end` (inclusive milliseconds,
/// UTC), then the target's filters. Values may be personal data
/// (`phone_number`, `name`, `conversation_field_value`): never log them.
/// The target's own fixed `start`/`end` are part of the range already (see
/// [`axis`]).
pub fn params(query: &Query, range: Range) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for uuid in query.campaigns() {
        out.push(("campaigns[]", uuid.to_string()));
    }
    if let Some(s) = range.start {
        out.push(("start", iso_millis(s)));
    }
    if let Some(e) = range.end {
        out.push(("end", iso_millis(e)));
    }
    let Some(f) = query.filters() else {
        return out;
    };
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

/// The insertion-time axis a target counts on: its sliding window (a
/// campaign's or view's, resolved; discovery's `default`), else its fixed
/// `start`/`end` filters, else all time.
pub fn axis(query: &Query, default: Option<Duration>) -> Axis {
    let window = match query {
        Query::Campaign(c) => c.window,
        Query::View(v) => v.window,
        Query::Discovery => default,
    };
    if let Some(w) = window {
        return Axis {
            start: AxisStart::Window(w),
            end: None,
        };
    }
    let f = query.filters();
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
    use crate::model::{Campaign, Filters, View};

    fn campaign(filters: Filters) -> Query {
        Query::Campaign(Campaign {
            uuid: "f45d98dc-ac5e-48f2-9c01-ebe18f86d28b".parse().unwrap(),
            name: None,
            window: None,
            filters,
        })
    }

    #[test]
    fn a_range_becomes_start_and_end_in_the_documents_format() {
        // The document's own example: a day in São Paulo, to the last millisecond.
        let start = "2024-08-03T03:00:00.000Z".parse::<DateTime<Utc>>().unwrap();
        let p = params(
            &campaign(Filters::default()),
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
        let a = axis(&c, Some(Duration::from_secs(60)));
        let start = a.start_at(0);
        assert_eq!(
            start.map(iso_millis).as_deref(),
            Some("2024-09-05T03:00:00.000Z")
        );
        assert_eq!(a.end, None);
        let p = params(&c, Range { start, end: None });
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
        let a = axis(&Query::Discovery, Some(Duration::from_secs(60)));
        assert_eq!(a.start_at(120_000), Some(60_000));
        let all = Range {
            start: None,
            end: None,
        };
        assert!(params(&Query::Discovery, all).is_empty());
        assert_eq!(axis(&Query::Discovery, None), Axis::ALL);
    }

    #[test]
    fn a_view_sends_each_of_its_campaigns_then_its_filters_and_slides_its_own_window() {
        let uuids = [
            "f45d98dc-ac5e-48f2-9c01-ebe18f86d28b",
            "3c7a1f0e-2b44-4d5e-9f61-0a1b2c3d4e5f",
        ];
        let view = |campaigns: &[&str], window| {
            Query::View(View {
                name: "pj".into(),
                campaigns: campaigns.iter().map(|u| u.parse().unwrap()).collect(),
                window,
                filters: Filters {
                    conversation_field: Some(("perfil".into(), "Pessoa Jurídica".into())),
                    ..Filters::default()
                },
            })
        };
        let all = Range {
            start: None,
            end: None,
        };
        let p = params(&view(&uuids, None), all);
        assert_eq!(
            p,
            vec![
                ("campaigns[]", uuids[0].to_string()),
                ("campaigns[]", uuids[1].to_string()),
                ("conversation_field_key", "perfil".to_string()),
                ("conversation_field_value", "Pessoa Jurídica".to_string()),
            ]
        );
        // Every campaign: no campaigns[] at all.
        assert_eq!(params(&view(&[], None), all).len(), 2);
        // Its own window, not discovery's default.
        let a = axis(
            &view(&[], Some(Duration::from_secs(10))),
            Some(Duration::from_secs(60)),
        );
        assert_eq!(a.start_at(120_000), Some(110_000));
        assert_eq!(
            axis(&view(&[], None), Some(Duration::from_secs(60))),
            Axis::ALL
        );
    }
}
