//! A [`Diagnosis`] as plain text for a person: one block per campaign,
//! a verdict under each, and an overall line. Key names, counts, states
//! and UUIDs only.

use std::fmt::{self, Display, Formatter, Write as _};
use std::time::Duration;

use super::keys::{KeyNames, field_like};
use super::verdict::Verdict;
use super::{Diagnosis, FieldUse, TargetReport, Tiling, WholeRead};
use crate::evolux::fields::field_key;
use crate::evolux::query::iso_millis;
use crate::model::{INVALID, STATES, UNKNOWN};

/// Most discovered campaigns listed by UUID.
const MAX_CAMPAIGNS_LISTED: usize = 20;

impl Display for Diagnosis {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(f, "evolux-exporter --evolux.diagnose")?;
        writeln!(f, "endpoint: {}", self.endpoint)?;
        let mut bad = 0;
        for t in &self.targets {
            writeln!(f)?;
            let verdict = t.verdict();
            if !verdict.ok() {
                bad += 1;
            }
            write_target(f, t, &verdict)?;
        }
        writeln!(f)?;
        let n = self.targets.len();
        let took = secs(self.elapsed);
        let discovery = matches!(self.targets.as_slice(), [t] if t.campaign.is_none());
        let plural = if n == 1 { "" } else { "s" };
        match (bad, discovery) {
            (0, true) => writeln!(
                f,
                "overall: OK: the exporter can count exactly (discovery, {took})"
            ),
            (0, false) => writeln!(
                f,
                "overall: OK: the exporter can count exactly ({n} campaign{plural}, {took})"
            ),
            (_, true) => writeln!(
                f,
                "overall: NOT OK: discovery cannot be counted exactly; see the fixes above ({took})"
            ),
            (_, false) => writeln!(
                f,
                "overall: NOT OK: {bad} of {n} campaign{plural} cannot be counted exactly; see the fixes above ({took})"
            ),
        }
    }
}

fn write_target(f: &mut Formatter<'_>, t: &TargetReport, verdict: &Verdict) -> fmt::Result {
    match &t.campaign {
        Some(uuid) => writeln!(f, "campaign {uuid}")?,
        None => writeln!(
            f,
            "discovery (no campaign configured: one read without campaigns[])"
        )?,
    }
    if let Ok(read) = &t.read {
        write_read(f, read)?;
    }
    line(f, "start/end", &tiling_text(&t.tiling))?;
    line(f, "time", &secs(t.elapsed))?;
    if verdict.ok() {
        line(f, "verdict", "OK: the exporter can count this exactly")?;
    } else {
        line(f, "verdict", "NOT OK")?;
    }
    for p in &verdict.problems {
        writeln!(f, "    problem: {}", p.what)?;
        writeln!(f, "      fix:   {}", p.fix)?;
    }
    for n in &verdict.notes {
        writeln!(f, "    note:    {n}")?;
    }
    Ok(())
}

fn write_read(f: &mut Formatter<'_>, read: &WholeRead) -> fmt::Result {
    let s = &read.stats;
    let first = match &s.first {
        Some(h) => format!(
            "HTTP {}, content type {}, content encoding {}",
            h.status,
            or_none(&h.content_type),
            or_none(&h.content_encoding)
        ),
        None => "(not reported)".into(),
    };
    line(f, "first response", &first)?;
    line(
        f,
        "records at",
        s.records_at.as_deref().unwrap_or("(not reported)"),
    )?;
    line(f, "record keys", &keys_text(&read.keys, &read.fields))?;
    for (i, u) in read.fields.iter().enumerate() {
        let label = if i == 0 { "fields read" } else { "" };
        let text = format!(
            "{:<14} in {} of {} records, at {}",
            field_key(u.field),
            u.found,
            s.records,
            u.pointers.join(", ")
        );
        line(f, label, &text)?;
    }
    let pagination = match (s.pagination, s.pages) {
        (Some(style), n) => format!("{style}, {n} pages read"),
        (None, 1) => "one page".into(),
        (None, n) => format!("{n} pages read (style not reported)"),
    };
    line(f, "pagination", &pagination)?;
    let stated = match &s.stated_total {
        Some(t) => format!("stated {} (at {})", t.total, t.source),
        None => "not stated".into(),
    };
    line(
        f,
        "total",
        &format!(
            "{stated}; read {} records, {} invalid",
            s.records, s.invalid
        ),
    )?;
    line(f, "counts", &counts_text(read))?;
    if read.counted.campaigns.len() > 1 {
        line(f, "campaigns", &campaigns_text(read))?;
    }
    Ok(())
}

