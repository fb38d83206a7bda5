//! Bodies that are odd: invalid UTF-8, deep nesting, wrong types, endless pages,
//! a campaign that does not exist.

use super::*;

/// Bytes that are not UTF-8 inside strings. In a field nobody reads (a name,
/// a custom field) they are skipped; as a state or template they become the
/// label `invalid`; a `\u` escape that is no character makes the record
/// invalid: skipped, counted and logged. The poll succeeds and /metrics
/// stays valid UTF-8.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_in_string_fields_is_skipped_or_labelled_invalid_and_the_poll_succeeds() {
    let rig = rig(&[], |_| {}).await;
    let t1 = TEMPLATE_1.as_bytes();
    let records: Vec<Vec<u8>> = vec![
        [
            &b"{\"state\":\"sent\",\"template_uuid\":\""[..],
            t1,
            b"\",\"name\":\"Maria do Carmo \xff\xfe\",\"phone_number\":\"5511998811220\"}",
        ]
        .concat(),
        [
            &b"{\"state\":\"sent\",\"template_uuid\":\""[..],
            t1,
            b"\",\"conversation_fields\":{\"CPF\":\"111.111.111-11\xc0\"}}",
        ]
        .concat(),
        [
            &b"{\"state\":\"\xc3\x28\",\"template_uuid\":\""[..],
            t1,
            b"\"}",
        ]
        .concat(),
        b"{\"state\":\"dnd\",\"template_uuid\":\"\xed\xa0\x80-template\"}".to_vec(),
        [
            &b"{\"state\":\"completed\",\"template_uuid\":\""[..],
            t1,
            b"\",\"template_name\":\"Boas-vindas \xff\"}",
        ]
        .concat(),
        [
            &b"{\"state\":\"\\ud800\",\"template_uuid\":\""[..],
            t1,
            b"\",\"name\":\"Maria do Carmo\"}",
        ]
        .concat(),
    ];
    let mut body = b"{\"data\":[".to_vec();
    body.extend(records.join(&b","[..]));
    body.extend_from_slice(b"]}");
    assert!(std::str::from_utf8(&body).is_err());
    rig.arm([report(&rig.campaign)
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))])
        .await;
    let run = poll_scraping(&rig.app, Duration::from_secs(5), rig.as_before()).await;
    assert_eq!(run.report.failed, 0);
    assert_eq!(
        run.report.records, 5,
        "the record with \\ud800 is not counted"
    );
    assert_eq!(run.codes, codes(&[("200", 1.0)]));
    let m = &run.metrics;
    assert_eq!(m.get("evolux_up", &[]), Some(1.0), "{}", m.0);
    assert_eq!(
        m.get("evolux_campaign_up", &[("campaign", &rig.campaign)]),
        Some(1.0)
    );
    let mut t1_counts = six([0, 0, 2, 0, 1, 0]);
    t1_counts.push(("invalid", 1));
    assert_counts(m, &rig.campaign, TEMPLATE_1, &t1_counts);
    assert_counts(m, &rig.campaign, "invalid", &six([0, 0, 0, 1, 0, 0]));
    assert_eq!(subscriber_series(m, &rig.campaign), 13);

    let raw = rig.app.get("/metrics").await.bytes().await.unwrap();
    let text = std::str::from_utf8(&raw).expect("/metrics is UTF-8");
    for secret in PERSONAL_DATA {
        assert!(!text.contains(secret), "/metrics leaks {secret}");
    }
    let warned = logs().lines_with(&[
        &format!("campaign={}", rig.campaign),
        "invalid=1",
        "not valid JSON were skipped",
    ]);
    assert_eq!(warned.len(), 1, "{}", logs().text());
    assert!(warned[0].contains("level=warn"));
    logs().assert_clean();
}

