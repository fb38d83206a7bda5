//! How segment reads tile the axis and follow changes, and a server that ignores
//! `start` and `end`.

use super::*;

#[tokio::test]
async fn segment_queries_tile_the_axis_at_the_millisecond_and_count_boundary_subscribers_once() {
    let ranged = Ranged::default();
    // Subscribers on both sides of every place the first segments may be
    // cut (one interval, 1 h, 1 d, 7 d, 30 d and 365 d before the seal),
    // for each second the first poll may start in.
    let before = now_ms();
    let interval = HOUR_MS;
    let mut inserted = 0;
    for back in [0, HOUR_MS, DAY_MS, 7 * DAY_MS, 30 * DAY_MS, 365 * DAY_MS] {
        for second in 0..4 {
            let cut = second_end(before + second * 1000 - interval) - back;
            for off in -1..=2 {
                ranged.insert(CAMPAIGN_A, cut + off, "sent");
                inserted += 1;
            }
        }
    }
    let upstream = ranged_upstream(&ranged).await;
    let app = spawn_app(config(&[
        &format!("--evolux.url={}", upstream.uri()),
        &format!("--campaign={CAMPAIGN_A}"),
        "--poll.max-interval=8h",
    ]))
    .await;
    app.wait_ready().await;

    // The first poll reads the campaign whole, after the two halves that
    // check it, and counts it from that read.
    let arrivals = ranged.arrivals();
    assert_eq!(arrivals.len(), FIRST_POLL_READS, "{arrivals:?}");
    let whole = &arrivals[FIRST_POLL_READS - 1];
    assert!(whole.start.is_none() && whole.end.is_none());
    let (lower, upper) = (&arrivals[0], &arrivals[1]);
    assert!(lower.start.is_none() && upper.end.is_none(), "{arrivals:?}");
    let m = app.scrape().await;
    assert_eq!(subscribers(&m, CAMPAIGN_A, "sent"), inserted as f64);
    ranged.clear_arrivals();

    // The second is the first verification: every segment, then the whole
    // campaign, then the newest segment again.
    app.poller.poll_once().await;
    let arrivals = ranged.arrivals();
    assert!(arrivals.iter().all(|a| a.gzip), "gzip is asked for");
    let whole: Vec<_> = arrivals
        .iter()
        .filter(|a| a.start.is_none() && a.end.is_none())
        .collect();
    assert_eq!(whole.len(), 1, "one unsegmented read");
    let mut ranges: Vec<(Option<String>, Option<String>)> = arrivals
        .iter()
        .filter(|a| a.start.is_some() || a.end.is_some())
        .map(|a| (a.start.clone(), a.end.clone()))
        .collect();
    ranges.sort();
    ranges.dedup();
    assert_eq!(ranges.len(), 7, "{ranges:?}");
    // Sorted by start, `None` (the oldest) first: each end is followed by a
    // start one millisecond later, as `...59.999Z` then `...00.000Z`.
    assert!(ranges[0].0.is_none() && ranges[6].1.is_none(), "{ranges:?}");
    for pair in ranges.windows(2) {
        let end = pair[0].1.as_deref().expect("an end");
        let start = pair[1].0.as_deref().expect("a start");
        assert!(
            end.ends_with(".999Z") && start.ends_with(".000Z"),
            "{end} {start}"
        );
        let end_ms = chrono::DateTime::parse_from_rfc3339(end)
            .unwrap()
            .timestamp_millis();
        let start_ms = chrono::DateTime::parse_from_rfc3339(start)
            .unwrap()
            .timestamp_millis();
        assert_eq!(start_ms, end_ms + 1, "{end} then {start}");
    }
    let m = app.scrape().await;
    assert_eq!(
        subscribers(&m, CAMPAIGN_A, "sent"),
        inserted as f64,
        "{}",
        m.0
    );
    assert_eq!(
        m.get("evolux_campaign_segments", &[("campaign", CAMPAIGN_A)]),
        Some(7.0)
    );
    assert_eq!(
        m.get(
            "evolux_campaign_verification_mismatches_total",
            &[("campaign", CAMPAIGN_A)]
        ),
        None,
        "the verification agreed"
    );
    assert_eq!(
        m.get("evolux_poll_max_interval_seconds", &[]),
        Some(8.0 * 3600.0)
    );
    // Records read: the whole campaign twice (and once more in the first
    // poll's halves), every segment once, and the newest segment again.
    let newest_start = chrono::DateTime::parse_from_rfc3339(ranges[6].0.as_deref().unwrap())
        .unwrap()
        .timestamp_millis();
    let newest = ranged
        .subs
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.at_ms >= newest_start)
        .count();
    assert_eq!(
        m.get("evolux_api_records_total", &[]),
        Some((4 * inserted + newest) as f64)
    );
    let refreshed = m
        .get(
            "evolux_campaign_refreshed_timestamp_seconds",
            &[("campaign", CAMPAIGN_A)],
        )
        .expect("refreshed");
    assert!(
        (refreshed - before as f64 / 1000.0).abs() < 10.0,
        "{refreshed}"
    );
}

