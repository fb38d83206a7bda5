//! HTTP errors and timeouts: which are retried, how often, and how they count.

use super::*;

#[tokio::test]
async fn unauthorized_is_not_retried() {
    fault(
        "401",
        &[],
        |_| {},
        vec![report(CAMPAIGN_A).respond_with(ResponseTemplate::new(401))],
        ("401", 1),
        Reason::Auth,
    )
    .await;
}

#[tokio::test]
async fn rate_limit_is_retried_after_retry_after_and_then_succeeds() {
    let rig = start(&[CAMPAIGN_A], &[], |_| {}).await;
    let (ok, after) = good(CAMPAIGN_A, AFTER);
    let out = rig
        .poll_with([
            report(CAMPAIGN_A)
                .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
                .up_to_n_times(1)
                .with_priority(1),
            ok,
        ])
        .await;
    assert!(
        out.took >= Duration::from_millis(900),
        "the retry came {:?} after the 429, before its Retry-After: 1",
        out.took
    );
    assert_eq!(out.codes, codes(&[("429", 1.0), ("200", 1.0)]));
    assert_eq!(out.requests, 2);
    let m = &out.metrics;
    assert_eq!(m.get("evolux_up", &[]), Some(1.0), "{}", m.0);
    assert_eq!(
        m.get("evolux_campaign_up", &[("campaign", CAMPAIGN_A)]),
        Some(1.0)
    );
    assert_counts(m, CAMPAIGN_A, after, "after the retry");
}

#[tokio::test]
async fn persistent_rate_limit_fails_after_max_retries() {
    let out = fault(
        "429 persisting",
        &["--evolux.max-retries=1"],
        |_| {},
        vec![
            report(CAMPAIGN_A)
                .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1")),
        ],
        ("429", 2),
        Reason::RateLimited,
    )
    .await;
    assert!(
        out.took >= Duration::from_millis(900),
        "Retry-After: 1 honoured: {:?}",
        out.took
    );
}

#[tokio::test]
async fn persistent_server_error_is_retried_max_retries_times() {
    // config() leaves --evolux.max-retries at its default, 3.
    fault(
        "500 persisting",
        &[],
        |c| assert_eq!(c.evolux.max_retries, 3),
        vec![
            report(CAMPAIGN_A)
                .respond_with(ResponseTemplate::new(500).set_body_string("internal error")),
        ],
        ("500", 4),
        Reason::ServerError,
    )
    .await;
}

#[tokio::test]
async fn request_timeout_counts_as_error() {
    let (resp, _) = good_response(AFTER);
    let out = fault(
        "timeout",
        &["--evolux.max-retries=1"],
        // config() passes --evolux.timeout=2s and clap refuses the flag
        // twice: set the field instead.
        |c| c.evolux.timeout = Duration::from_millis(500),
        vec![report(CAMPAIGN_A).respond_with(resp.set_delay(Duration::from_secs(3)))],
        ("error", 2),
        Reason::Timeout,
    )
    .await;
    assert!(
        out.took < Duration::from_millis(2500),
        "two 500 ms timeouts took {:?}",
        out.took
    );
}
