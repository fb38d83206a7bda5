//! The silent-cap check: a server that cuts every answer at some number of
//! records without saying so looks complete page by page. Read in two
//! halves, such a campaign holds more than its whole read: the halves sum
//! above the whole, and a half comes back at the whole's size. Where every
//! record falls in one half, that half is split again, so a campaign
//! inserted in one burst is still split.

use super::{Reader, halves};
use crate::model::{Campaign, Failure, Millis, Range};

/// How many times a half holding every record is split again.
pub const MAX_LEVELS: usize = 16;
/// Where an open-ended range is first cut: a year before its end.
const YEAR_MS: Millis = 365 * 24 * 3_600_000;

/// What the cap check found.
#[derive(Debug, Clone, PartialEq)]
pub enum CapCheck {
    /// Two non-empty halves of a part holding every record added up to no
    /// more than the whole: no cap seen.
    NoCap {
        /// The halves' records.
        halves: [u64; 2],
    },
    /// A half at the whole's size and the halves above it: the server cuts
    /// answers at `at` records.
    Capped {
        /// The apparent cap: the whole read's records.
        at: u64,
        /// The halves' records.
        halves: [u64; 2],
    },
    /// The halves add up to more than the whole, neither at its size: they
    /// overlap (the start/end check says more).
    Overlap {
        /// The halves' records.
        halves: [u64; 2],
    },
    /// No split found two non-empty halves (too few records, or all at one
    /// instant): nothing to tell.
    Unsplit,
    /// A read failed.
    Failed(Failure),
    /// Not attempted, and why.
    Skipped(&'static str),
}

/// Judges one split of a part holding all `whole` records: `None` when
/// every record fell in one half (split that half again).
pub fn judge(whole: u64, halves: [u64; 2]) -> Option<CapCheck> {
    let [lo, hi] = halves;
    let sum = lo + hi;
    if sum > whole && (lo == whole || hi == whole) {
        return Some(CapCheck::Capped { at: whole, halves });
    }
    if sum > whole {
        return Some(CapCheck::Overlap { halves });
    }
    if lo > 0 && hi > 0 {
        return Some(CapCheck::NoCap { halves });
    }
    (sum == 0).then_some(CapCheck::Unsplit)
}

/// `range` cut in two: an open start is first cut a year before the end.
fn split(range: Range, now: Millis) -> (Range, Range) {
    match range.start {
        Some(start) => {
            let end = range.end.unwrap_or(now).min(now);
            let (lo, mut hi) = halves(Range {
                start: Some(start),
                end: Some(end),
            });
            // An open end stays open: records inserted meanwhile count.
            hi.end = range.end;
            (lo, hi)
        }
        None => {
            let end = range.end.unwrap_or(now).min(now);
            let cut = end - YEAR_MS;
            (
                Range {
                    start: None,
                    end: Some(cut),
                },
                Range {
                    start: Some(cut + 1),
                    end: range.end,
                },
            )
        }
    }
}

impl Reader<'_> {
    /// The cap check of a campaign whose whole `range` read `whole` records.
    pub(super) async fn cap_check(
        &self,
        campaign: Option<&Campaign>,
        range: Range,
        whole: u64,
        now: Millis,
    ) -> CapCheck {
        if whole == 0 {
            return CapCheck::Skipped("no records to split");
        }
        let mut part = range;
        for _ in 0..MAX_LEVELS {
            let (lo, hi) = split(part, now);
            // Less than two seconds left: no second's end to cut at.
            let (first, last) = (lo.start.unwrap_or(Millis::MIN), hi.end.unwrap_or(now));
            if last.saturating_sub(first) < 2_000 {
                break;
            }
            let mut counts = [0u64; 2];
            for (n, r) in counts.iter_mut().zip([lo, hi]) {
                let mut discard = |_: &crate::model::RecordFields<'_>| {};
                match self.query(campaign, r, &mut discard).await {
                    Ok(stats) => *n = stats.records,
                    Err(f) => return CapCheck::Failed(f),
                }
            }
            if let Some(found) = judge(whole, counts) {
                return found;
            }
            part = if counts[0] > 0 { lo } else { hi };
        }
        CapCheck::Unsplit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_half_at_the_whole_with_more_beside_it_is_a_cap() {
        assert_eq!(
            judge(200, [200, 90]),
            Some(CapCheck::Capped {
                at: 200,
                halves: [200, 90]
            })
        );
        assert_eq!(
            judge(200, [120, 100]),
            Some(CapCheck::Overlap { halves: [120, 100] })
        );
        assert_eq!(
            judge(200, [110, 90]),
            Some(CapCheck::NoCap { halves: [110, 90] })
        );
        // Inserted between the reads: the halves may hold fewer.
        assert_eq!(
            judge(200, [110, 80]),
            Some(CapCheck::NoCap { halves: [110, 80] })
        );
        // Everything on one side: split that side again.
        assert_eq!(judge(200, [0, 200]), None);
        assert_eq!(judge(200, [200, 0]), None);
        assert_eq!(judge(200, [0, 0]), Some(CapCheck::Unsplit));
    }

    #[test]
    fn an_open_start_is_first_cut_a_year_back() {
        let now = 1_700_000_000_000;
        let (lo, hi) = split(
            Range {
                start: None,
                end: None,
            },
            now,
        );
        assert_eq!(lo.start, None);
        assert_eq!(lo.end, Some(now - YEAR_MS));
        assert_eq!(hi.start, Some(now - YEAR_MS + 1));
        assert_eq!(hi.end, None);
        // Then the open end is cut before now, and stays open.
        let (lo2, hi2) = split(hi, now);
        assert_eq!(lo2.start, hi.start);
        let cut = lo2.end.unwrap();
        assert!(hi.start.unwrap() < cut && cut < now, "{cut}");
        assert_eq!(hi2.start, Some(cut + 1));
        assert_eq!(hi2.end, None);
    }
}
