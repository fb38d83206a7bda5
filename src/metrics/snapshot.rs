//! The families that describe the API's data: each campaign's counts,
//! health, freshness and cost, and each view's beside them
//! (`evolux_view_*`, and the campaigns' freshness and cost families with a
//! `view` label where they have a `campaign` one). Pure.

use std::collections::BTreeMap;
use std::sync::Arc;

use prometheus::proto::{MetricFamily, MetricType};

use super::{REFRESH_NOTE, family, gauge, unix_seconds};
use crate::model::{CampaignCounts, CampaignStatus, Snapshot};

/// The families that describe the API's data. Pure.
pub fn snapshot_families(s: &Snapshot) -> Vec<MetricFamily> {
    let [
        info,
        up,
        mut last,
        mut duration,
        mut segments,
        mut refreshed,
    ] = campaign_families(s);
    let mut view_up = family(
        "evolux_view_up",
        "1 when the view's last poll succeeded, else 0.",
        MetricType::GAUGE,
    );
    for (view, v) in &s.views {
        let label = [("view", view.as_str())];
        view_up
            .mut_metric()
            .push(gauge(&label, f64::from(u8::from(v.status.up))));
        health_series(
            &v.status,
            &label,
            [&mut last, &mut duration, &mut segments, &mut refreshed],
        );
    }
    let mut templates = family(
        "evolux_template_info",
        "Template names, where known (records); always 1.",
        MetricType::GAUGE,
    );
    for (template, name) in &s.template_names {
        templates.mut_metric().push(gauge(
            &[("template", template), ("template_name", name)],
            1.0,
        ));
    }
    let mut evolux_up = family(
        "evolux_up",
        "1 when the last poll of every campaign and view succeeded, else 0.",
        MetricType::GAUGE,
    );
    if let Some(ok) = s.up {
        evolux_up
            .mut_metric()
            .push(gauge(&[], f64::from(u8::from(ok))));
    }
    let mut dropped = family(
        "evolux_series_dropped",
        "evolux_campaign_subscribers and evolux_view_subscribers series left out of the last poll's snapshot by poll.max_series.",
        MetricType::GAUGE,
    );
    dropped
        .mut_metric()
        .push(gauge(&[], s.series_dropped as f64));
    [
        subscriber_family(s),
        view_subscriber_family(s),
        view_up,
        info,
        templates,
        evolux_up,
        up,
        last,
        duration,
        segments,
        refreshed,
        dropped,
    ]
    .into_iter()
    .filter(|f| !f.get_metric().is_empty())
    .collect()
}

/// `evolux_campaign_subscribers`: every campaign's counts.
fn subscriber_family(s: &Snapshot) -> MetricFamily {
    let mut subscribers = family(
        "evolux_campaign_subscribers",
        &format!(
            "Subscribers of the campaign (inserted within its window) by template and state. {REFRESH_NOTE}"
        ),
        MetricType::GAUGE,
    );
    for (campaign, status) in &s.campaigns {
        if let Some(counts) = &status.counts {
            push_counts(&mut subscribers, &[("campaign", campaign)], counts);
        }
    }
    subscribers
}

/// `evolux_view_subscribers`: every view's counts, by the records'
/// campaign.
fn view_subscriber_family(s: &Snapshot) -> MetricFamily {
    let mut subscribers = family(
        "evolux_view_subscribers",
        &format!(
            "Subscribers the view's query finds (its filters, inserted within its window), by the records' campaign, template and state. {REFRESH_NOTE}"
        ),
        MetricType::GAUGE,
    );
    for (view, status) in &s.views {
        let by_campaign: &BTreeMap<String, Arc<CampaignCounts>> = match &status.counts {
            Some(c) => c,
            None => continue,
        };
        for (campaign, counts) in by_campaign {
            push_counts(
                &mut subscribers,
                &[("view", view), ("campaign", campaign)],
                counts,
            );
        }
    }
    subscribers
}

/// One series per template and state of `counts`, after `labels`.
fn push_counts(f: &mut MetricFamily, labels: &[(&str, &str)], counts: &CampaignCounts) {
    for (template, states) in &counts.templates {
        for (state, n) in states.iter() {
            let mut all = labels.to_vec();
            all.extend([("template", &**template), ("state", state)]);
            f.mut_metric().push(gauge(&all, n as f64));
        }
    }
}

/// The per-campaign families besides the counts: info, up, last success,
/// poll duration, segments, refreshed.
fn campaign_families(s: &Snapshot) -> [MetricFamily; 6] {
    let mut info = family(
        "evolux_campaign_info",
        "Campaign names, where known (config or records); always 1.",
        MetricType::GAUGE,
    );
    let mut up = family(
        "evolux_campaign_up",
        "1 when the campaign's last poll succeeded, else 0.",
        MetricType::GAUGE,
    );
    let mut last = family(
        "evolux_campaign_last_success_timestamp_seconds",
        "Unix time of the end of the campaign's (or view's) last successful poll.",
        MetricType::GAUGE,
    );
    let mut duration = family(
        "evolux_poll_duration_seconds",
        "How long the campaign's (or view's) last poll took, pages and retries included.",
        MetricType::GAUGE,
    );
    let mut segments = family(
        "evolux_campaign_segments",
        "Insertion-time segments held for the campaign or view (1 when it is read whole).",
        MetricType::GAUGE,
    );
    let mut refreshed = family(
        "evolux_campaign_refreshed_timestamp_seconds",
        "Unix time by which every segment of the campaign (or view) had last been read: time() minus it is its worst staleness.",
        MetricType::GAUGE,
    );
    for (campaign, status) in &s.campaigns {
        let label = [("campaign", campaign.as_str())];
        if let Some(name) = &status.name {
            info.mut_metric().push(gauge(
                &[("campaign", campaign), ("campaign_name", name)],
                1.0,
            ));
        }
        up.mut_metric()
            .push(gauge(&label, f64::from(u8::from(status.up))));
        health_series(
            status,
            &label,
            [&mut last, &mut duration, &mut segments, &mut refreshed],
        );
    }
    [info, up, last, duration, segments, refreshed]
}

