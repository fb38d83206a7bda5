//! Limits on segment reads: decoded size, `Retry-After`, and the budget of a poll.

use super::*;

#[tokio::test]
async fn a_gzip_bomb_fails_the_read_at_the_decoded_limit() {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(b"{\"data\":[").unwrap();
    let spaces = vec![b' '; 1 << 20];
    for _ in 0..256 {
        enc.write_all(&spaces).unwrap();
    }
    enc.write_all(b"]}").unwrap();
    let bomb = enc.finish().unwrap();
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(REPORT_PATH))
        .and(query_param("campaigns[]", CAMPAIGN_A))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-encoding", "gzip")
                .set_body_raw(bomb.clone(), "application/json"),
        )
        .mount(&upstream)
        .await;
    let app = spawn_app(config(&[
        &format!("--evolux.url={}", upstream.uri()),
        &format!("--campaign={CAMPAIGN_A}"),
        "--evolux.max-response-size=16MiB",
    ]))
    .await;
    app.wait_ready().await;
    let snapshot = app.poller.published().snapshot();
    let error = snapshot.campaigns[CAMPAIGN_A]
        .error
        .clone()
        .map(|f| f.message)
        .unwrap_or_default();
    assert!(error.contains("max-response-size"), "{error}");
    let m = app.scrape().await;
    assert_eq!(
        m.get("evolux_campaign_up", &[("campaign", CAMPAIGN_A)]),
        Some(0.0)
    );
    // Bytes are counted as on the wire: a fraction of the compressed body
    // (the read stopped at 16 MiB decoded), not hundreds of megabytes.
    let wire = m.get("evolux_api_response_bytes_total", &[]).unwrap();
    assert!(
        wire > 0.0 && wire <= bomb.len() as f64,
        "{wire} of {}",
        bomb.len()
    );
}

