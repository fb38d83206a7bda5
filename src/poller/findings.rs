//! What a target's poll found worth saying beyond its reads' failures: a
//! silent cap, verification mismatches and recoveries, counts that cannot
//! be shown: logged once, and counted.

use tracing::{info, warn};

use super::target::TargetState;
use crate::metrics::{PollMetrics, Subject};
use crate::model::Reason;
use crate::segments::layout::Applied;

/// Logs and counts what `applied` found for `t`, whose poll had
/// `failed_reads` failed reads. Returns whether the poll failed as
/// incomplete although every read succeeded (counted under
/// `reason="incomplete"`).
pub(super) fn take(
    metrics: &PollMetrics,
    t: &TargetState,
    applied: &Applied,
    failed_reads: usize,
) -> bool {
    if let Some(cap) = &applied.cap {
        let parts: Vec<String> = cap.parts.iter().map(u64::to_string).collect();
        warn!(
            campaign = t.label().as_str(),
            whole = cap.whole,
            parts = parts.join("+").as_str(),
            "the server seems to cut answers at {} records; run --evolux.diagnose; set response.pagination",
            cap.whole
        );
    }
    for m in &applied.mismatches {
        // A view's are counted under its name, a campaign's (or
        // discovery's) under the records' campaign.
        let subject = match t.subject() {
            Subject::View(v) => Subject::View(v),
            Subject::Campaign(_) => Subject::Campaign(m.campaign.clone()),
        };
        metrics.verification_mismatch(&subject);
        if applied.cap.is_some() {
            // Said once, above.
            continue;
        }
        warn!(
            target_campaign = t.label().as_str(),
            campaign = m.campaign.as_str(),
            segments_before = m.segments_before,
            segments_after = m.segments_after,
            unsegmented = m.unsegmented,
            "verification: the unsegmented read disagrees with the sum of the segments; reading this target whole until a verification agrees"
        );
    }
    if applied.recovered {
        info!(
            campaign = t.label().as_str(),
            "verification agrees again: reading by segments"
        );
    }
    let incomplete = applied.incomplete.is_some() && failed_reads == 0;
    if incomplete {
        metrics.poll_error(&t.subject(), Reason::Incomplete);
    }
    incomplete
}
