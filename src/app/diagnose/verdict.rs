//! Whether the exporter can count a campaign exactly, from what its
//! diagnosis reads found; and, when it cannot, what to configure.
//!
//! The rule: every read succeeded; the total the server stated, if it
//! stated one, equals the records read; the records hold a state (and, in
//! discovery, a campaign); nothing was left out by the series cap; and the
//! halves of the last hour sum to no more than the whole hour. Anything
//! else worth knowing is a note and does not change the exit status.

use super::{FieldUse, TargetReport, Tiling, WholeRead};
use crate::model::{Failure, Field, Reason};

/// The `response.pagination` example the advice gives.
pub const PAGINATION_EXAMPLE: &str =
    "response.pagination: {style: page, param: page, size_param: per_page, size: 500}";

/// A campaign's verdict: what stops an exact count, and notes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// What stops the exporter from counting exactly, each with its fix.
    pub problems: Vec<Problem>,
    /// Worth knowing, but no obstacle.
    pub notes: Vec<String>,
}

/// One obstacle to an exact count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What is wrong.
    pub what: String,
    /// What to configure or check.
    pub fix: String,
}

impl Verdict {
    /// Whether the campaign can be counted exactly.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    fn problem(&mut self, what: impl Into<String>, fix: impl Into<String>) {
        self.problems.push(Problem {
            what: what.into(),
            fix: fix.into(),
        });
    }
}

/// Judges one campaign's reads.
pub fn judge(t: &TargetReport) -> Verdict {
    let mut v = Verdict::default();
    match &t.read {
        Err(f) => {
            v.problem(
                format!("the read failed ({}): {}", f.reason, f.message),
                fix_for(f),
            );
            return v;
        }
        Ok(read) => judge_read(read, t.campaign.is_none(), &mut v),
    }
    judge_tiling(&t.tiling, &mut v);
    v
}

fn judge_read(read: &WholeRead, discovery: bool, v: &mut Verdict) {
    let s = &read.stats;
    match &s.stated_total {
        Some(stated) if stated.total > s.records => v.problem(
            format!(
                "the server states {} records ({}) but {} were read: pages were not followed",
                stated.total, stated.source, s.records
            ),
            format!("say how the server pages in the config file, e.g. `{PAGINATION_EXAMPLE}`"),
        ),
        Some(stated) if stated.total < s.records => v.problem(
            format!(
                "the server states {} records ({}) but {} were read: pages overlap, or the total counts something else",
                stated.total, stated.source, s.records
            ),
            format!("check the paging parameters in the config file, e.g. `{PAGINATION_EXAMPLE}`; if that total counts something else, `response.total: []`"),
        ),
        Some(_) => {}
        None => {
            v.notes.push(
                "the server states no total: a read cannot be checked for completeness".into(),
            );
            if s.pages <= 1 && s.records >= 100 && s.records.is_multiple_of(50) {
                v.notes.push(format!(
                    "one page of exactly {} records: if the server caps its pages, say how it pages, e.g. `{PAGINATION_EXAMPLE}`",
                    s.records
                ));
            }
        }
    }
    if s.invalid > 0 {
        v.notes.push(format!(
            "{} elements of the records array were not records (not objects, or broken JSON) and are counted nowhere",
            s.invalid
        ));
    }
    let counted = s.records.saturating_sub(s.invalid);
    if counted > 0 {
        let found = |field| read.fields.iter().find(|f: &&FieldUse| f.field == field);
        if let Some(f) = found(Field::State).filter(|f| f.found == 0) {
            v.problem(
                format!(
                    "no record holds a state at {}: every subscriber would count as state \"unknown\"",
                    f.pointers.join(" or ")
                ),
                "set response.state in the config file to the state's pointer in a record (the key names are above)",
            );
        }
        if let Some(f) = found(Field::Template).filter(|f| f.found == 0) {
            v.notes.push(format!(
                "no record holds a template at {}: every subscriber counts under template \"unknown\" (response.template sets where it is)",
                f.pointers.join(" or ")
            ));
        }
        if let Some(f) = found(Field::Campaign).filter(|f| discovery && f.found == 0) {
            v.problem(
                format!(
                    "discovery: no record holds its campaign at {}: campaigns cannot be told apart",
                    f.pointers.join(" or ")
                ),
                "configure the campaigns (--campaign), or set response.campaign in the config file",
            );
        }
    }
    if read.counted.over_cap > 0 {
        v.problem(
            format!(
                "{} records were left out by the series cap",
                read.counted.over_cap
            ),
            "raise --poll.max-series",
        );
    }
}

fn judge_tiling(tiling: &Tiling, v: &mut Verdict) {
    match tiling {
        Tiling::Read { halves, whole, .. } => {
            let sum = halves[0] + halves[1];
            if sum > *whole {
                v.problem(
                    format!(
                        "start/end do not tile: the last hour's halves hold {sum} records, the whole hour {whole}; the server ignores start/end, reads them as overlapping, or caps its answers"
                    ),
                    "read every campaign whole at each poll: set --poll.max-interval equal to --poll.interval (no segments; a --poll.window is not applied by such a server either), and report the server's start/end behaviour to Evolux support",
                );
            } else if *whole == 0 {
                v.notes.push(
                    "no subscriber was inserted in the last hour: the start/end check could not tell whether the bounds are applied".into(),
                );
            } else if sum < *whole {
                v.notes.push(format!(
                    "the whole hour read {} more than its halves: inserted meanwhile, or a bound read as exclusive",
                    whole - sum
                ));
            }
        }
        Tiling::Failed(f) => v.problem(
            format!(
                "a read of the start/end check failed ({}): {}",
                f.reason, f.message
            ),
            fix_for(f),
        ),
        Tiling::Skipped(why) => v.notes.push(format!("start/end not checked: {why}")),
    }
}

/// What to configure or check after a failed read.
pub fn fix_for(f: &Failure) -> String {
    let text = match f.reason {
        Reason::Auth => {
            "check the token: EVOLUX_TOKEN or --evolux.token-file, holding a token issued by Evolux support"
        }
        Reason::Forbidden => {
            "the token may not read the campaign-subscribers report: ask Evolux support for one that may"
        }
        Reason::NotFound => {
            "check --evolux.url: the server's base URL (e.g. https://acme.evolux.cx), without a path"
        }
        Reason::RateLimited => "lower --evolux.max-rps or --evolux.max-concurrency",
        Reason::ServerError | Reason::HttpOther => {
            "the server did not answer the report; check --evolux.url, try again, or ask Evolux support"
        }
        Reason::Timeout | Reason::Deadline => {
            "raise --evolux.timeout, or count fewer subscribers with --poll.window"
        }
        Reason::Connection => {
            "check --evolux.url (host and port) and that this host reaches it (DNS, firewall, proxy)"
        }
        Reason::Tls => "a server with a private CA: give its certificate with --evolux.ca-file",
        Reason::TooLarge => {
            "raise --evolux.max-response-size, or count fewer subscribers with --poll.window"
        }
        Reason::Incomplete => {
            return format!(
                "say how the server pages in the config file, e.g. `{PAGINATION_EXAMPLE}`; if its total counts something else, `response.total: []`"
            );
        }
        Reason::BadBody if f.message.contains("no records array") => {
            "set response.records in the config file to the pointer of the records array: one of the top-level keys the message names, e.g. `response.records: /<that key>`"
        }
        Reason::BadBody => {
            "the body is not a page of records as docs/evolux-api.md describes; see response.records and response.next in the config file"
        }
    };
    text.to_string()
}

#[cfg(test)]
mod tests;
