//! What a poll says in the log: what got worse, what a poll did, what a
//! reload changed. Names and UUIDs only, never a filter value.

use tracing::{info, warn};

use super::PollReport;
use super::target;
use crate::model::Change;

/// The poller's log target, as before these lines moved here: operators
/// filter on it, and docs/operations.md quotes it.
const TARGET: &str = "evolux_exporter::poller";

pub(super) fn log_change(change: &Change, max_series: usize) {
    match change {
        Change::BecameEmpty { campaign } => warn!(
        target: TARGET,
            campaign = campaign.as_str(),
            "configured campaign returned no subscribers: check its UUID and filters"
        ),
        Change::CountsRemoved { campaign } => warn!(
        target: TARGET,
            campaign = campaign.as_str(),
            "counts removed: no success for longer than poll.max_staleness"
        ),
        Change::ViewCountsRemoved { view } => warn!(
        target: TARGET,
            view = view.as_str(),
            "view counts removed: no success for longer than poll.max_staleness"
        ),
        Change::SeriesDropped { series, records } => warn!(
        target: TARGET,
            series,
            records,
            max_series,
            "series left out by poll.max_series (evolux_series_dropped); their subscribers are not shown"
        ),
    }
}

pub(super) fn log_report(report: &PollReport) {
    info!(
        target: TARGET,
        campaigns = report.campaigns,
        reads = report.queries,
        failed = report.failed,
        failed_reads = report.failed_reads,
        records = report.records,
        bytes = report.bytes,
        pages = report.pages,
        duration_ms = report.duration.as_millis() as u64,
        "poll finished"
    );
}

/// What a reload changed among the campaigns and views polled (views as
/// `view:<name>`).
pub(super) fn log_reconciled(r: &target::Reconciled) {
    if r.is_empty() {
        info!(target: TARGET, "reload: the campaigns and views polled are unchanged");
        return;
    }
    let list = |v: &[String]| v.join(",");
    info!(
        target: TARGET,
        added = %list(&r.added),
        removed = %list(&r.removed),
        changed = %list(&r.changed),
        renamed = %list(&r.renamed),
        "reload: campaigns and views taken in; added and changed ones are read whole first, at this poll or as soon as the budget allows; removed ones' series are gone"
    );
}
