//! Bodies that are not the report, and next links that lead astray.

use super::*;

#[tokio::test]
async fn html_maintenance_page_fails_the_poll() {
    fault(
        "HTML page",
        &[],
        |_| {},
        vec![
            report(CAMPAIGN_A)
                .respond_with(ResponseTemplate::new(200).set_body_raw(html_page(), "text/html")),
        ],
        ("200", 1),
        Reason::BadBody,
    )
    .await;
}

#[tokio::test]
async fn html_page_labelled_as_json_is_caught_by_the_scanner() {
    fault(
        "HTML page as application/json",
        &[],
        |_| {},
        vec![report(CAMPAIGN_A).respond_with(
            ResponseTemplate::new(200).set_body_raw(html_page(), "application/json"),
        )],
        ("200", 1),
        Reason::BadBody,
    )
    .await;
}

#[tokio::test]
async fn truncated_body_fails_the_poll() {
    fault(
        "truncated JSON",
        &[],
        |_| {},
        vec![
            report(CAMPAIGN_A).respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(r#"{"data":[{"state":"sent"},{"sta"#, "application/json"),
            ),
        ],
        ("200", 1),
        Reason::BadBody,
    )
    .await;
}

#[tokio::test]
async fn oversized_body_fails_the_poll() {
    let (recs, _) = records(CAMPAIGN_A, TEMPLATE_1, 20);
    let body = serde_json::to_vec(&json!({ "data": recs })).unwrap();
    assert!(body.len() > 5000, "a 5 KB body, got {}", body.len());
    let (small, _) = page(BEFORE);
    assert!(serde_json::to_vec(&small).unwrap().len() < 1024);
    fault(
        "oversized body",
        &["--evolux.max-response-size=1KiB"],
        |_| {},
        vec![
            report(CAMPAIGN_A)
                .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json")),
        ],
        ("200", 1),
        Reason::TooLarge,
    )
    .await;
}

#[tokio::test]
async fn next_link_to_another_host_is_not_followed() {
    let (mut body, _) = page(AFTER);
    body["links"]["next"] = json!(format!(
        "http://evil.example.invalid{REPORT_PATH}?campaigns%5B%5D={CAMPAIGN_A}&page=2"
    ));
    fault(
        "next link to another host",
        &[],
        |_| {},
        // The first page's records must not be counted: the query failed.
        vec![report(CAMPAIGN_A).respond_with(ResponseTemplate::new(200).set_body_json(body))],
        ("200", 1),
        Reason::BadBody,
    )
    .await;
}

#[tokio::test]
async fn next_link_looping_back_to_the_first_page_fails_quickly() {
    let (mut first, _) = page(AFTER);
    first["links"]["next"] = json!(format!("{REPORT_PATH}?campaigns%5B%5D={CAMPAIGN_A}&page=2"));
    let (mut second, _) = page(AFTER);
    // Exactly the first page's URL: the exporter sends only campaigns[].
    second["links"]["next"] = json!(format!("{REPORT_PATH}?campaigns%5B%5D={CAMPAIGN_A}"));
    let mocks = vec![
        report(CAMPAIGN_A)
            .respond_with(ResponseTemplate::new(200).set_body_json(first))
            .with_priority(5),
        report(CAMPAIGN_A)
            .and(query_param("page", "2"))
            .respond_with(ResponseTemplate::new(200).set_body_json(second))
            .with_priority(1),
    ];
    let out = tokio::time::timeout(
        Duration::from_secs(10),
        fault(
            "next links looping",
            &[],
            |_| {},
            mocks,
            ("200", 2),
            Reason::BadBody,
        ),
    )
    .await
    .expect("a looping next link ends the poll in bounded time");
    assert!(out.took < Duration::from_secs(2), "took {:?}", out.took);
}
