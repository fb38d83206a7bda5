//! What segmented polling costs a realistic fleet, against full polling.
//!
//! 50 campaigns, about 2 M subscribers inserted over 90 days; 3 campaigns
//! active (inserting 1 500 an hour each and dispatching), the others long
//! done but for late replies (2% of the subscribers left `sent` answer
//! within 30 days). Each subscriber moves pending → scheduled → sent or
//! error, then maybe completed or dnd, at times drawn from its seed.
//!
//! The exporter's own segment engine (`segments::round::poll_with`, what
//! the poller runs) polls it every 60 s for three simulated hours at the
//! default settings; every read is answered from the simulation, and its
//! body is written as the API would (about 450 bytes a record) and gzipped
//! at level 1 (nginx's default) to count the bytes on the wire. Full
//! polling reads every record of every campaign every interval, plain, as
//! the exporter did before.
//!
//! Reported per hour: requests, records, bytes; the staleness of each
//! campaign at each poll (`time() - evolux_campaign_refreshed_...`); and how
//! long each change (insert or state change) took to be read, for the
//! active campaigns and the rest.
//!
//! Run: `cargo bench --bench fleet` (`FLEET_HOURS=3`).

#[path = "support/subscriber.rs"]
mod subscriber;
mod support;

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use evolux_exporter::model::CampaignCounts;
use evolux_exporter::segments::round::{PollRules, poll_with};
use evolux_exporter::segments::{Axis, Counted, Layout, Policy, Range, ReadOk};
use flate2::Compression;
use flate2::write::GzEncoder;

const MIN_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MIN_MS;
const DAY_MS: i64 = 24 * HOUR_MS;
const ACTIVE: usize = 3;
const CAMPAIGNS: usize = 50;

/// One campaign: its subscribers' insertion instants, sorted.
struct Campaign {
    uuid: String,
    inserted: Vec<i64>,
    active: bool,
}

/// The moments a subscriber's state changes, and to what.
fn timeline(c: usize, i: usize, inserted: i64) -> [(i64, &'static str); 4] {
    let mut r = support::Rng::new(((c as u64) << 40) ^ i as u64);
    let mut unit = || (r.next() >> 11) as f64 / (1u64 << 53) as f64;
    let scheduled = inserted + (unit() * 20.0 * MIN_MS as f64) as i64;
    let sent = scheduled + MIN_MS + (unit() * 4.0 * MIN_MS as f64) as i64;
    let u = unit();
    let later = |mean_ms: f64, u: f64| sent + (-(1.0 - u).ln() * mean_ms) as i64;
    let never = i64::MAX;
    if u < 0.04 {
        return [
            (inserted, "pending"),
            (scheduled, "scheduled"),
            (sent, "error"),
            (never, "error"),
        ];
    }
    let w = unit();
    let (at, state) = if u < 0.59 {
        (later(90.0 * MIN_MS as f64, w), "completed")
    } else if u < 0.64 {
        (later(30.0 * MIN_MS as f64, w), "dnd")
    } else if u < 0.66 {
        (
            sent + DAY_MS + (w * 29.0 * DAY_MS as f64) as i64,
            "completed",
        )
    } else {
        (never, "sent")
    };
    [
        (inserted, "pending"),
        (scheduled, "scheduled"),
        (sent, "sent"),
        (at, state),
    ]
}

fn state_at(c: usize, i: usize, inserted: i64, t: i64) -> Option<&'static str> {
    let steps = timeline(c, i, inserted);
    if t < inserted {
        return None;
    }
    steps.iter().rev().find(|(at, _)| *at <= t).map(|(_, s)| *s)
}

fn fleet(now: i64) -> Vec<Campaign> {
    let mut rng = support::Rng::new(7);
    (0..CAMPAIGNS)
        .map(|c| {
            let active = c >= CAMPAIGNS - ACTIVE;
            // Old campaigns: ~41 000 over one or two days, started across
            // 90 days. Active ones: 40 000 so far, then 1 500 an hour.
            let (start, span, n) = if active {
                let start = now - (3 + 2 * (c % ACTIVE) as i64) * DAY_MS;
                (start, now - start, 40_000usize)
            } else {
                let start = now - 90 * DAY_MS + c as i64 * (88 * DAY_MS / CAMPAIGNS as i64);
                (
                    start,
                    DAY_MS + (rng.next() % DAY_MS as u64) as i64,
                    38_000 + (rng.next() % 6_000) as usize,
                )
            };
            let mut inserted: Vec<i64> = (0..n)
                .map(|_| start + (rng.next() % span as u64) as i64)
                .collect();
            if active {
                // The next hours' inserts, at 1 500 an hour.
                inserted.extend(
                    (0..1_500 * 4).map(|k| now + k * HOUR_MS / 1_500 + (rng.next() % 1000) as i64),
                );
            }
            inserted.sort_unstable();
            Campaign {
                uuid: support::campaign_uuids()[c].clone(),
                inserted,
                active,
            }
        })
        .collect()
}

#[derive(Default, Clone, Copy)]
struct Hour {
    requests: u64,
    records: u64,
    plain: u64,
    gzip: u64,
    full_records: u64,
}

