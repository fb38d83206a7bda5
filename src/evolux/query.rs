//! The query string of a report request: `campaigns[]`, the campaign's
//! filters and its insertion window as `start`/`end`.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use crate::config::CampaignConfig;

/// The report endpoint, relative to the base URL.
pub const REPORT_PATH: &str = "api/v1/reports/campaign/subscribers";

/// Query parameters, in a stable order. Values may be personal data
/// (`phone_number`, `name`, `conversation_field_value`): never log them.
pub fn params(
    campaign: Option<&CampaignConfig>,
    window: Option<Duration>,
    now: DateTime<Utc>,
) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(c) = campaign {
        out.push(("campaigns[]", c.uuid.to_string()));
    }
    if let Some(w) = window {
        let start = chrono::Duration::from_std(w)
            .ok()
            .and_then(|w| now.checked_sub_signed(w))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        out.push(("start", iso(start)));
        out.push(("end", iso(now)));
    }
    let Some(c) = campaign else { return out };
    let f = &c.filters;
    if window.is_none() {
        if let Some(s) = f.start {
            out.push(("start", iso(s.with_timezone(&Utc))));
        }
        if let Some(e) = f.end {
            out.push(("end", iso(e.with_timezone(&Utc))));
        }
    }
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

/// The API document's date format: `2024-08-03T03:00:00.000Z`.
fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Filters;
    use chrono::TimeZone;

    fn campaign(filters: Filters) -> CampaignConfig {
        CampaignConfig {
            uuid: "f45d98dc-ac5e-48f2-9c01-ebe18f86d28b".parse().unwrap(),
            name: None,
            window: None,
            filters,
        }
    }

    #[test]
    fn window_becomes_start_and_end_in_the_documents_format() {
        let now = Utc.with_ymd_and_hms(2024, 9, 6, 12, 0, 0).unwrap();
        let p = params(
            Some(&campaign(Filters::default())),
            Some(Duration::from_secs(86400)),
            now,
        );
        assert_eq!(
            p,
            vec![
                (
                    "campaigns[]",
                    "f45d98dc-ac5e-48f2-9c01-ebe18f86d28b".to_string()
                ),
                ("start", "2024-09-05T12:00:00.000Z".to_string()),
                ("end", "2024-09-06T12:00:00.000Z".to_string()),
            ]
        );
    }

    #[test]
    fn every_filter_is_sent() {
        let now = Utc.with_ymd_and_hms(2024, 9, 6, 12, 0, 0).unwrap();
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
        let p = params(Some(&campaign(f)), None, now);
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
        assert_eq!(p[1].1, "2024-09-05T03:00:00.000Z");
    }

    #[test]
    fn discovery_sends_only_the_window() {
        let now = Utc.with_ymd_and_hms(2024, 9, 6, 12, 0, 0).unwrap();
        assert!(params(None, None, now).is_empty());
        assert_eq!(params(None, Some(Duration::from_secs(60)), now).len(), 2);
    }
}
