//! A server that cuts every answer at some number of records without
//! saying so (no pagination hint) makes a campaign's counts wrong and shown
//! as true. It is caught by reading in parts: the parts add up to more than
//! one whole read made after them, and a part returned as many records as
//! the whole ([`verify::judge`]).
//!
//! A new target's first whole read is checked so, in the same poll, by its
//! two halves read just before it; a verification's whole read is judged
//! the same way against the segments. Once a cap is found the target keeps
//! the parts as its segments ([`Mode::Segmented`]); any segment that
//! returns as many records as the cap is halved at its next poll; and the
//! target has no counts ([`Layout::counts`] is `None`, the poll fails as
//! incomplete: [`Layout::shortfall`]) while any segment is at the cap or
//! unread.

use std::time::SystemTime;

use super::reshape::record;
use super::*;
use crate::segments::verify::Verdict;

/// Ranges read and their answers (`None`: the read failed).
pub(super) type Parts = Vec<(Range, Option<ReadOk>)>;

/// A silent cap, as found: the whole read's records and its parts'.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capped {
    /// Records of the whole read: the apparent cap.
    pub whole: u64,
    /// Records of each part, in order (a first read's two halves, or a
    /// verification's segments).
    pub parts: Vec<u64>,
}

impl Layout {
    /// A new target's first unit: its two halves at once, then the whole
    /// range. Without room to cut (a range of one millisecond), the whole
    /// read alone.
    pub(super) fn first_unit(&self, now_ms: Millis) -> (Vec<Read>, Vec<Read>) {
        let range = self.whole_range(now_ms);
        let whole = vec![Read {
            kind: ReadKind::Whole,
            range,
        }];
        let Some(at) = cut(range, now_ms) else {
            return (whole, Vec::new());
        };
        let check = |range: Range| Read {
            kind: ReadKind::Check(range),
            range,
        };
        let halves = vec![
            check(Range {
                start: range.start,
                end: Some(at),
            }),
            check(Range {
                start: Some(at + 1),
                end: range.end,
            }),
        ];
        (halves, whole)
    }

    /// Where to halve segment `i`, queried as `range`, if it returned as
    /// many records as the cap: in the middle of its range.
    pub(super) fn cap_split_point(&self, i: usize, range: Range, now_ms: Millis) -> Option<Millis> {
        let s = &self.segments[i];
        let cap = self.cap?;
        (s.counts.is_some() && s.records >= cap).then_some(())?;
        cut(range, now_ms)
    }

    /// The segments that returned as many records as the cap (none while
    /// no cap is known).
    pub(super) fn at_cap(&self) -> impl Iterator<Item = &Segment> {
        let cap = self.cap;
        self.segments
            .iter()
            .filter(move |s| cap.is_some_and(|c| s.counts.is_some() && s.records >= c))
    }

    /// Why a target with a known cap has no counts, while it has none:
    /// segments at the cap (being split, or too short to split), or not
    /// read yet. `None` when it has counts or no cap is known.
    pub fn shortfall(&self, now: SystemTime) -> Option<String> {
        let cap = self.cap?;
        if !matches!(self.mode, Mode::Segmented) {
            return None;
        }
        let now_ms = millis(now);
        let at_cap = self.at_cap().count();
        let stuck = (0..self.segments.len())
            .filter(|&i| {
                self.cap_split_point(i, self.range_of(i, now_ms), now_ms)
                    .is_none()
                    && self.segments[i].counts.is_some()
                    && self.segments[i].records >= cap
            })
            .count();
        let unread = self.segments.iter().filter(|s| s.counts.is_none()).count();
        if at_cap == 0 && unread == 0 {
            return None;
        }
        let mut message = format!(
            "the server seems to cut answers at {cap} records: {at_cap} of {} segments at that cap",
            self.segments.len()
        );
        if stuck > 0 {
            message +=
                &format!(", {stuck} of them one millisecond long and not to be split further");
        } else if at_cap > 0 {
            message += ", being split";
        }
        if unread > 0 {
            message += &format!(", {unread} not read yet");
        }
        message += "; no counts until every segment is below it (run --evolux.diagnose; set response.pagination)";
        Some(message)
    }

