//! A campaign whose last day of subscribers keeps changing: every change
//! is read within two intervals.

use std::time::Instant;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_campaigns_changes_across_its_last_day_are_read_within_two_intervals() {
    const INTERVAL: Duration = Duration::from_millis(400);
    let ranged = Ranged::default();
    let now = now_ms();
    // 200 subscribers over the last day, one every 7 minutes.
    let inserted: Vec<i64> = (0..200)
        .map(|k| now - 10 * 60_000 - k * 7 * 60_000)
        .collect();
    for at in &inserted {
        ranged.insert(CAMPAIGN_A, *at, "sent");
    }
    let upstream = ranged_upstream(&ranged).await;
    let mut config = config(&[
        &format!("--evolux.url={}", upstream.uri()),
        &format!("--campaign={CAMPAIGN_A}"),
        "--evolux.max-rps=100",
        "--poll.verify-interval=0",
    ]);
    config.poll.interval = INTERVAL;
    // A settled segment would wait up to 20 s.
    config.poll.max_interval = Duration::from_secs(20);
    let app = spawn_app(config).await;
    app.wait_ready().await;
    // One change after another, anywhere in the day (the newest segment,
    // read every poll, aside), with pauses of up to two and a half intervals.
    let mut lags = Vec::new();
    for changed in 1..=25u32 {
        // A different subscriber each time (37 and 190 are coprime), older
        // than the newest segment.
        let pick = 9 + (changed as usize * 37) % 190;
        ranged.set_state(inserted[pick], "completed");
        let at = Instant::now();
        wait_for("the change to show", Duration::from_secs(30), || async {
            subscribers(&app.scrape().await, CAMPAIGN_A, "completed") >= changed as f64
        })
        .await;
        lags.push(at.elapsed());
        let pause = INTERVAL * ((changed * 7) % 6) / 2;
        tokio::time::sleep(pause).await;
    }
    let m = app.scrape().await;
    assert_eq!(m.campaign_total(CAMPAIGN_A), 200.0);
    let bound = INTERVAL * 2 + Duration::from_millis(200);
    let late: Vec<_> = lags.iter().filter(|l| **l > bound).collect();
    assert!(
        late.is_empty(),
        "changes seen after {lags:?}; bound {bound:?}"
    );
}
