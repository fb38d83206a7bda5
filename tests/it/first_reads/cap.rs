//! A server that honours `start` and `end` but cuts every answer at 200
//! records, saying nothing: the first poll's check catches it, the
//! campaign is down without counts until its segments are below the cap,
//! then up with the exact counts. The same data from a server without a
//! cap is counted from the first poll.

use std::sync::atomic::Ordering;

use super::*;

const STATES: [&str; 4] = ["pending", "sent", "completed", "error"];

/// 600 subscribers of each campaign over the last 300 days, oldest first,
/// a quarter in each state by age (so reads of different ranges count
/// differently).
fn populate_600(ranged: &Ranged, campaigns: &[String]) {
    let now = now_ms();
    for c in campaigns {
        for k in 0..600i64 {
            let at = now - 300 * DAY_MS + k * (300 * DAY_MS / 600) + 7;
            ranged.insert(c, at, STATES[(k / 150) as usize]);
        }
    }
}

fn app_config(url: &str, campaigns: &[String]) -> evolux_exporter::config::Config {
    config(&[
        &format!("--evolux.url={url}"),
        &format!("--campaign={}", campaigns.join(",")),
        "--poll.max-interval=8h",
    ])
}

fn exact(m: &Metrics, campaign: &str) -> bool {
    STATES.iter().all(|s| subscribers(m, campaign, s) == 150.0)
        && m.campaign_total(campaign) == 600.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_cap_is_caught_at_the_first_poll_and_counts_show_once_segments_are_below_it() {
    let ranged = Ranged::default();
    ranged.cap.store(200, Ordering::SeqCst);
    let campaigns = uuids(2);
    populate_600(&ranged, &campaigns);
    let upstream = ranged_upstream(&ranged).await;
    let app = spawn_app(app_config(&upstream.uri(), &campaigns)).await;
    // Ready: read once, and failed.
    app.wait_ready().await;
    let m = app.scrape().await;
    assert_eq!(m.get("evolux_up", &[]), Some(0.0), "{}", m.0);
    for c in &campaigns {
        let of = |name: &str| m.get(name, &[("campaign", c.as_str())]);
        assert_eq!(of("evolux_campaign_up"), Some(0.0), "{}", m.0);
        assert_eq!(of("evolux_campaign_subscribers"), None, "{}", m.0);
        assert_eq!(
            of("evolux_campaign_verification_mismatches_total"),
            Some(1.0)
        );
        assert_eq!(
            m.get(
                "evolux_campaign_poll_errors_total",
                &[("campaign", c.as_str()), ("reason", "incomplete")]
            ),
            Some(1.0),
            "{}",
            m.0
        );
    }
    let failure = app.poller.published().snapshot().campaigns[&campaigns[0]]
        .error
        .clone()
        .expect("a failure");
    assert!(
        failure.message.contains("cut answers at 200 records"),
        "{failure:?}"
    );
    // The segments at the cap are split at each poll until none is.
    wait_for(
        "every segment below the cap",
        Duration::from_secs(30),
        || async {
            app.poller.poll_once().await;
            let m = app.scrape().await;
            m.get("evolux_up", &[]) == Some(1.0)
        },
    )
    .await;
    let m = app.scrape().await;
    for c in &campaigns {
        assert!(exact(&m, c), "{c}\n{}", m.0);
        assert_eq!(
            m.get("evolux_campaign_up", &[("campaign", c.as_str())]),
            Some(1.0)
        );
        // Said once: no mismatch more while splitting.
        assert_eq!(
            m.get(
                "evolux_campaign_verification_mismatches_total",
                &[("campaign", c.as_str())]
            ),
            Some(1.0)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_cap_the_same_campaigns_are_counted_from_the_first_poll_in_three_reads_each() {
    let ranged = Ranged::default();
    let campaigns = uuids(2);
    populate_600(&ranged, &campaigns);
    let upstream = ranged_upstream(&ranged).await;
    let app = spawn_app(app_config(&upstream.uri(), &campaigns)).await;
    app.wait_ready().await;
    let m = app.scrape().await;
    assert_eq!(m.get("evolux_up", &[]), Some(1.0), "{}", m.0);
    for c in &campaigns {
        assert!(exact(&m, c), "{c}\n{}", m.0);
        assert_eq!(
            m.get(
                "evolux_campaign_verification_mismatches_total",
                &[("campaign", c.as_str())]
            ),
            None
        );
        let reads = ranged
            .arrivals()
            .iter()
            .filter(|a| a.campaign.as_deref() == Some(c.as_str()))
            .count();
        assert_eq!(reads, FIRST_POLL_READS, "{c}");
    }
}
