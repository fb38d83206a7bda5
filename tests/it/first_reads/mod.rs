//! Numbers that are complete from the first poll: a campaign never read is
//! read whole first and counted from that read; `evolux_up` and `/readyz`
//! wait for every campaign; a reload's new campaign is read whole at the
//! next poll; each shard exports its whole share from its first ready
//! scrape; and a busy campaign's changes are read within two intervals.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::app::*;
use crate::ranged::Ranged;
use crate::segments::{DAY_MS, HOUR_MS, now_ms, ranged_upstream, subscribers};
use crate::support::metrics::Metrics;
use crate::support::*;

mod busy;
mod cap;
mod startup;

/// `n` campaign UUIDs.
fn uuids(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("00000000-0000-4000-8000-{i:012}"))
        .collect()
}

/// Gives each campaign `5 + i` subscribers inserted over the last year
/// (some within the hour), in mixed states; returns each one's total.
fn populate(ranged: &Ranged, campaigns: &[String]) -> BTreeMap<String, f64> {
    let now = now_ms();
    let states = ["pending", "sent", "completed", "error"];
    campaigns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let n = 5 + i;
            for k in 0..n {
                let back = [10 * 60_000, 5 * HOUR_MS, 3 * DAY_MS, 90 * DAY_MS][k % 4];
                ranged.insert(c, now - back - (i * 1000 + k) as i64, states[k % 4]);
            }
            (c.clone(), n as f64)
        })
        .collect()
}

/// The campaigns among `expected` whose exported total differs.
fn wrong(m: &Metrics, expected: &BTreeMap<String, f64>) -> Vec<String> {
    expected
        .iter()
        .filter(|(c, total)| m.campaign_total(c) != **total)
        .map(|(c, _)| c.clone())
        .collect()
}
