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