fn main() {
    let hours: i64 = std::env::var("FLEET_HOURS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
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
    let campaigns = fleet(start_ms);
    let templates = support::template_uuids();
    let total_now = |t: i64| -> u64 {
        campaigns
            .iter()
            .map(|c| c.inserted.partition_point(|&x| x <= t) as u64)
            .sum()
    };
    println!(
        "fleet: {} campaigns, {} subscribers at the start ({ACTIVE} active)",
        campaigns.len(),
        total_now(start_ms)
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
    let mut per_hour = vec![Hour::default(); hours as usize];
    let mut staleness: Vec<f64> = Vec::new();
    let mut lag_active: Vec<i64> = Vec::new();
    let mut lag_other: Vec<i64> = Vec::new();
    let mut body = Vec::with_capacity(1 << 20);
    for poll in 0..hours * 60 {
        let now = start + interval * poll as u32;
        let t = start_ms + poll * MIN_MS;
        let h = &mut per_hour[(poll / 60) as usize];
        h.full_records += total_now(t);
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
                let Some(state) = state_at(target, i, inserted, t) else {
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
                // Every change since this subscriber's last read is seen now.
                for (at, _) in timeline(target, i, inserted) {
                    // Changes while the exporter runs; what came before
                    // its start is not a delay of its own.
                    if at > (*seen).max(start_ms) && at <= t {
                        let lag = t - at;
                        if c.active {
                            lag_active.push(lag)
                        } else {
                            lag_other.push(lag)
                        }
                    }
                }
                *seen = t;
            }
            body.extend_from_slice(b"],\"links\":{\"next\":null}}");
            let mut enc = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::fast());
            let _ = enc.write_all(&body);
            let zipped = enc.finish().map(|z| z.len()).unwrap_or(0);
            h.requests += 1;
            h.records += (hi - lo) as u64;
            h.plain += body.len() as u64;
            h.gzip += zipped as u64;
            let mut counted = Counted::default();
            counted.campaigns.insert(c.uuid.clone(), counts);
            Some(ReadOk {
                counted,
                records: (hi - lo) as u64,
            })
        });
        for l in &layouts {
            if let Some(r) = l.refreshed() {
                staleness.push(now.duration_since(r).unwrap_or_default().as_secs_f64());
            }
        }
    }
    let bytes_per_record = per_hour.iter().map(|h| h.plain).sum::<u64>() as f64
        / per_hour.iter().map(|h| h.records).sum::<u64>().max(1) as f64;
    println!(
        "\nper hour        requests  records      bytes (wire)   vs full: requests records  bytes"
    );
    for (i, h) in per_hour.iter().enumerate() {
        let full_requests = 60 * CAMPAIGNS as u64;
        let full_bytes = h.full_records as f64 * bytes_per_record;
        println!(
            "hour {}        {:>8}  {:>10}  {:>10.1} MB      {:>6.1}x {:>7.1}x {:>6.0}x",
            i + 1,
            h.requests,
            h.records,
            h.gzip as f64 / 1e6,
            full_requests as f64 / h.requests as f64,
            h.full_records as f64 / h.records.max(1) as f64,
            full_bytes / h.gzip.max(1) as f64,
        );
    }
    let last = per_hour[per_hour.len() - 1];
    println!(
        "full polling  {:>8}  {:>10}  {:>10.1} MB (plain, {:.0} B a record)",
        60 * CAMPAIGNS,
        last.full_records,
        last.full_records as f64 * bytes_per_record / 1e6,
        bytes_per_record
    );
    println!(
        "gzip ratio of the bodies read: {:.1}x",
        per_hour.iter().map(|h| h.plain).sum::<u64>() as f64
            / per_hour.iter().map(|h| h.gzip).sum::<u64>().max(1) as f64
    );
    report_spread(
        "staleness (s), every campaign at every poll",
        &mut staleness,
        1.0,
        1800.0,
    );
    let mut a: Vec<f64> = lag_active.iter().map(|l| *l as f64 / 1000.0).collect();
    report_spread("change seen after (s), active campaigns", &mut a, 1.0, 60.0);
    let mut o: Vec<f64> = lag_other.iter().map(|l| *l as f64 / 1000.0).collect();
    report_spread(
        "change seen after (s), other campaigns",
        &mut o,
        1.0,
        1800.0,
    );
    let segments: Vec<usize> = layouts.iter().map(Layout::segment_count).collect();
    println!(
        "segments per campaign at the end: min {} max {} mean {:.1}",
        segments.iter().min().unwrap_or(&0),
        segments.iter().max().unwrap_or(&0),
        segments.iter().sum::<usize>() as f64 / segments.len() as f64
    );
}

fn report_spread(what: &str, v: &mut [f64], scale: f64, bound: f64) {
    if v.is_empty() {
        println!("{what}: none");
        return;
    }
    v.sort_by(f64::total_cmp);
    let q = |p: f64| v[((v.len() - 1) as f64 * p) as usize] * scale;
    let within = v.iter().filter(|x| **x <= bound).count() as f64 / v.len() as f64;
    println!(
        "{what}: n={} p50 {:.0} p90 {:.0} p99 {:.0} max {:.0}; {:.1}% within {bound:.0}",
        v.len(),
        q(0.5),
        q(0.9),
        q(0.99),
        q(1.0),
        within * 100.0
    );
}
