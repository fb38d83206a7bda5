//! Render benchmark: a snapshot of 10 000 and of 100 000 series into
//! exposition bytes (text and gzip), as a poll does once.
//!
//! Run: `cargo bench --bench render`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use evolux_exporter::metrics::{SelfMetrics, render};
use evolux_exporter::model::{CampaignCounts, CampaignStatus, Snapshot, StateCounts};

/// A snapshot with `campaigns` × 20 templates × 6 states series, names on all.
fn snapshot(campaigns: usize) -> Snapshot {
    let templates: Vec<String> = (0..20)
        .map(|t| format!("70f4ddb6-ece1-4e13-ab90-3698d9d7{t:04x}"))
        .collect();
    let mut s = Snapshot {
        up: Some(true),
        ..Snapshot::default()
    };
    for t in &templates {
        s.template_names.insert(t.clone(), format!("Template {t}"));
    }
    for c in 0..campaigns {
        let counts = CampaignCounts {
            templates: templates
                .iter()
                .map(|t| (t.as_str().into(), StateCounts::default()))
                .collect::<BTreeMap<_, _>>(),
        };
        s.campaigns.insert(
            format!("f45d98dc-ac5e-48f2-9c01-{c:012x}"),
            CampaignStatus {
                name: Some(format!("Campanha {c}")),
                up: true,
                last_success: Some(SystemTime::now()),
                poll_duration: Some(Duration::from_millis(1234)),
                counts: Some(Arc::new(counts)),
                error: None,
                segments: 6,
                refreshed: Some(SystemTime::now()),
                failing_since: None,
            },
        );
    }
    s
}

fn main() {
    let runs: usize = std::env::var("RENDER_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(11);
    let self_metrics = SelfMetrics::new(1800.0).expect("self-metrics");
    println!("| series | median render (text + gzip) | text bytes | gzip bytes |");
    println!("|---|---|---|---|");
    for (campaigns, target_ms) in [(84usize, 20u128), (834, 250)] {
        let s = snapshot(campaigns);
        let series = campaigns * 20 * 6;
        let mut times = Vec::with_capacity(runs);
        let mut last = None;
        for _ in 0..runs {
            let t = Instant::now();
            let e = render(&s, &self_metrics);
            times.push(t.elapsed());
            last = Some(e);
        }
        times.sort();
        let median = times[runs / 2];
        let e = last.expect("at least one run");
        println!(
            "| {series} | {:.1} ms (target < {target_ms} ms) | {} | {} |",
            median.as_secs_f64() * 1e3,
            e.plain.len(),
            e.gzip.len()
        );
    }
}
