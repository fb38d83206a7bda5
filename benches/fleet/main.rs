//! What segmented polling costs a realistic fleet, against full polling,
//! and how soon it sees changes (issue 16).
//!
//! The fleet ([`model`]): 50 campaigns, about 2 M subscribers inserted over
//! 90 days. One campaign is *busy*: 10 000 subscribers inserted over the
//! last day (and more at that rate), each changing state 3 to 5 times at
//! instants spread over the day after its insertion, so changes keep
//! arriving all over its last day. 3 are *active* (inserting 1 500 an hour
//! each and dispatching: pending → scheduled → sent or error, then maybe
//! completed or dnd over the next hours). The other 46 are *settled*: long
//! done but for late replies (2% of the subscribers left `sent` answer
//! within 30 days).
//!
//! The exporter's own segment engine (`segments::round::poll_with`, what
//! the poller runs) polls it every 60 s for three simulated hours
//! (`FLEET_HOURS`) at the defaults (budget 480 reads a poll,
//! `--poll.max-interval=30m`, verification every 24 h, so at start-up);
//! every read is answered from the simulation, and its body is written as
//! the API would (about 450 bytes a record) and gzipped at level 1 (nginx's
//! default) to count the bytes on the wire. Full polling reads every record
//! of every campaign every interval, plain, as the exporter did before.
//!
//! Reported:
//! - per hour: requests, records, bytes, and the ratios against full
//!   polling; the steady hours (2+) against the targets (20x fewer
//!   records, 100x fewer bytes); and by campaign kind, the records read
//!   and how often each subscriber was read;
//! - the most reads any poll made, against the budget;
//! - the staleness of each campaign at each poll
//!   (`time() - evolux_campaign_refreshed_...`);
//! - the lag of each change (insert or state change): from the change to
//!   the read that saw it, in intervals (p50, p99, max), for the busy, the
//!   active and the settled campaigns apart. Only changes after the
//!   exporter started and after the campaign had its first counts count;
//!   changes not yet read when the run ends are reported apart;
//! - start-up ([`startup`]): after which poll every campaign has counts,
//!   and is segmented, for this fleet and for 500 campaigns (few
//!   subscribers each, counts only), with the reads of each poll.
//!
//! Run: `cargo bench --bench fleet` (`FLEET_HOURS=3`).

#[path = "../support/subscriber.rs"]
mod subscriber;
#[path = "../support/mod.rs"]
mod support;

mod model;
mod report;
mod startup;

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use evolux_exporter::model::CampaignCounts;
use evolux_exporter::segments::round::{PollRules, poll_with};
use evolux_exporter::segments::{Axis, Counted, Layout, Policy, Range, ReadOk};
use flate2::Compression;
use flate2::write::GzEncoder;

use model::{Kind, MIN_MS, state_at, steps};
use report::Hour;