#[tokio::test]
async fn a_retry_after_holds_back_every_read_to_the_server() {
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(REPORT_PATH))
        .and(query_param("campaigns[]", CAMPAIGN_A))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&upstream)
        .await;
    Mock::given(method("GET"))
        .and(path(REPORT_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"data": []})))
        .with_priority(5)
        .mount(&upstream)
        .await;
    // One request at a time: A goes first and is refused; B's read is next
    // in line. Without a shared pause B would start at once.
    let app = spawn_app(config(&[
        &format!("--evolux.url={}", upstream.uri()),
        &format!("--campaign={CAMPAIGN_A}"),
        &format!("--campaign={CAMPAIGN_B}"),
        "--evolux.max-concurrency=1",
    ]))
    .await;
    app.wait_ready().await;
    let requests = upstream.received_requests().await.unwrap();
    let campaign_of = |r: &wiremock::Request| {
        r.url
            .query_pairs()
            .find(|(k, _)| k == "campaigns[]")
            .map(|(_, v)| v.into_owned())
    };
    let order: Vec<String> = requests.iter().filter_map(campaign_of).collect();
    // A's first read is refused; every read waits (B's too), and A's is
    // made again: each campaign's first poll, and A's retry.
    assert_eq!(order[0], CAMPAIGN_A, "{order:?}");
    let count = |c: &str| order.iter().filter(|o| *o == c).count();
    assert_eq!(
        (count(CAMPAIGN_A), count(CAMPAIGN_B)),
        (FIRST_POLL_READS + 1, FIRST_POLL_READS),
        "{order:?}"
    );
    let snapshot = app.poller.published().snapshot();
    let b = &snapshot.campaigns[CAMPAIGN_B];
    assert!(b.up, "{:?}", b.error);
    let waited = b.poll_duration.unwrap();
    assert!(
        waited >= Duration::from_millis(950),
        "B's read went after {waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_due_reads_are_spread_over_polls_within_the_limits() {
    const N: usize = 40;
    const MAX_RPS: f64 = 100.0;
    const MAX_CONCURRENCY: usize = 4;
    const BUDGET: usize = 150;
    let ranged = Ranged::default();
    ranged.delay_ms.store(15, Ordering::SeqCst);
    let campaigns: Vec<String> = (0..N)
        .map(|i| format!("00000000-0000-4000-8000-{i:012}"))
        .collect();
    let now = now_ms();
    for (i, c) in campaigns.iter().enumerate() {
        for k in 0..5 {
            ranged.insert(c, now - (i as i64 + 1) * k * DAY_MS - 1000, "sent");
        }
    }
    let upstream = ranged_upstream(&ranged).await;
    let mut config = config(&[
        &format!("--evolux.url={}", upstream.uri()),
        &format!("--campaign={}", campaigns.join(",")),
        "--poll.max-interval=8h",
        &format!("--evolux.max-rps={MAX_RPS}"),
        &format!("--evolux.max-concurrency={MAX_CONCURRENCY}"),
    ]);
    // 40 campaigns, each read whole first (40 reads), then its 7 segments
    // verified: 360 reads due, against 150 a poll.
    config.poll.budget = BUDGET;
    let app = spawn_app(config).await;
    app.wait_ready().await;
    // From the first ready scrape on, every campaign has all its counts.
    let m = app.scrape().await;
    for c in &campaigns {
        assert_eq!(m.campaign_total(c), 5.0, "{c}: {}", m.0);
    }
    assert_eq!(m.get("evolux_up", &[]), Some(1.0));
    let whole_reads = || {
        ranged
            .arrivals()
            .iter()
            .filter(|a| a.start.is_none() && a.end.is_none())
            .count()
    };
    assert_eq!(whole_reads(), N, "the first poll reads each campaign whole");
    let mut polls = 1;
    let mut reads = vec![ranged.arrivals().len()];
    // Until every campaign's verification (its second whole read) is made.
    while whole_reads() < 2 * N {
        assert!(
            polls < 6,
            "{} of {N} verified after {polls} polls",
            whole_reads() - N
        );
        let before = ranged.arrivals().len();
        let report = app.poller.poll_once().await;
        assert_eq!(report.queries, ranged.arrivals().len() - before);
        reads.push(report.queries);
        polls += 1;
        let m = app.scrape().await;
        for c in &campaigns {
            assert_eq!(m.campaign_total(c), 5.0, "poll {polls}, {c}");
        }
    }
    assert!(
        polls >= 4,
        "360 reads cannot fit two polls of {BUDGET}: {reads:?}"
    );
    assert!(
        reads.iter().all(|r| *r <= BUDGET),
        "reads per poll {reads:?}"
    );
    // Every poll after the first read every campaign's newest segment.
    let arrivals = ranged.arrivals();
    let newest = arrivals
        .iter()
        .filter(|a| a.start.is_some() && a.end.is_none())
        .count();
    assert!(
        newest >= N * (polls - 1),
        "{newest} newest reads in {polls} polls"
    );
    // At the upstream: never more in flight than allowed (each answer is
    // held 15 ms, inside the client's permit), never more starts in a second.
    let starts: Vec<Instant> = arrivals.iter().map(|a| a.at).collect();
    let held = Duration::from_millis(15);
    for (i, s) in starts.iter().enumerate() {
        let overlapping = starts[..i].iter().filter(|t| **t + held > *s).count() + 1;
        assert!(
            overlapping <= MAX_CONCURRENCY,
            "{overlapping} in flight at request {i}"
        );
        let in_second = starts[i..]
            .iter()
            .take_while(|t| **t < *s + Duration::from_secs(1))
            .count();
        assert!(
            in_second as f64 <= MAX_RPS,
            "{in_second} starts within a second of request {i}"
        );
    }
}

#[tokio::test]
async fn an_absurd_retry_after_fails_the_read_without_stopping_the_poll() {
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(REPORT_PATH))
        .and(query_param("campaigns[]", CAMPAIGN_A))
        .respond_with(
            ResponseTemplate::new(429).insert_header("retry-after", "18446744073709551615"),
        )
        .mount(&upstream)
        .await;
    Mock::given(method("GET"))
        .and(path(REPORT_PATH))
        .and(query_param("campaigns[]", CAMPAIGN_B))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"data": [
                {"state": "sent", "template_uuid": TEMPLATE_1}
            ]})),
        )
        .mount(&upstream)
        .await;
    let app = spawn_app(config(&[
        &format!("--evolux.url={}", upstream.uri()),
        &format!("--campaign={CAMPAIGN_A}"),
        &format!("--campaign={CAMPAIGN_B}"),
    ]))
    .await;
    app.wait_ready().await;
    let snapshot = app.poller.published().snapshot();
    let a = &snapshot.campaigns[CAMPAIGN_A];
    assert!(!a.up);
    assert!(
        a.error
            .as_ref()
            .is_some_and(|f| f.message.contains("Retry-After")),
        "{:?}",
        a.error
    );
    assert!(snapshot.campaigns[CAMPAIGN_B].up);
    // The poller is alive: a second poll runs and ends.
    let report = app.poller.poll_once().await;
    assert_eq!(report.failed, 1);
    assert_eq!(subscribers(&app.scrape().await, CAMPAIGN_B, "sent"), 1.0);
}