#[tokio::test]
async fn changes_show_in_the_newest_segment_within_an_interval_and_in_old_ones_within_max_interval()
{
    let ranged = Ranged::default();
    let now = now_ms();
    let old = now - 3 * DAY_MS;
    ranged.insert(CAMPAIGN_A, old, "sent");
    ranged.insert(CAMPAIGN_A, now - 2 * HOUR_MS, "sent");
    let upstream = ranged_upstream(&ranged).await;
    let mut config = config(&[
        &format!("--evolux.url={}", upstream.uri()),
        &format!("--campaign={CAMPAIGN_A}"),
        "--evolux.max-rps=100",
        "--poll.verify-interval=0",
    ]);
    // A poll every 500 ms, every segment read again within 3 s.
    config.poll.interval = Duration::from_millis(500);
    config.poll.max_interval = Duration::from_secs(3);
    let app = spawn_app(config).await;
    app.wait_ready().await;
    // Let the old segment settle into its longest gap.
    tokio::time::sleep(Duration::from_secs(5)).await;

    ranged.insert(CAMPAIGN_A, now_ms(), "pending");
    let inserted = Instant::now();
    wait_for("the insert to show", Duration::from_secs(5), || async {
        subscribers(&app.scrape().await, CAMPAIGN_A, "pending") == 1.0
    })
    .await;
    let took = inserted.elapsed();
    assert!(
        took <= Duration::from_millis(1500),
        "an insert took {took:?}, over an interval and its slack"
    );

    ranged.set_state(old, "completed");
    let changed = Instant::now();
    wait_for(
        "the old change to show",
        Duration::from_secs(10),
        || async { subscribers(&app.scrape().await, CAMPAIGN_A, "completed") == 1.0 },
    )
    .await;
    let took = changed.elapsed();
    assert!(
        took <= Duration::from_millis(4000),
        "an old change took {took:?}, over max-interval and a poll"
    );
    let m = app.scrape().await;
    assert_eq!(subscribers(&m, CAMPAIGN_A, "sent"), 1.0, "{}", m.0);
    // Staleness stays within the bound.
    let refreshed = m
        .get(
            "evolux_campaign_refreshed_timestamp_seconds",
            &[("campaign", CAMPAIGN_A)],
        )
        .unwrap();
    let age = now_ms() as f64 / 1000.0 - refreshed;
    assert!(age <= 3.0 + 1.5, "worst staleness {age}s");
}

#[tokio::test]
async fn a_server_that_ignores_start_and_end_is_caught_falls_back_to_whole_reads_and_recovers() {
    let ranged = Ranged::default();
    let now = now_ms();
    for h in 0..50 {
        ranged.insert(CAMPAIGN_A, now - h * 7 * HOUR_MS, "sent");
    }
    ranged.ignore_range.store(true, Ordering::SeqCst);
    let upstream = ranged_upstream(&ranged).await;
    let mut config = config(&[
        &format!("--evolux.url={}", upstream.uri()),
        &format!("--campaign={CAMPAIGN_A}"),
        "--poll.max-interval=8h",
        "--evolux.max-rps=100",
    ]);
    // Verify at every poll.
    config.poll.verify_interval = Some(Duration::from_millis(1));
    let app = spawn_app(config).await;
    app.wait_ready().await;
    // The first poll's check catches it: both halves answer what the whole
    // read does.
    let mismatches = |m: &Metrics| {
        m.get(
            "evolux_campaign_verification_mismatches_total",
            &[("campaign", CAMPAIGN_A)],
        )
    };
    let m = app.scrape().await;
    assert_eq!(mismatches(&m), Some(1.0), "{}", m.0);
    assert_eq!(
        subscribers(&m, CAMPAIGN_A, "sent"),
        50.0,
        "whole reads count right"
    );
    assert_eq!(
        m.get("evolux_campaign_segments", &[("campaign", CAMPAIGN_A)]),
        Some(1.0)
    );
    assert_eq!(
        m.get("evolux_campaign_up", &[("campaign", CAMPAIGN_A)]),
        Some(1.0)
    );

    // Still wrong: verified again (and disagreeing), counted by whole reads.
    ranged.clear_arrivals();
    app.poller.poll_once().await;
    let m = app.scrape().await;
    assert_eq!(mismatches(&m), Some(2.0));
    assert_eq!(subscribers(&m, CAMPAIGN_A, "sent"), 50.0);
    assert!(
        ranged
            .arrivals()
            .iter()
            .any(|a| a.start.is_none() && a.end.is_none())
    );

    // Fixed: the next verification agrees and segments come back.
    ranged.ignore_range.store(false, Ordering::SeqCst);
    app.poller.poll_once().await;
    let m = app.scrape().await;
    assert_eq!(mismatches(&m), Some(2.0));
    assert_eq!(
        m.get("evolux_campaign_segments", &[("campaign", CAMPAIGN_A)]),
        Some(7.0)
    );
    assert_eq!(subscribers(&m, CAMPAIGN_A, "sent"), 50.0);
    // And it stays segmented: the next verification agrees too.
    app.poller.poll_once().await;
    let m = app.scrape().await;
    assert_eq!(
        m.get("evolux_campaign_segments", &[("campaign", CAMPAIGN_A)]),
        Some(7.0)
    );
    assert_eq!(mismatches(&m), Some(2.0));
}
