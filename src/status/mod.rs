//! The status page at `/`: what a person needs at a glance, from the
//! current snapshot (never from the API): the exporter (version, uptime,
//! last poll, readiness, limits), one card per campaign (health and the
//! last failure's reason, freshness, segments, a bar of its subscribers by
//! state, completion and error ratio), and one card per view (the same, its
//! subscribers summed over the campaigns it found, and how many those are).
//! A view is shown by its name only: the snapshot holds none of its filter
//! values, and the page prints none.
//!
//! Plain HTML and inline CSS: no JavaScript, nothing from the internet.
//! Every text that comes from the API or the configuration is escaped
//! ([`html::escape`]). Pure: the server renders it at most once per poll.

pub mod html;

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use crate::build_info::BuildInfo;
use crate::model::{CampaignCounts, CampaignStatus, STATES, Snapshot, ViewStatus};
use html::{ago, escape, human_duration, timestamp};

/// The last poll, as the page shows it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PollFacts {
    /// When it ended.
    pub ended: SystemTime,
    /// How long it took.
    pub duration: Duration,
    /// Reads it made.
    pub reads: usize,
    /// Reads that failed.
    pub failed_reads: usize,
    /// Records counted.
    pub records: u64,
    /// Body bytes received, as on the wire.
    pub bytes: u64,
}

/// Everything the page shows besides the snapshot.
#[derive(Debug, Clone)]
pub struct PageFacts<'a> {
    /// Version and build.
    pub build: &'a BuildInfo,
    /// When the process started.
    pub started: SystemTime,
    /// When the page is rendered.
    pub now: SystemTime,
    /// The last poll; `None` before the first.
    pub last_poll: Option<PollFacts>,
    /// Whether the first poll has finished.
    pub ready: bool,
    /// The configured limits, by flag name, as they read.
    pub limits: &'a [(String, String)],
    /// The metrics path.
    pub telemetry_path: &'a str,
    /// The API's proxy and where it was set, as `--config.check` shows it
    /// (never its credentials), e.g. `http://proxy.corp:3128 (from
    /// HTTPS_PROXY)` or `none`.
    pub proxy: &'a str,
}

/// The six states' colours: distinct, and each at least 3:1 against the
/// white page (graphics), with the counts also in text.
pub const STATE_COLOURS: [(&str, &str); 6] = [
    ("pending", "#6b7280"),
    ("scheduled", "#2563eb"),
    ("sent", "#0e7490"),
    ("dnd", "#a16207"),
    ("completed", "#15803d"),
    ("error", "#b91c1c"),
];