    /// A new target's whole read, with its check's pieces (`None`: a piece
    /// failed): judged, and the target moves on.
    pub(super) fn conclude_first(
        &mut self,
        now: SystemTime,
        whole: ReadOk,
        (mut pieces, probes): (Parts, Parts),
        rules: &PollRules,
        applied: &mut Applied,
    ) {
        let policy = &rules.policy;
        if pieces.len() < 2 || pieces.iter().any(|(_, a)| a.is_none()) {
            // No verdict: as before the check (a verification may still
            // judge it).
            self.start_filling(now, whole, policy);
            return;
        }
        pieces.sort_by_key(|(r, _)| r.start);
        let parts: Vec<&ReadOk> = pieces.iter().filter_map(|(_, a)| a.as_ref()).collect();
        let counted: Vec<&Counted> = parts.iter().map(|p| &p.counted).collect();
        let verdict = match verify::judge(&parts, &whole) {
            Verdict::Overlap if tiles(&pieces, &probes) => Verdict::Cap(whole.records),
            v => v,
        };
        match verdict {
            Verdict::Confirmed => self.start_filling(now, whole, policy),
            // Read whole every poll, the target does not rest on how the
            // server reads `start` and `end`: only a cap matters to it.
            Verdict::IgnoresRange | Verdict::Overlap if !policy.segmented() => {
                self.start_filling(now, whole, policy)
            }
            Verdict::Cap(cap) => {
                applied.mismatches = mismatches_of(&counted, &whole);
                applied.cap = Some(Capped {
                    whole: cap,
                    parts: parts.iter().map(|p| p.records).collect(),
                });
                self.cap = Some(cap);
                let last = pieces.len() - 1;
                let mut segments = Vec::with_capacity(pieces.len());
                for (i, (range, answer)) in pieces.into_iter().enumerate() {
                    let lo = range.start.filter(|_| i > 0);
                    let hi = range.end.filter(|_| i < last);
                    let mut s = Segment::unread(self.new_id(), lo, hi, now);
                    record(&mut s, now, answer, policy, i == last);
                    segments.push(s);
                }
                self.segments = segments;
                self.mode = Mode::Segmented;
            }
            Verdict::IgnoresRange | Verdict::Overlap => {
                applied.mismatches = mismatches_of(&counted, &whole);
                let interval = rules.verify_interval.unwrap_or(policy.max_interval);
                self.next_verify = self.next_verify.map(|_| now + interval);
                self.distrusted = true;
                self.fall_back(now, whole, policy);
            }
        }
    }

    /// A verification whose whole read came short of the segments' sum:
    /// a cap when a segment returned as many records as the whole (the
    /// segments, all just read, are kept and split); `false` otherwise.
    pub(super) fn cap_from_verification(&mut self, whole: &ReadOk, applied: &mut Applied) -> bool {
        let parts: Vec<ReadOk> = self
            .segments
            .iter()
            .map(|s| ReadOk {
                counted: s.counts.clone().unwrap_or_default(),
                records: s.records,
            })
            .collect();
        let Verdict::Cap(cap) = verify::judge(&parts.iter().collect::<Vec<_>>(), whole) else {
            return false;
        };
        applied.cap = Some(Capped {
            whole: cap,
            parts: parts.iter().map(|p| p.records).collect(),
        });
        self.cap = Some(cap);
        self.distrusted = false;
        self.mode = Mode::Segmented;
        true
    }

    /// Whole reads from now on: `whole` stands in.
    pub(super) fn fall_back(&mut self, now: SystemTime, whole: ReadOk, policy: &Policy) {
        let mut f = Segment::unread(self.new_id(), None, None, now);
        record(&mut f, now, Some(whole), policy, true);
        self.mode = Mode::Fallback(f);
        self.segments.clear();
    }
}

/// The campaigns whose whole total differs from the parts' sum; when the
/// totals agree (the records differ, not the counts), every campaign of
/// the whole read, so the finding is counted.
fn mismatches_of(parts: &[&Counted], whole: &ReadOk) -> Vec<Mismatch> {
    let found = verify::disagreement(parts.iter().copied(), &whole.counted);
    if !found.is_empty() {
        return found;
    }
    let sum = Counted::sum(parts.iter().copied());
    whole
        .counted
        .campaigns
        .keys()
        .map(|c| Mismatch {
            campaign: c.clone(),
            segments_before: sum.total_of(c),
            segments_after: sum.total_of(c),
            unsegmented: whole.counted.total_of(c),
        })
        .collect()
}

/// Whether the probe's two halves add up to the piece they halve: the
/// server tiles, so parts that add up to more than the whole mean the
/// whole was cut.
fn tiles(pieces: &[(Range, Option<ReadOk>)], probes: &[(Range, Option<ReadOk>)]) -> bool {
    let [(lo, Some(a)), (hi, Some(b))] = probes else {
        return false;
    };
    pieces.iter().any(|(r, p)| {
        r.start == lo.start
            && r.end == hi.end
            && p.as_ref()
                .is_some_and(|p| p.records == a.records + b.records)
    })
}

/// Where to halve `range` (its open ends taken as `now_ms` and a year
/// before its end): the end of the second at its middle, else the middle.
/// `None` for a range of one millisecond.
pub(super) fn cut(range: Range, now_ms: Millis) -> Option<Millis> {
    let hi = range.end.unwrap_or(now_ms);
    let lo = range.start.unwrap_or(hi.saturating_sub(365 * DAY_MS));
    if hi <= lo {
        return None;
    }
    let mid = lo + (hi - lo) / 2;
    let aligned = to_second_end(mid);
    Some(if aligned >= lo { aligned } else { mid })
}
