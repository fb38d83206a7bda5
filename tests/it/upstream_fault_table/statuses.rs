//! Error statuses and `Retry-After` dates.

use super::*;

/// 403 and 404 fail at once; 429 without `Retry-After`, 500 and 502 are
/// retried with backoff, then fail. Either way the counts stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_statuses_keep_the_last_good_counts() {
    for f in STATUS_FAULTS {
        let what = format!("HTTP {}", f.status);
        let rig = rig(&[], |c| assert_eq!(c.evolux.max_retries, 3)).await;
        rig.arm([report(&rig.campaign)
            .respond_with(ResponseTemplate::new(f.status).set_body_json(echoing_body()))])
            .await;
        let run = poll_scraping(&rig.app, Duration::from_secs(5), rig.as_before()).await;
        assert_eq!(run.report.failed, 1, "{what}");
        rig.assert_kept(&run.metrics, &what);
        assert_eq!(
            run.codes,
            codes(&[(&f.status.to_string(), f.requests as f64)]),
            "{what}"
        );
        assert_eq!(rig.requests().await, f.requests, "{what}: requests");
        rig.assert_failed_as(f.reason).await;
        assert_failure_logged(&rig.campaign, 1, f.reason);
        rig.assert_recovers(&what).await;
    }
}

/// `Retry-After` as an HTTP-date: in the past it means now, a couple of
/// seconds ahead is waited for, an hour ahead (past `retry_max_delay`, 3 s in
/// tests) fails the poll at once instead of stalling it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_date_retry_after_is_waited_for_unless_past_the_retry_limit() {
    struct Case {
        /// Whole seconds from the next whole second.
        offset_secs: i64,
        /// Most the poll may take.
        max: Duration,
        succeeds: bool,
    }
    let cases = [
        Case {
            offset_secs: -60,
            max: Duration::from_millis(800),
            succeeds: true,
        },
        // Waited for: between 1 and 2 s from now.
        Case {
            offset_secs: 1,
            max: Duration::from_millis(2900),
            succeeds: true,
        },
        Case {
            offset_secs: 3600,
            max: Duration::from_millis(800),
            succeeds: false,
        },
    ];
    for case in cases {
        let what = format!("Retry-After {:+} s as a date", case.offset_secs);
        let rig = rig(&[], |_| {}).await;
        // A whole second, so that the date says exactly `at`.
        let unix = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
            + 1
            + case.offset_secs;
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(unix as u64);
        let date = httpdate::fmt_http_date(at);
        let (ok, after) = good_response(&rig.campaign, AFTER);
        rig.arm([
            report(&rig.campaign)
                .respond_with(
                    ResponseTemplate::new(429)
                        .insert_header("Retry-After", date.as_str())
                        .set_body_json(echoing_body()),
                )
                .up_to_n_times(1)
                .with_priority(1),
            report(&rig.campaign).respond_with(ok).with_priority(10),
        ])
        .await;
        let run = poll_scraping(&rig.app, Duration::from_secs(6), rig.as_before()).await;
        assert!(
            run.took <= case.max,
            "{what}: the poll took {:?}, more than {:?}",
            run.took,
            case.max
        );
        let m = &run.metrics;
        if case.succeeds {
            assert_eq!(run.codes, codes(&[("429", 1.0), ("200", 1.0)]), "{what}");
            assert_eq!(rig.requests().await, 2, "{what}");
            assert_eq!(m.get("evolux_up", &[]), Some(1.0), "{what}\n{}", m.0);
            assert_counts(m, &rig.campaign, TEMPLATE_1, &six(after));
            assert!(last_success(m, &rig.campaign).unwrap() > rig.last_success);
            if case.offset_secs > 0 {
                // The retry waited for the date (10 ms for clock reading).
                let ended = run.started_at + run.took + Duration::from_millis(10);
                assert!(
                    ended >= at,
                    "{what}: the poll ended at {ended:?}, before {at:?}"
                );
                assert!(
                    run.scrapes >= 5,
                    "{what}: only {} scrapes while the poll waited",
                    run.scrapes
                );
            }
        } else {
            assert_eq!(run.codes, codes(&[("429", 1.0)]), "{what}");
            assert_eq!(rig.requests().await, 1, "{what}");
            rig.assert_kept(m, &what);
            rig.assert_failed_as(Reason::RateLimited).await;
            assert_failure_logged(&rig.campaign, 1, Reason::RateLimited);
        }
    }
}