/// The page. `refresh`: reload it every so many seconds.
pub fn render(snapshot: &Snapshot, facts: &PageFacts<'_>, refresh: Option<u32>) -> String {
    let mut out = String::with_capacity(16 * 1024);
    html::head(&mut out, refresh);
    exporter_section(&mut out, snapshot, facts);
    campaigns_section(&mut out, snapshot, facts.now);
    views_section(&mut out, snapshot, facts.now);
    limits_section(&mut out, facts);
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn exporter_section(out: &mut String, snapshot: &Snapshot, f: &PageFacts<'_>) {
    let uptime = f.now.duration_since(f.started).unwrap_or_default();
    let failing = snapshot.failed().count();
    let failing_views = snapshot.views.values().filter(|v| !v.status.up).count();
    let health = match snapshot.up {
        Some(true) if snapshot.views.is_empty() => {
            "<span class=\"ok\">every campaign up</span>".to_string()
        }
        Some(true) => "<span class=\"ok\">every campaign and view up</span>".to_string(),
        Some(false) if failing + failing_views > 0 => {
            let mut parts = Vec::new();
            if failing > 0 || failing_views == 0 {
                parts.push(format!(
                    "{failing} of {} campaigns failing",
                    snapshot.campaigns.len()
                ));
            }
            if failing_views > 0 {
                parts.push(format!(
                    "{failing_views} of {} view{} failing",
                    snapshot.views.len(),
                    if snapshot.views.len() == 1 { "" } else { "s" }
                ));
            }
            format!("<span class=\"bad\">{}</span>", parts.join(", "))
        }
        Some(false) => "<span class=\"bad\">not every campaign has counts yet</span>".to_string(),
        None => "<span class=\"muted\">not polled yet</span>".to_string(),
    };
    let ready = match (f.ready, snapshot.waiting.len()) {
        (true, _) => "<span class=\"ok\">ready</span>".to_string(),
        (false, 0) => {
            "<span class=\"bad\">not ready: not every campaign has been read yet</span>".to_string()
        }
        (false, n) => {
            let views = snapshot
                .waiting
                .iter()
                .filter(|w| w.starts_with("view:"))
                .count();
            let campaigns = n - views;
            let mut parts = Vec::new();
            if campaigns > 0 {
                parts.push(format!(
                    "{campaigns} campaign{}",
                    if campaigns == 1 { "" } else { "s" }
                ));
            }
            if views > 0 {
                parts.push(format!("{views} view{}", if views == 1 { "" } else { "s" }));
            }
            format!(
                "<span class=\"bad\">not ready: {} waiting for a first read</span>",
                parts.join(" and ")
            )
        }
    };
    let path = escape(f.telemetry_path);
    let _ = write!(
        out,
        "<header>\n<h1>Evolux Exporter</h1>\n<p>version {} (revision {}) · up {} · {ready} · {health}</p>\n<nav><a href=\"{path}\">{path}</a> · <a href=\"/healthz\">/healthz</a> · <a href=\"/readyz\">/readyz</a> · docs: metrics.md (the metrics), operations.md (endpoints, alerts, reloading)</nav>\n</header>\n<main>\n",
        escape(f.build.version),
        escape(f.build.revision),
        human_duration(uptime),
    );
    let _ = writeln!(out, "<p id=\"proxy\">API proxy: {}</p>", escape(f.proxy));
    out.push_str("<section id=\"poll\">\n<h2>Last poll</h2>\n");
    match f.last_poll {
        Some(p) => {
            let _ = writeln!(
                out,
                "<dl class=\"facts\"><dt>ended</dt><dd>{} ({})</dd><dt>took</dt><dd>{}</dd><dt>reads</dt><dd data-reads=\"{}\">{} ({} failed)</dd><dt>records</dt><dd data-records=\"{}\">{}</dd><dt>bytes</dt><dd>{}</dd></dl>",
                timestamp(p.ended),
                ago(f.now, p.ended),
                human_duration(p.duration),
                p.reads,
                p.reads,
                p.failed_reads,
                p.records,
                p.records,
                html::bytes(p.bytes)
            );
        }
        None => out.push_str("<p class=\"muted\">no poll has finished yet</p>\n"),
    }
    if snapshot.series_dropped > 0 {
        let _ = writeln!(
            out,
            "<p class=\"bad\">{} series ({} subscribers) left out by --poll.max-series</p>",
            snapshot.series_dropped, snapshot.records_dropped
        );
    }
    out.push_str("</section>\n");
}

fn campaigns_section(out: &mut String, snapshot: &Snapshot, now: SystemTime) {
    let _ = write!(
        out,
        "<section id=\"campaigns\">\n<h2>Campaigns ({})</h2>\n",
        snapshot.campaigns.len()
    );
    html::legend(out);
    if !snapshot.waiting.is_empty() {
        let _ = write!(
            out,
            "<p id=\"waiting\" class=\"bad\" data-waiting=\"{}\">waiting for a first read (no counts yet):",
            snapshot.waiting.len()
        );
        for label in &snapshot.waiting {
            let _ = write!(out, " <code>{}</code>", escape(label));
        }
        out.push_str("</p>\n");
    }
    if snapshot.campaigns.is_empty() {
        out.push_str("<p class=\"muted\">no campaign yet</p>\n");
    }
    out.push_str("<div class=\"cards\">\n");
    for (uuid, status) in &snapshot.campaigns {
        campaign_card(out, uuid, status, now);
    }
    out.push_str("</div>\n</section>\n");
}

/// The counts of one campaign by state, templates summed: the six states,
/// then any other state the API returned.
pub fn by_state(counts: &CampaignCounts) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = STATES.iter().map(|s| (s.to_string(), 0)).collect();
    for template in counts.templates.values() {
        for (state, n) in template.iter() {
            match out.iter_mut().find(|(s, _)| s == state) {
                Some((_, total)) => *total += n,
                None => out.push((state.to_string(), n)),
            }
        }
    }
    out
}

/// Completed and errored subscribers over the processed ones (sent,
/// completed, dnd, error), as the recording rules define the ratios.
pub fn ratios(states: &[(String, u64)]) -> Option<(f64, f64)> {
    let n = |name: &str| {
        states
            .iter()
            .find(|(s, _)| s == name)
            .map_or(0, |(_, v)| *v)
    };
    let processed = n("sent") + n("completed") + n("dnd") + n("error");
    (processed > 0).then(|| {
        let p = processed as f64;
        (n("completed") as f64 / p, n("error") as f64 / p)
    })
}

/// A card's class (`up` or `failing`) and its health line: up, or failing
/// with the first failed read's reason, since when, and its message.
fn health(s: &CampaignStatus, now: SystemTime) -> (&'static str, String) {
    match (&s.error, s.up) {
        (_, true) => ("up", "<span class=\"ok\">up</span>".to_string()),
        (Some(f), false) => (
            "failing",
            format!(
                "<span class=\"bad\">failing: <b data-reason=\"{}\">{}</b>{}</span><br><small>{}</small>",
                f.reason.metric_label(),
                f.reason.metric_label(),
                s.failing_since
                    .map(|t| format!(" since {} ({})", timestamp(t), ago(now, t)))
                    .unwrap_or_default(),
                escape(&f.message)
            ),
        ),
        (None, false) => ("failing", "<span class=\"bad\">down</span>".to_string()),
    }
}

