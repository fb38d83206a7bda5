//! Verification: does the sum of a target's segments equal one unsegmented
//! read? It tells whether a server reads `start` and `end` as the exporter
//! assumes (inclusive instants, milliseconds, UTC).
//!
//! Subscribers keep being inserted while the reads run, and inserts land in
//! the newest segment. So the newest segment is read before and after the
//! whole read: with the older segments' sum `S`, the newest read first `N1`
//! and again `N2`, a server that tiles correctly answers a whole read `U`
//! with `S + N1 <= U <= S + N2`, campaign by campaign. Totals are compared,
//! not states: a state change moves a subscriber within its segment.

use std::collections::BTreeSet;

use super::Counted;
use super::layout::ReadOk;

/// A campaign whose whole read disagreed with its segments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    /// The campaign's UUID.
    pub campaign: String,
    /// The segments' total with the newest segment's first read.
    pub segments_before: u64,
    /// The segments' total with the newest segment's second read.
    pub segments_after: u64,
    /// What the unsegmented read counted.
    pub unsegmented: u64,
}

/// The campaigns for which `whole` lies outside the segments' totals
/// before and after it (`older` plus `newest_first`, `older` plus
/// `newest_again`). Empty: the segments agree.
pub fn compare(
    older: &Counted,
    newest_first: &Counted,
    newest_again: &Counted,
    whole: &Counted,
) -> Vec<Mismatch> {
    let campaigns: BTreeSet<&String> = [older, newest_first, newest_again, whole]
        .into_iter()
        .flat_map(|c| c.campaigns.keys())
        .collect();
    campaigns
        .into_iter()
        .filter_map(|campaign| {
            let base = older.total_of(campaign);
            let before = base + newest_first.total_of(campaign);
            let after = base + newest_again.total_of(campaign);
            let unsegmented = whole.total_of(campaign);
            let agrees = before.min(after) <= unsegmented && unsegmented <= before.max(after);
            (!agrees).then(|| Mismatch {
                campaign: campaign.clone(),
                segments_before: before,
                segments_after: after,
                unsegmented,
            })
        })
        .collect()
}

/// What a read in parts says of the server, next to one whole read made
/// after the parts ([`judge`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The parts add up to no more than the whole: the server tiles
    /// `start`/`end` and did not cut the whole short.
    Confirmed,
    /// Every part answered what the whole did: the server ignores `start`
    /// and `end`.
    IgnoresRange,
    /// The parts add up to more than the whole, and a part returned as many
    /// records as the whole: the server seems to cut every answer at this
    /// many records, without saying so.
    Cap(u64),
    /// The parts add up to more than the whole, and none is at its size:
    /// the parts overlap (the server reads the range otherwise).
    Overlap,
}

/// Judges `parts` (reads that tile the whole range) against `whole` (one
/// unsegmented read made after them, so inserts can only make it larger),
/// by records returned. Rules, in order: the parts' records add up to at
/// most the whole's: [`Verdict::Confirmed`]; every part counted what the
/// whole counted, with as many records: [`Verdict::IgnoresRange`]; some
/// part returned as many records as the whole, and that is more than
/// none: [`Verdict::Cap`]; else
/// [`Verdict::Overlap`].
pub fn judge(parts: &[&ReadOk], whole: &ReadOk) -> Verdict {
    let sum: u64 = parts.iter().map(|p| p.records).sum();
    if sum <= whole.records {
        Verdict::Confirmed
    } else if parts.iter().all(|p| *p == whole) {
        Verdict::IgnoresRange
    } else if whole.records > 0 && parts.iter().any(|p| p.records == whole.records) {
        Verdict::Cap(whole.records)
    } else {
        Verdict::Overlap
    }
}

/// The campaigns whose total in `whole` differs from the sum of `parts`.
pub fn disagreement<'a>(
    parts: impl IntoIterator<Item = &'a Counted>,
    whole: &Counted,
) -> Vec<Mismatch> {
    let empty = Counted::default();
    compare(&Counted::sum(parts), &empty, &empty, whole)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CampaignCounts;

    /// A read of `records` records, `sent` of them counted as sent in c0.
    fn read(records: u64, sent: u64) -> ReadOk {
        let mut counted = Counted::default();
        let mut c = CampaignCounts::default();
        c.templates
            .entry("t".into())
            .or_default()
            .add_state("sent", sent);
        counted.campaigns.insert("c0".into(), c);
        ReadOk { counted, records }
    }

    #[test]
    fn parts_that_add_up_to_at_most_the_whole_confirm_it() {
        let (h1, h2) = (read(120, 120), read(80, 80));
        assert_eq!(judge(&[&h1, &h2], &read(200, 200)), Verdict::Confirmed);
        // Inserted between the reads: the whole, read last, is larger.
        assert_eq!(judge(&[&h1, &h2], &read(203, 203)), Verdict::Confirmed);
        let none = read(0, 0);
        assert_eq!(judge(&[&none, &none], &none), Verdict::Confirmed);
    }

    #[test]
    fn parts_that_each_answer_the_whole_say_the_range_is_ignored() {
        let w = read(200, 200);
        assert_eq!(judge(&[&w, &w], &w), Verdict::IgnoresRange);
    }

    #[test]
    fn a_part_at_the_wholes_size_with_more_in_the_parts_is_a_cap() {
        // Capped at 200: each half is cut too, and differs from the whole.
        let w = read(200, 150);
        assert_eq!(judge(&[&read(200, 90), &w], &w), Verdict::Cap(200));
        assert_eq!(
            judge(&[&read(200, 90), &read(37, 37)], &w),
            Verdict::Cap(200)
        );
        // An empty whole is no cap: the parts found what it did not.
        assert_eq!(
            judge(&[&read(0, 0), &read(5, 5)], &read(0, 0)),
            Verdict::Overlap
        );
    }

    #[test]
    fn parts_that_add_up_to_more_with_none_at_the_wholes_size_overlap() {
        let w = read(200, 200);
        assert_eq!(
            judge(&[&read(150, 150), &read(120, 120)], &w),
            Verdict::Overlap
        );
    }

    #[test]
    fn a_disagreement_names_the_campaign_and_its_figures() {
        let found = disagreement(
            [&read(200, 200).counted, &read(50, 50).counted],
            &read(200, 200).counted,
        );
        assert_eq!(
            found,
            [Mismatch {
                campaign: "c0".into(),
                segments_before: 250,
                segments_after: 250,
                unsegmented: 200,
            }]
        );
        assert!(disagreement([&read(9, 9).counted], &read(9, 9).counted).is_empty());
    }
}