/// A million nested arrays. Never a stack overflow: unclosed, it is a
/// truncated body; closed, as the whole body, it is a records array holding
/// one element that is not a record, which fails the query; inside a
/// record, the record passes the 1 MiB record limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_nested_a_million_levels_deep_fails_or_passes_without_overflowing_the_stack() {
    const DEPTH: usize = 1_000_000;
    let open = "[".repeat(DEPTH);
    let close = "]".repeat(DEPTH);

    // `[[[[…` and the body ends.
    let rig = rig(&[], |_| {}).await;
    rig.arm([report(&rig.campaign)
        .respond_with(ResponseTemplate::new(200).set_body_raw(open.clone(), "application/json"))])
        .await;
    let run = poll_scraping(&rig.app, Duration::from_secs(10), rig.as_before()).await;
    rig.assert_kept(&run.metrics, "unclosed nesting");
    assert_eq!(run.codes, codes(&[("200", 1.0)]));
    rig.assert_failed_as(Reason::BadBody).await;
    assert_failure_logged(&rig.campaign, 1, Reason::BadBody);
    rig.assert_recovers("unclosed nesting").await;

    // A record with a million-deep value: over the record size limit.
    let rig = rig_with_body(format!(
        r#"{{"data":[{{"state":"sent","template_uuid":"{TEMPLATE_1}","extra":{open}{close}}}]}}"#
    ))
    .await;
    let run = poll_scraping(&rig.app, Duration::from_secs(10), rig.as_before()).await;
    rig.assert_kept(&run.metrics, "deep record");
    rig.assert_failed_as(Reason::BadBody).await;
    assert_failure_logged(&rig.campaign, 1, Reason::BadBody);

    // `[[[[…]]]]`, closed: valid JSON, read as a records array whose one
    // element is not a record. Nothing usable came: the query fails and
    // the last good counts stay.
    let rig = rig_with_body(format!("{open}{close}")).await;
    let run = poll_scraping(&rig.app, Duration::from_secs(10), rig.as_before()).await;
    assert_eq!(run.report.failed, 1);
    rig.assert_kept(&run.metrics, "closed nesting");
    rig.assert_failed_as(Reason::BadBody).await;
    assert_failure_logged(&rig.campaign, 1, Reason::BadBody);
    logs().assert_clean();
}

/// A rig whose upstream answers the next poll with `body` (as JSON).
async fn rig_with_body(body: String) -> Rig {
    let rig = rig(&[], |_| {}).await;
    rig.arm([report(&rig.campaign)
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))])
        .await;
    rig
}

/// Fields of the wrong JSON type are treated as missing: the record still
/// counts, under `template="unknown"` / `state="unknown"`, never dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_of_the_wrong_type_count_as_unknown() {
    let rig = rig(&[], |_| {}).await;
    let body = json!({"data": [
        {"state": 3, "template": [TEMPLATE_1], "name": "Maria do Carmo"},
        {"state": "sent", "template_uuid": 42},
        {"state": {"value": "sent"}, "template_uuid": TEMPLATE_1},
        {"state": null, "template": {"uuid": [TEMPLATE_1]}},
        {"state": ["dnd"], "template_uuid": TEMPLATE_1, "template_name": 7},
        {"state": "sent", "template_uuid": TEMPLATE_1, "campaign_uuid": 99, "campaign_name": ["x"]},
        {"state": true, "template_uuid": false},
        {"state": "completed", "template_uuid": TEMPLATE_1},
    ]});
    rig.arm([report(&rig.campaign).respond_with(ResponseTemplate::new(200).set_body_json(body))])
        .await;
    let run = poll_scraping(&rig.app, Duration::from_secs(5), rig.as_before()).await;
    assert_eq!(run.report.failed, 0);
    assert_eq!(run.report.records, 8);
    assert_eq!(run.codes, codes(&[("200", 1.0)]));
    let m = &run.metrics;
    assert_eq!(m.get("evolux_up", &[]), Some(1.0), "{}", m.0);
    let mut t1 = six([0, 0, 1, 0, 1, 0]);
    t1.push(("unknown", 2));
    assert_counts(m, &rig.campaign, TEMPLATE_1, &t1);
    let mut unknown = six([0, 0, 1, 0, 0, 0]);
    unknown.push(("unknown", 3));
    assert_counts(m, &rig.campaign, "unknown", &unknown);
    assert_eq!(m.campaign_total(&rig.campaign), 8.0);
    // Every element was an object: nothing was skipped, nothing warned about.
    assert!(
        logs()
            .lines_with(&[&format!("campaign={}", rig.campaign), "level=warn"])
            .is_empty(),
        "{}",
        logs().text()
    );
    logs().assert_clean();
}