/// A card's freshness and cost: last success, staleness, segments, then
/// `more` (already escaped `<dt>…</dt><dd>…</dd>` pairs).
fn facts(out: &mut String, s: &CampaignStatus, now: SystemTime, more: &str) {
    let freshness = |t: Option<SystemTime>| t.map_or("never".to_string(), |t| ago(now, t));
    let _ = writeln!(
        out,
        "<dl class=\"facts\"><dt>last success</dt><dd>{}</dd><dt>staleness</dt><dd>{}</dd><dt>segments</dt><dd data-segments=\"{}\">{}</dd>{more}</dl>",
        freshness(s.last_success),
        freshness(s.refreshed),
        s.segments,
        s.segments
    );
}

/// A card's counts: the bar by state, completion and error ratio; or why
/// there are none.
fn counts_block(out: &mut String, counts: Option<&CampaignCounts>) {
    match counts {
        Some(counts) => {
            let states = by_state(counts);
            html::bar(out, &states);
            match ratios(&states) {
                Some((done, failed)) => {
                    let _ = writeln!(
                        out,
                        "<p>completion <b data-completion=\"{done:.4}\">{:.1}%</b> · error ratio <b data-error-ratio=\"{failed:.4}\">{:.1}%</b> of the processed</p>",
                        done * 100.0,
                        failed * 100.0
                    );
                }
                None => out.push_str("<p class=\"muted\">nothing processed yet</p>\n"),
            }
        }
        None => out.push_str("<p class=\"muted\">no counts: not read yet, or stale</p>\n"),
    }
}

fn campaign_card(out: &mut String, uuid: &str, s: &CampaignStatus, now: SystemTime) {
    let uuid_e = escape(uuid);
    let name = s.name.as_deref().map_or(String::new(), escape);
    let (class, health) = health(s, now);
    let _ = write!(
        out,
        "<article class=\"campaign {class}\" data-campaign=\"{uuid_e}\">\n<h3>{}<code>{uuid_e}</code></h3>\n<p>{health}</p>\n",
        if name.is_empty() {
            String::new()
        } else {
            format!("{name} ")
        }
    );
    facts(out, s, now, "");
    counts_block(out, s.counts.as_deref());
    out.push_str("</article>\n");
}

/// One card per view, after the campaigns'; no section without views.
fn views_section(out: &mut String, snapshot: &Snapshot, now: SystemTime) {
    if snapshot.views.is_empty() {
        return;
    }
    let _ = write!(
        out,
        "<section id=\"views\">\n<h2>Views ({})</h2>\n<p class=\"muted\">named queries over the API's filters (views: in the configuration file), summed over the campaigns they found</p>\n<div class=\"cards\">\n",
        snapshot.views.len()
    );
    for (name, view) in &snapshot.views {
        view_card(out, name, view, now);
    }
    out.push_str("</div>\n</section>\n");
}

/// A view's card: its name (never its filters), health, freshness, segments,
/// how many campaigns it found, and its subscribers summed over them.
fn view_card(out: &mut String, name: &str, v: &ViewStatus, now: SystemTime) {
    let name_e = escape(name);
    let (class, health) = health(&v.status, now);
    let _ = write!(
        out,
        "<article class=\"view {class}\" data-view=\"{name_e}\">\n<h3>view <code>{name_e}</code></h3>\n<p>{health}</p>\n"
    );
    let summed = v.counts.as_ref().map(|by_campaign| {
        let mut sum = CampaignCounts::default();
        for counts in by_campaign.values() {
            sum.add(counts);
        }
        (by_campaign.len(), sum)
    });
    let found = summed.as_ref().map_or("none yet".to_string(), |(n, _)| {
        format!("<span data-campaigns=\"{n}\">{n}</span>")
    });
    facts(
        out,
        &v.status,
        now,
        &format!("<dt>campaigns</dt><dd>{found}</dd>"),
    );
    counts_block(out, summed.as_ref().map(|(_, sum)| sum));
    out.push_str("</article>\n");
}

fn limits_section(out: &mut String, f: &PageFacts<'_>) {
    out.push_str("<section id=\"limits\">\n<h2>Limits</h2>\n<dl class=\"facts\">");
    for (name, value) in f.limits {
        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", escape(name), escape(value));
    }
    out.push_str("</dl>\n</section>\n");
}

#[cfg(test)]
mod tests;