fn main() {
    let hours: i64 = std::env::var("FLEET_HOURS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    let interval = Duration::from_secs(60);
    let policy = Policy::new(interval, Duration::from_secs(1800));
    let rules = PollRules {
        policy,
        // 80% of --evolux.max-rps 10 over the interval, as the poller.
        budget: 480,
        max_staleness: interval * 10,
        verify_interval: Some(Duration::from_secs(86_400)),
    };
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
    let start_ms = start.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    let campaigns = model::fleet(start_ms, hours);
    let templates = support::template_uuids();
    let total_now = |t: i64| -> u64 {
        campaigns
            .iter()
            .map(|c| c.inserted.partition_point(|&x| x <= t) as u64)
            .sum()
    };
    let busy = &campaigns[campaigns.len() - 1];
    println!(
        "fleet: {} campaigns, {} subscribers at the start: 1 busy ({} subscribers, inserted \
         over the last day), {} active, the rest settled",
        campaigns.len(),
        total_now(start_ms),
        busy.inserted.partition_point(|&x| x <= start_ms),
        model::ACTIVE,
    );
    let mut layouts: Vec<Layout> = campaigns
        .iter()
        .map(|_| Layout::new(Axis::ALL, &policy, true, start))
        .collect();
    // When each subscriber was last read, to time each change's visibility.
    let mut last_read: Vec<Vec<i64>> = campaigns
        .iter()
        .map(|c| vec![i64::MIN; c.inserted.len()])
        .collect();
    // When each campaign first had counts: changes before are not lag.
    let mut counted_at: Vec<Option<i64>> = vec![None; campaigns.len()];
    let mut per_hour = vec![Hour::default(); hours as usize];
    let mut progress = startup::Progress::default();
    let mut staleness: Vec<f64> = Vec::new();
    let mut lags: [Vec<i64>; 3] = Default::default();
    let slot = |k: Kind| Kind::ALL.iter().position(|x| *x == k).unwrap_or(0);
    let mut body = Vec::with_capacity(1 << 20);
    let mut t = start_ms;
    for poll in 0..hours * 60 {
        let now = start + interval * poll as u32;
        t = start_ms + poll * MIN_MS;
        let h = &mut per_hour[(poll / 60) as usize];
        h.full_records += total_now(t);
        for c in &campaigns {
            h.held_by_kind[slot(c.kind)] += c.inserted.partition_point(|&x| x <= t) as u64;
        }
        let mut reads = 0;
        poll_with(&mut layouts, now, &rules, |target, range: Range| {
            let c = &campaigns[target];
            let lo = range
                .start
                .map_or(0, |s| c.inserted.partition_point(|&x| x < s));
            let hi = c
                .inserted
                .partition_point(|&x| range.end.is_none_or(|e| x <= e) && x <= t);
            let mut counts = CampaignCounts::default();
            body.clear();
            body.extend_from_slice(b"{\"data\":[");
            let seen = &mut last_read[target][lo..hi];
            for (k, (inserted, seen)) in c.inserted[lo..hi].iter().copied().zip(seen).enumerate() {
                let i = lo + k;
                let steps = steps(target, c.kind, i, inserted);
                let Some(state) = state_at(&steps, t) else {
                    continue;
                };
                let tpl = (i * 7 + target) % templates.len();
                counts
                    .templates
                    .entry(templates[tpl].as_str().into())
                    .or_default()
                    .add_state(state, 1);
                if i > lo {
                    body.push(b',');
                }
                subscriber::write_subscriber(
                    &mut body,
                    i as u64,
                    (target, &c.uuid),
                    (tpl, &templates[tpl]),
                    state,
                    inserted,
                );
                // Every change since this subscriber's last read is seen
                // now; what came before the campaign's first counts (and
                // so before the exporter started) is no delay of its own.
                if let Some(counted) = counted_at[target] {
                    for (at, _) in steps {
                        if at > (*seen).max(counted) && at <= t {
                            lags[slot(c.kind)].push(t - at);
                        }
                    }
                }
                *seen = t;
            }
            body.extend_from_slice(b"],\"links\":{\"next\":null}}");
            let mut enc = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::fast());
            let _ = enc.write_all(&body);
            let zipped = enc.finish().map(|z| z.len()).unwrap_or(0);
            reads += 1;
            h.requests += 1;
            h.records += (hi - lo) as u64;
            h.by_kind[slot(c.kind)] += (hi - lo) as u64;
            h.plain += body.len() as u64;
            h.gzip += zipped as u64;
            let mut counted = Counted::default();
            counted.campaigns.insert(c.uuid.clone(), counts);
            Some(ReadOk {
                counted,
                records: (hi - lo) as u64,
            })
        });
        progress.after_poll(&layouts, reads);
        for (l, at) in layouts.iter().zip(&mut counted_at) {
            if at.is_none() && l.counts().is_some() {
                *at = Some(t);
            }
            if let Some(r) = l.refreshed() {
                staleness.push(now.duration_since(r).unwrap_or_default().as_secs_f64());
            }
        }
    }
    // Changes that happened but no read had seen when the run ended.
    let mut unseen: [Vec<i64>; 3] = Default::default();
    for (target, c) in campaigns.iter().enumerate() {
        let Some(counted) = counted_at[target] else {
            continue;
        };
        for (i, (inserted, seen)) in c.inserted.iter().zip(&last_read[target]).enumerate() {
            for (at, _) in steps(target, c.kind, i, *inserted) {
                if at > (*seen).max(counted) && at <= t {
                    unseen[slot(c.kind)].push(t - at);
                }
            }
        }
    }

    report::hours(&per_hour, campaigns.len(), 60);
    report::by_kind(&per_hour);
    println!(
        "reads per poll: max {} of budget {}",
        progress.reads.iter().max().unwrap_or(&0),
        rules.budget
    );
    report::spread(
        "staleness (s), every campaign at every poll",
        &mut staleness,
        policy.max_interval.as_secs_f64(),
    );
    println!("change seen after (intervals of {} s):", interval.as_secs());
    for (k, kind) in Kind::ALL.iter().enumerate() {
        report::lag(kind.name(), &lags[k], MIN_MS);
    }
    println!("changes not yet read at the end, age (intervals):");
    for (k, kind) in Kind::ALL.iter().enumerate() {
        report::lag(kind.name(), &unseen[k], MIN_MS);
    }
    let segments: Vec<usize> = layouts.iter().map(Layout::segment_count).collect();
    println!(
        "segments per campaign at the end: min {} max {} mean {:.1}; busy campaign {}",
        segments.iter().min().unwrap_or(&0),
        segments.iter().max().unwrap_or(&0),
        segments.iter().sum::<usize>() as f64 / segments.len() as f64,
        segments[segments.len() - 1],
    );

    println!(
        "\nstart-up at the defaults (budget {}, interval {} s, max-interval {} s, verification every 24 h):",
        rules.budget,
        interval.as_secs(),
        policy.max_interval.as_secs()
    );
    progress.print(campaigns.len(), interval, rules.budget);
    startup::many(500, 200, &rules, start, 360);
}