/// A campaign's or view's last success, poll duration, segments and
/// refreshed time, labelled `label`, into those four families.
fn health_series(
    status: &CampaignStatus,
    label: &[(&str, &str)],
    families: [&mut MetricFamily; 4],
) {
    let [last, duration, segments, refreshed] = families;
    if let Some(t) = status.last_success {
        last.mut_metric().push(gauge(label, unix_seconds(t)));
    }
    if let Some(d) = status.poll_duration {
        duration.mut_metric().push(gauge(label, d.as_secs_f64()));
    }
    if status.segments > 0 {
        segments
            .mut_metric()
            .push(gauge(label, status.segments as f64));
    }
    if let Some(t) = status.refreshed {
        refreshed.mut_metric().push(gauge(label, unix_seconds(t)));
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::metrics::{SelfMetrics, Subject, render};
    use crate::model::{Failure, Reason, Tally, ViewStatus};

    /// A view `pj` that counted two campaigns, and a failing view `pf`
    /// with no counts yet.
    fn snapshot() -> Snapshot {
        let layout = crate::evolux::fields::ResponseLayout::default();
        let mut t = Tally::new(None, 1000);
        for rec in [
            r#"{"state":"sent","template_uuid":"t1","campaign_uuid":"c1"}"#,
            r#"{"state":"error","template_uuid":"t1","campaign_uuid":"c2"}"#,
        ] {
            t.add(&layout.extract(rec.as_bytes()).unwrap().unwrap());
        }
        let (counted, _) = t.into_campaigns();
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let pj = ViewStatus {
            status: CampaignStatus {
                up: true,
                last_success: Some(at),
                poll_duration: Some(Duration::from_millis(250)),
                segments: 3,
                refreshed: Some(at),
                ..CampaignStatus::default()
            },
            counts: Some(
                counted
                    .into_iter()
                    .map(|(c, counts, _)| (c, Arc::new(counts)))
                    .collect(),
            ),
        };
        let pf = ViewStatus {
            status: CampaignStatus {
                up: false,
                error: Some(Failure::new(Reason::ServerError, "HTTP 500")),
                ..CampaignStatus::default()
            },
            counts: None,
        };
        Snapshot {
            views: [("pj".to_string(), pj), ("pf".to_string(), pf)].into(),
            up: Some(false),
            ..Snapshot::default()
        }
    }

    #[test]
    fn views_are_exported_beside_the_campaigns_with_a_view_label() {
        let m = SelfMetrics::new(1800.0).unwrap();
        m.poll
            .poll_error(&Subject::View("pf".into()), Reason::ServerError);
        m.poll
            .poll_error(&Subject::Campaign("c9".into()), Reason::Timeout);
        m.poll.verification_mismatch(&Subject::View("pj".into()));
        let text = String::from_utf8(render(&snapshot(), &m).plain.to_vec()).unwrap();
        for line in [
            r#"evolux_view_subscribers{view="pj",campaign="c1",template="t1",state="sent"} 1"#,
            r#"evolux_view_subscribers{view="pj",campaign="c2",template="t1",state="error"} 1"#,
            r#"evolux_view_up{view="pj"} 1"#,
            r#"evolux_view_up{view="pf"} 0"#,
            r#"evolux_campaign_last_success_timestamp_seconds{view="pj"} 1700000000"#,
            r#"evolux_poll_duration_seconds{view="pj"} 0.25"#,
            r#"evolux_campaign_segments{view="pj"} 3"#,
            r#"evolux_campaign_refreshed_timestamp_seconds{view="pj"} 1700000000"#,
            // The registry orders its labels by name.
            r#"evolux_campaign_poll_errors_total{reason="server_error",view="pf"} 1"#,
            r#"evolux_campaign_poll_errors_total{campaign="c9",reason="timeout"} 1"#,
            r#"evolux_campaign_verification_mismatches_total{view="pj"} 1"#,
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        // 6 states × 2 (campaign, template) pairs; nothing inside the
        // campaigns' own families; each family's HELP and TYPE said once.
        assert_eq!(text.matches("evolux_view_subscribers{").count(), 12);
        assert!(!text.contains("evolux_campaign_subscribers{"));
        assert!(!text.contains("evolux_campaign_up{"));
        for family in [
            "evolux_campaign_poll_errors_total",
            "evolux_campaign_verification_mismatches_total",
        ] {
            assert_eq!(
                text.matches(&format!("# TYPE {family} ")).count(),
                1,
                "{family}"
            );
        }
    }

    #[test]
    fn the_series_cap_reaches_views_after_the_campaigns() {
        let capped = snapshot().cap_series(6);
        assert_eq!((capped.series_dropped, capped.records_dropped), (6, 1));
        let kept: usize = capped.views["pj"]
            .counts
            .as_ref()
            .unwrap()
            .values()
            .map(|c| c.templates.len())
            .sum();
        assert_eq!(kept, 1);
    }
}
