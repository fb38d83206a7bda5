//! Start-up with more campaigns than a poll may read, a reload that adds
//! one, and three shards.

use super::*;

/// Scrapes `/readyz` then `/metrics` until `/readyz` has said 200 and
/// `after_ready` more scrapes were made; checks that from the first 200 or
/// the first `evolux_up 1` on, every campaign's total is `expected`, and
/// that a campaign's `evolux_campaign_up` appears only with its counts.
/// Returns the scrapes made before ready.
async fn watch_start_up(
    app: &TestApp,
    expected: &BTreeMap<String, f64>,
    after_ready: usize,
) -> usize {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let (mut before_ready, mut since_ready) = (0, 0);
    let mut ready = false;
    while since_ready < after_ready {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not ready within 30 s"
        );
        ready |= app.get("/readyz").await.status() == 200;
        let m = app.scrape().await;
        let up = m.get("evolux_up", &[]) == Some(1.0);
        if ready || up {
            let wrong = wrong(&m, expected);
            assert!(
                wrong.is_empty(),
                "ready {ready}, up {up}, wrong: {wrong:?}\n{}",
                m.0
            );
            since_ready += 1;
        } else {
            before_ready += 1;
        }
        for c in expected.keys() {
            if m.get("evolux_campaign_up", &[("campaign", c)]).is_some() {
                assert_eq!(
                    m.campaign_total(c),
                    expected[c],
                    "{c} is up but not counted"
                );
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    before_ready
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_campaigns_at_a_short_interval_are_complete_from_the_first_ready_scrape() {
    let ranged = Ranged::default();
    let campaigns = uuids(30);
    let expected = populate(&ranged, &campaigns);
    let upstream = ranged_upstream(&ranged).await;
    let mut config = config(&[
        &format!("--evolux.url={}", upstream.uri()),
        &format!("--campaign={}", campaigns.join(",")),
        "--evolux.max-rps=16",
    ]);
    // 0.8 × 16/s × 0.5 s: six reads a poll for thirty campaigns.
    config.poll.interval = Duration::from_millis(500);
    config.poll.budget = 6;
    let app = spawn_app(config).await;
    let before_ready = watch_start_up(&app, &expected, 15).await;
    assert!(
        before_ready > 0,
        "thirty campaigns at six reads a poll cannot be ready at once"
    );
    // The first reads (each campaign's two halves and its whole read)
    // came before anything else.
    let arrivals = ranged.arrivals();
    let firsts: Vec<_> = arrivals.iter().take(30 * FIRST_POLL_READS).collect();
    let wholes: Vec<_> = firsts
        .iter()
        .filter(|a| a.start.is_none() && a.end.is_none())
        .collect();
    assert_eq!(wholes.len(), 30, "{firsts:?}");
    let mut read: Vec<_> = wholes.iter().filter_map(|a| a.campaign.clone()).collect();
    read.sort();
    assert_eq!(read, campaigns, "every campaign read once before any twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_added_by_a_reload_is_read_whole_at_the_next_poll() {
    let ranged = Ranged::default();
    let campaigns = uuids(3);
    let expected = populate(&ranged, &campaigns);
    let upstream = ranged_upstream(&ranged).await;
    let args = |n: usize| {
        config(&[
            &format!("--evolux.url={}", upstream.uri()),
            &format!("--campaign={}", campaigns[..n].join(",")),
        ])
    };
    let app = spawn_app(args(2)).await;
    app.wait_ready().await;
    // Segmented by now: the verification and a few polls.
    for _ in 0..3 {
        app.poller.poll_once().await;
    }
    let before = ranged.arrivals().len();
    app.poller
        .set_campaigns(args(3).poll_campaigns(), Vec::new());
    assert_eq!(
        app.get("/readyz").await.status(),
        503,
        "the new campaign is not read yet"
    );
    app.poller.poll_once().await;
    let new: Vec<_> = ranged.arrivals()[before..]
        .iter()
        .filter(|a| a.campaign.as_deref() == Some(campaigns[2].as_str()))
        .cloned()
        .collect();
    // Its halves, its whole read, then the check refined where one half
    // held every record.
    assert!(new.len() >= FIRST_POLL_READS, "{new:?}");
    let whole = &new[FIRST_POLL_READS - 1];
    assert!(whole.start.is_none() && whole.end.is_none(), "{new:?}");
    assert_eq!(app.get("/readyz").await.status(), 200);
    let m = app.scrape().await;
    assert!(wrong(&m, &expected).is_empty(), "{}", m.0);
    assert_eq!(m.get("evolux_up", &[]), Some(1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_shards_each_export_their_whole_share_from_their_first_ready_scrape() {
    let ranged = Ranged::default();
    let campaigns = uuids(12);
    let expected = populate(&ranged, &campaigns);
    let upstream = ranged_upstream(&ranged).await;
    let mut shards = Vec::new();
    for index in 0..3 {
        let mut config = config(&[
            &format!("--evolux.url={}", upstream.uri()),
            &format!("--campaign={}", campaigns.join(",")),
            &format!("--shard.index={index}"),
            "--shard.count=3",
            "--evolux.max-rps=5",
        ]);
        // 0.8 × 5/s × 0.5 s: two reads a poll.
        config.poll.interval = Duration::from_millis(500);
        config.poll.budget = 2;
        let share: BTreeMap<String, f64> = config
            .poll_campaigns()
            .iter()
            .map(|c| (c.uuid.to_string(), expected[&c.uuid.to_string()]))
            .collect();
        shards.push((spawn_app(config).await, share));
    }
    let mut shares = Vec::new();
    for (app, share) in &shards {
        watch_start_up(app, share, 5).await;
        let m = app.scrape().await;
        let exported = m
            .samples("evolux_campaign_up")
            .filter_map(|(l, _)| l.into_iter().find(|(k, _)| k == "campaign").map(|(_, v)| v))
            .count();
        assert_eq!(exported, share.len(), "only its own share: {}", m.0);
        shares.extend(share.keys().cloned());
    }
    shares.sort();
    assert_eq!(shares, campaigns, "the shares make the whole");
}
