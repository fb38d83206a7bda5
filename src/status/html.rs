//! The status page's building blocks: escaping, the page head and its
//! style, the state bar and legend, and how times and sizes read.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use super::STATE_COLOURS;

/// `text` safe inside HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#111827;background:#fff}\
header,main{max-width:1100px;margin:0 auto;padding:0 16px}\
header{padding-top:12px;border-bottom:1px solid #e5e7eb}\
h1{font-size:1.5em;margin:.3em 0}h2{font-size:1.2em;margin:1.2em 0 .4em}h3{font-size:1em;margin:0 0 .3em;overflow-wrap:anywhere}\
code{font-size:.85em;color:#374151}nav{margin:.4em 0 .8em}a{color:#1d4ed8}\
.ok{color:#15803d;font-weight:600}.bad{color:#b91c1c;font-weight:600}.muted{color:#4b5563}\
.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:.3em 0}.facts dt{color:#4b5563}.facts dd{margin:0}\
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:12px}\
.campaign,.view{border:1px solid #d1d5db;border-left:6px solid #15803d;border-radius:6px;padding:10px 12px}\
.campaign.failing,.view.failing{border-left-color:#b91c1c}\
.bar{display:flex;height:18px;border-radius:3px;overflow:hidden;background:#e5e7eb;margin:.4em 0}\
.bar span{display:block;height:100%}\
.counts,.legend{list-style:none;padding:0;margin:.2em 0;display:flex;flex-wrap:wrap;gap:4px 12px;font-size:.9em}\
.swatch{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin-right:4px;vertical-align:-1px}\
small{color:#4b5563;overflow-wrap:anywhere}\
@media (max-width:480px){body{font-size:14px}.cards{grid-template-columns:1fr}}";

/// The document's head, and an optional refresh every `refresh` seconds.
pub fn head(out: &mut String, refresh: Option<u32>) {
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<link rel=\"icon\" href=\"data:,\">\n");
    if let Some(n) = refresh {
        let _ = writeln!(out, "<meta http-equiv=\"refresh\" content=\"{n}\">");
    }
    let _ = write!(
        out,
        "<title>Evolux Exporter</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
    );
}

fn colour(state: &str) -> &'static str {
    STATE_COLOURS
        .iter()
        .find(|(s, _)| *s == state)
        .map_or("#9ca3af", |(_, c)| c)
}

/// The legend of the six states' colours.
pub fn legend(out: &mut String) {
    out.push_str("<ul class=\"legend\" aria-label=\"states\">");
    for (state, c) in STATE_COLOURS {
        let _ = write!(
            out,
            "<li><span class=\"swatch\" style=\"background:{c}\"></span>{state}</li>"
        );
    }
    out.push_str("</ul>\n");
}

/// A horizontal bar of the subscribers by state (the numbers on hover),
/// and the same numbers in text.
pub fn bar(out: &mut String, states: &[(String, u64)]) {
    let total: u64 = states.iter().map(|(_, n)| n).sum();
    let _ = write!(
        out,
        "<div class=\"bar\" role=\"img\" aria-label=\"{total} subscribers by state\">"
    );
    for (state, n) in states.iter().filter(|(_, n)| *n > 0) {
        let share = *n as f64 * 100.0 / total as f64;
        let _ = write!(
            out,
            "<span style=\"width:{share:.3}%;background:{}\" title=\"{}: {n} ({share:.1}%)\"></span>",
            colour(state),
            escape(state)
        );
    }
    let _ = write!(
        out,
        "</div>\n<ul class=\"counts\"><li>total <b data-total=\"{total}\">{total}</b></li>"
    );
    for (state, n) in states {
        let state = escape(state);
        let _ = write!(
            out,
            "<li data-state=\"{state}\" data-count=\"{n}\"><span class=\"swatch\" style=\"background:{}\"></span>{state} {n}</li>",
            colour(&state)
        );
    }
    out.push_str("</ul>\n");
}

/// `d` as a person reads it: `2d 3h`, `4m 10s`, `850ms`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => format!("{}ms", d.as_millis()),
        1..=59 => format!("{:.1}s", d.as_secs_f64()),
        60..=3599 => format!("{}m {}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// How long before `now` `t` was ("just now" for the future).
pub fn ago(now: SystemTime, t: SystemTime) -> String {
    match now.duration_since(t) {
        Ok(d) => format!("{} ago", human_duration(d)),
        Err(_) => "just now".to_string(),
    }
}

/// `t` in UTC, to the second (RFC 3339).
pub fn timestamp(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y-%m-%d %H:%M:%SZ")
        .to_string()
}

/// A byte count in binary units.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut unit = "B";
    for u in UNITS {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}
