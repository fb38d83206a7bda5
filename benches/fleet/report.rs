//! What the fleet benchmark prints: the hourly table, spreads, lags.

use crate::model::Kind;

/// What one simulated hour cost.
#[derive(Default, Clone, Copy)]
pub struct Hour {
    pub requests: u64,
    pub records: u64,
    /// Bodies as written.
    pub plain: u64,
    /// Bodies gzipped at level 1: the bytes on the wire.
    pub gzip: u64,
    /// Records full polling would have read.
    pub full_records: u64,
    /// Records read, by campaign kind (as [`Kind::ALL`]).
    pub by_kind: [u64; 3],
    /// Subscribers held at each poll, summed, by campaign kind.
    pub held_by_kind: [u64; 3],
}

/// The hourly table, against full polling (every record of every
/// campaign every interval, one request each, uncompressed).
pub fn hours(per_hour: &[Hour], campaigns: usize, polls_an_hour: u64) {
    let bytes_per_record = per_hour.iter().map(|h| h.plain).sum::<u64>() as f64
        / per_hour.iter().map(|h| h.records).sum::<u64>().max(1) as f64;
    let full_requests = polls_an_hour * campaigns as u64;
    println!(
        "\nper hour      requests     records   bytes (wire)   vs full: requests  records   bytes"
    );
    for (i, h) in per_hour.iter().enumerate() {
        let full_bytes = h.full_records as f64 * bytes_per_record;
        println!(
            "hour {:<3}     {:>8}  {:>10}  {:>9.1} MB           {:>8.2}x {:>7.1}x {:>6.0}x",
            i + 1,
            h.requests,
            h.records,
            h.gzip as f64 / 1e6,
            full_requests as f64 / h.requests.max(1) as f64,
            h.full_records as f64 / h.records.max(1) as f64,
            full_bytes / h.gzip.max(1) as f64,
        );
    }
    let last = per_hour[per_hour.len() - 1];
    println!(
        "full polling  {:>8}  {:>10}  {:>9.1} MB (plain, {:.0} B a record), last hour",
        full_requests,
        last.full_records,
        last.full_records as f64 * bytes_per_record / 1e6,
        bytes_per_record
    );
    println!(
        "gzip ratio of the bodies read: {:.1}x",
        per_hour.iter().map(|h| h.plain).sum::<u64>() as f64
            / per_hour.iter().map(|h| h.gzip).sum::<u64>().max(1) as f64
    );
    let steady = per_hour.get(1..).unwrap_or_default();
    if !steady.is_empty() {
        let sum = |f: fn(&Hour) -> u64| steady.iter().map(f).sum::<u64>() as f64;
        let full_bytes = sum(|h| h.full_records) * bytes_per_record;
        let records = sum(|h| h.full_records) / sum(|h| h.records).max(1.0);
        let bytes = full_bytes / sum(|h| h.gzip).max(1.0);
        println!(
            "steady hours (2+): {records:.1}x fewer records (target 20x: {}), \
             {bytes:.0}x fewer bytes (target 100x: {})",
            verdict(records, 20.0),
            verdict(bytes, 100.0),
        );
    }
}

/// Where each hour's records went: each kind's records, and how often
/// each of its subscribers was read, on average (every so many polls).
pub fn by_kind(per_hour: &[Hour]) {
    println!(
        "records by campaign kind (share of the hour's, and each subscriber read every n polls):"
    );
    let names: Vec<String> = Kind::ALL
        .iter()
        .map(|k| format!("{:<31}", k.name()))
        .collect();
    println!("              {}", names.join("").trim_end());
    for (i, h) in per_hour.iter().enumerate() {
        let cells: Vec<String> = (0..Kind::ALL.len())
            .map(|k| {
                let share = h.by_kind[k] as f64 / h.records.max(1) as f64 * 100.0;
                let every = h.held_by_kind[k] as f64 / h.by_kind[k].max(1) as f64;
                format!("{:>9} {share:>5.1}% every {every:>4.1}   ", h.by_kind[k])
            })
            .collect();
        println!("hour {:<3}  {}", i + 1, cells.join("").trim_end());
    }
}

fn verdict(got: f64, target: f64) -> String {
    if got >= target {
        "met".into()
    } else {
        format!("missed by {:.0}%", (1.0 - got / target) * 100.0)
    }
}

fn quantile(v: &[f64], p: f64) -> f64 {
    v[((v.len() - 1) as f64 * p) as usize]
}

/// p50, p90, p99 and max of `v`, and the share within `bound`.
pub fn spread(what: &str, v: &mut [f64], bound: f64) {
    if v.is_empty() {
        println!("{what}: none");
        return;
    }
    v.sort_by(f64::total_cmp);
    let within = v.iter().filter(|x| **x <= bound).count() as f64 / v.len() as f64;
    println!(
        "{what}: n={} p50 {:.0} p90 {:.0} p99 {:.0} max {:.0}; {:.1}% within {bound:.0}",
        v.len(),
        quantile(v, 0.5),
        quantile(v, 0.9),
        quantile(v, 0.99),
        quantile(v, 1.0),
        within * 100.0
    );
}

/// The lag of changes (milliseconds) in intervals: p50, p99, max, and the
/// shares seen within one and two intervals.
pub fn lag(what: &str, lags_ms: &[i64], interval_ms: i64) {
    if lags_ms.is_empty() {
        println!("  {what:<18} none");
        return;
    }
    let mut v: Vec<f64> = lags_ms
        .iter()
        .map(|l| *l as f64 / interval_ms as f64)
        .collect();
    v.sort_by(f64::total_cmp);
    let within = |n: f64| v.iter().filter(|x| **x <= n).count() as f64 / v.len() as f64 * 100.0;
    println!(
        "  {what:<18} n={:<8} p50 {:>5.2}  p99 {:>5.2}  max {:>5.2}   within 1: {:>5.1}%  within 2: {:>5.1}%",
        v.len(),
        quantile(&v, 0.5),
        quantile(&v, 0.99),
        quantile(&v, 1.0),
        within(1.0),
        within(2.0),
    );
}