/// Every page links to a next one (`page=N+1`) with the same records: the
/// page cap ends the query, and none of those records is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_pagination_is_cut_at_the_page_cap() {
    // The rate limit (10/s by default) would stretch 10 000 pages over 17
    // minutes: lift it.
    let rig = rig(&[], |c| c.evolux.max_rps = 1e6).await;
    let campaign = rig.campaign.clone();
    let endless = move |req: &Request| {
        let n: usize = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "page")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(1);
        let (mut body, _) = page(&campaign, 2);
        // A relative reference: the query only.
        body["links"]["next"] = json!(format!("?campaigns%5B%5D={campaign}&page={}", n + 1));
        ResponseTemplate::new(200).set_body_json(body)
    };
    rig.arm([report(&rig.campaign).respond_with(endless)]).await;
    let run = poll_scraping(&rig.app, Duration::from_secs(45), rig.as_before()).await;
    rig.assert_kept(&run.metrics, "endless pages");
    assert_eq!(run.codes, codes(&[("200", MAX_PAGES as f64)]));
    let requests = rig.upstream().received_requests().await.unwrap();
    assert_eq!(requests.len(), MAX_PAGES);
    let last = requests.last().unwrap().url.to_string();
    assert!(
        last.ends_with(&format!("&page={MAX_PAGES}")),
        "the last page asked for: {last}"
    );
    rig.assert_failed_as(Reason::BadBody).await;
    assert_failure_logged(&rig.campaign, 1, Reason::BadBody);
    // About 11 s on an idle 2-core machine, all of it with /metrics answering.
    assert!(
        run.scrapes >= 10,
        "only {} scrapes during {:?} of pages",
        run.scrapes,
        run.took
    );
}

/// `campaigns[]` is a filter (docs/evolux-api.md): for a UUID no campaign has,
/// the API has no records to return, so it answers like any filter that
/// matches nothing: 200 with an empty list. The query succeeded, so the
/// campaign is up; no template was seen, so there is no
/// `evolux_campaign_subscribers` series to zero-fill (the design gives six
/// states to each (campaign, template) seen). Its last success time shows
/// it was polled, and a warning says it is empty.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn campaign_that_does_not_exist_is_up_without_series() {
    logs();
    let (real, missing) = (new_campaign(), new_campaign());
    let upstream = MockServer::start().await;
    let (ok, counts) = good_response(&real, BEFORE);
    upstream.register(report(&real).respond_with(ok)).await;
    upstream
        .register(report(&missing).respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": [], "links": {"next": null}})),
        ))
        .await;
    let app = start_app(&upstream.uri(), &[&real, &missing], &[], |_| {}).await;
    app.wait_ready().await;
    let check = |m: &Metrics| {
        assert_eq!(m.get("evolux_up", &[]), Some(1.0), "{}", m.0);
        for c in [&real, &missing] {
            assert_eq!(m.get("evolux_campaign_up", &[("campaign", c)]), Some(1.0));
            assert!(last_success(m, c).is_some());
        }
        assert_counts(m, &real, TEMPLATE_1, &six(counts));
        assert_eq!(subscriber_series(m, &missing), 0, "{}", m.0);
        assert_eq!(
            m.get("evolux_campaign_info", &[("campaign", &missing)]),
            None
        );
    };
    check(&app.scrape().await);
    let run = poll_scraping(&app, Duration::from_secs(5), check).await;
    check(&run.metrics);
    assert_eq!(run.codes, codes(&[("200", 2.0)]));
    // A mistyped UUID must not be silent: one warning, when it is first
    // found empty, not one per poll.
    let warned = logs().lines_with(&[
        &format!("campaign={missing}"),
        "level=warn",
        "configured campaign returned no subscribers",
    ]);
    assert_eq!(warned.len(), 1, "{}", logs().text());
    assert!(
        logs()
            .lines_with(&[&format!("campaign={real}"), "no subscribers"])
            .is_empty()
    );
    logs().assert_clean();
}