fn line(f: &mut Formatter<'_>, label: &str, text: &str) -> fmt::Result {
    writeln!(f, "  {label:<16} {text}")
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "(none)" } else { s }
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// The first key of a JSON pointer, unescaped.
fn first_key(pointer: &str) -> Option<String> {
    let first = pointer.strip_prefix('/')?.split('/').next()?;
    Some(first.replace("~1", "/").replace("~0", "~"))
}

/// The key names, `*` on those the exporter reads.
pub fn keys_text(keys: &KeyNames, fields: &[FieldUse]) -> String {
    if keys.is_empty() {
        return "(no record read)".into();
    }
    let used: Vec<String> = fields
        .iter()
        .flat_map(|u| u.pointers.iter().filter_map(|p| first_key(p)))
        .collect();
    let mut out = String::new();
    for (i, name) in keys.shown().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(name);
        if used.iter().any(|u| u == name) {
            out.push('*');
        }
    }
    let (more, overflowed) = keys.more();
    if more > 0 {
        let plus = if overflowed { "+" } else { "" };
        let _ = write!(out, " and {more}{plus} more");
    }
    if keys.hidden() > 0 {
        let _ = write!(
            out,
            " (and {} keys that look like values, not shown)",
            keys.hidden()
        );
    }
    if !used.is_empty() {
        out.push_str("  (* read by the exporter)");
    }
    out
}

/// Counts by state, then the templates seen. A state outside the six is
/// shown only if it reads as a word (a server could put anything there);
/// the others are summed.
pub fn counts_text(read: &WholeRead) -> String {
    let c = &read.counted;
    let mut hidden = 0;
    let mut states: Vec<String> = Vec::new();
    for (i, (state, n)) in c.by_state.iter().enumerate() {
        if i < STATES.len() || state == UNKNOWN || state == INVALID || field_like(state) {
            states.push(format!("{state} {n}"));
        } else {
            hidden += n;
        }
    }
    if hidden > 0 {
        states.push(format!("other states (not shown) {hidden}"));
    }
    let mut out = format!(
        "{}; {} template{}",
        states.join(", "),
        c.templates,
        if c.templates == 1 { "" } else { "s" }
    );
    if c.over_cap > 0 {
        let _ = write!(out, "; {} left out by the series cap", c.over_cap);
    }
    out
}

/// Discovery's campaigns: UUIDs only; records under any other value are
/// summed.
fn campaigns_text(read: &WholeRead) -> String {
    let c = &read.counted.campaigns;
    let shown = |id: &str| uuid::Uuid::parse_str(id).is_ok() || id == UNKNOWN || id == INVALID;
    let mut listed: Vec<String> = c
        .iter()
        .filter(|(id, _)| shown(id))
        .take(MAX_CAMPAIGNS_LISTED)
        .map(|(id, n)| format!("{id} {n}"))
        .collect();
    let listable = c.iter().filter(|(id, _)| shown(id)).count();
    if listable > MAX_CAMPAIGNS_LISTED {
        listed.push(format!("and {} more", listable - MAX_CAMPAIGNS_LISTED));
    }
    let (others, records): (usize, u64) = c
        .iter()
        .filter(|(id, _)| !shown(id))
        .fold((0, 0), |(k, r), (_, n)| (k + 1, r + n));
    if others > 0 {
        listed.push(format!(
            "{others} values that are not UUIDs (not shown) with {records} records"
        ));
    }
    format!("{} found: {}", c.len(), listed.join(", "))
}

/// The `start`/`end` check's line.
pub fn tiling_text(t: &Tiling) -> String {
    match t {
        Tiling::Read {
            range,
            halves,
            whole,
        } => {
            let at = |ms: Option<i64>| ms.map(iso_millis).unwrap_or_default();
            let sum = halves[0] + halves[1];
            let outcome = if sum > *whole {
                "they do NOT tile"
            } else {
                "they tile"
            };
            format!(
                "{} to {}: halves {} + {} = {sum}, whole {whole}: {outcome}",
                at(range.start),
                at(range.end),
                halves[0],
                halves[1]
            )
        }
        Tiling::Failed(f) => format!("a read failed ({})", f.reason),
        Tiling::Skipped(why) => format!("not checked: {why}"),
    }
}

#[cfg(test)]
mod tests;
