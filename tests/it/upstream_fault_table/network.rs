//! An upstream that is not there, goes away, does not resolve, or stalls.

use super::*;

/// Nothing listens on the configured port: every attempt is counted as
/// `code="error"`, the exporter is ready (so /metrics says why) but down,
/// with no counts to show.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_from_the_start_is_ready_but_down_without_counts() {
    logs();
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    wait_until_refused(addr, Duration::from_secs(5)).await;
    let campaign = new_campaign();
    let app = start_app(&format!("http://{addr}"), &[&campaign], &[], |_| {}).await;
    app.wait_ready().await;
    let first = app.scrape().await;
    let down = |m: &Metrics| {
        assert_eq!(m.get("evolux_up", &[]), Some(0.0), "{}", m.0);
        assert_eq!(
            m.get("evolux_campaign_up", &[("campaign", &campaign)]),
            Some(0.0)
        );
        assert_eq!(subscriber_series(m, &campaign), 0);
        assert_eq!(last_success(m, &campaign), None);
    };
    down(&first);
    // The first poll's three reads, each tried four times.
    let tries = 4.0 * FIRST_POLL_READS as f64;
    assert_eq!(requests_by_code(&first), codes(&[("error", tries)]));
    let run = poll_scraping(&app, Duration::from_secs(5), down).await;
    down(&run.metrics);
    // Never read: the next poll makes the same three reads.
    assert_eq!(run.codes, codes(&[("error", tries)]));
    assert_failed_as(&app, &campaign, Reason::Connection).await;
    assert_failure_logged(&campaign, 2, Reason::Connection);
}

/// The upstream answered the first poll, then went away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_that_goes_away_keeps_the_last_good_counts() {
    // Not from the pool: this one stops listening when dropped.
    let mut rig = rig_on(MockServer::builder().start().await, &[], |_| {}).await;
    let addr = *rig.upstream().address();
    drop(rig.upstream.take());
    wait_until_refused(addr, Duration::from_secs(5)).await;
    let run = poll_scraping(&rig.app, Duration::from_secs(5), rig.as_before()).await;
    rig.assert_kept(&run.metrics, "upstream gone");
    assert_eq!(run.codes, codes(&[("error", 4.0)]));
    rig.assert_failed_as(Reason::Connection).await;
    assert_failure_logged(&rig.campaign, 1, Reason::Connection);
}

/// A host under `.invalid` (RFC 6761) never resolves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_failure_from_the_start_is_ready_but_down_without_counts() {
    logs();
    let campaign = new_campaign();
    let app = start_app(
        "http://evolux-exporter-fault-test.invalid",
        &[&campaign],
        &["--evolux.max-retries=1"],
        |_| {},
    )
    .await;
    app.wait_ready().await;
    let down = |m: &Metrics| {
        assert_eq!(m.get("evolux_up", &[]), Some(0.0), "{}", m.0);
        assert_eq!(
            m.get("evolux_campaign_up", &[("campaign", &campaign)]),
            Some(0.0)
        );
        assert_eq!(subscriber_series(m, &campaign), 0);
    };
    down(&app.scrape().await);
    // config() sets --evolux.timeout=2s: even a resolver that hangs is cut.
    let run = poll_scraping(&app, Duration::from_secs(6), down).await;
    down(&run.metrics);
    // The first poll's three reads, each tried twice.
    let tries = 2.0 * FIRST_POLL_READS as f64;
    assert_eq!(run.codes, codes(&[("error", tries)]));
    assert_failed_as(&app, &campaign, Reason::Connection).await;
    assert_failure_logged(&campaign, 2, Reason::Connection);
}

/// A TLS server on loopback whose certificate no trusted CA signed: every
/// handshake fails on the exporter's side. Returns its address.
async fn untrusted_tls_upstream() -> std::net::SocketAddr {
    use tokio_rustls::rustls;
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .expect("params")
        .self_signed(&key)
        .expect("self-signed certificate");
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).expect("key der"),
        )
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(server));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            // The client gives up in the handshake; nothing is ever served.
            tokio::spawn(async move { acceptor.accept(tcp).await.map(drop) });
        }
    });
    addr
}

/// A server whose certificate is not trusted (no `--evolux.ca-file` for it):
/// the read fails as `tls`, not as a connection failure, and is not retried
/// into a different reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_fails_the_read_as_tls() {
    logs();
    let addr = untrusted_tls_upstream().await;
    let campaign = new_campaign();
    let app = start_app(
        &format!("https://{addr}"),
        &[&campaign],
        &["--evolux.max-retries=1"],
        |_| {},
    )
    .await;
    app.wait_ready().await;
    let m = app.scrape().await;
    assert_eq!(m.get("evolux_up", &[]), Some(0.0), "{}", m.0);
    assert_eq!(subscriber_series(&m, &campaign), 0);
    assert_failed_as(&app, &campaign, Reason::Tls).await;
    assert_failure_logged(&campaign, 1, Reason::Tls);
}

/// Headers and part of the first record, then silence: the request timeout
/// ends the poll, and `/metrics` keeps answering from the last snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_stalling_mid_stream_is_ended_by_the_request_timeout() {
    logs();
    let campaign = new_campaign();
    let (good, before) = page(&campaign, BEFORE);
    let (recovered, after) = page(&campaign, AFTER);
    let (good, recovered) = (good.to_string(), recovered.to_string());
    let partial = format!(
        r#"{{"data":[{},{{"state":"sent","name":"Maria do Carmo","phone_number":"5511"#,
        records(&campaign, TEMPLATE_1, 1).0[0]
    );
    let upstream = RawUpstream::start(move |n, mut stream| {
        let (good, recovered, partial) = (good.clone(), recovered.clone(), partial.clone());
        async move {
            if read_request_head(&mut stream).await.is_none() {
                return;
            }
            // The first poll's reads, good; then one that stalls.
            match n {
                n if n < FIRST_POLL_READS => write_json(&mut stream, good.as_bytes()).await,
                n if n == FIRST_POLL_READS => {
                    use tokio::io::AsyncWriteExt;
                    let head = json_head(64 * 1024);
                    let _ = stream.write_all(head.as_bytes()).await;
                    let _ = stream.write_all(partial.as_bytes()).await;
                    let _ = stream.flush().await;
                    hold_until_closed(&mut stream).await;
                }
                _ => write_json(&mut stream, recovered.as_bytes()).await,
            }
        }
    })
    .await;
    let timeout = Duration::from_millis(1500);
    let app = start_app(&upstream.url(), &[&campaign], &[], |c| {
        c.evolux.timeout = timeout
    })
    .await;
    app.wait_ready().await;
    let m = app.scrape().await;
    assert_counts(&m, &campaign, TEMPLATE_1, &six(before));
    let success = last_success(&m, &campaign).unwrap();

    let run = poll_scraping(&app, Duration::from_secs(5), |m| {
        assert_eq!(m.get("evolux_up", &[]), Some(1.0));
        assert_counts(m, &campaign, TEMPLATE_1, &six(before));
    })
    .await;
    assert!(
        run.took >= timeout - Duration::from_millis(100) && run.took < Duration::from_secs(4),
        "the poll took {:?} with a {timeout:?} timeout",
        run.took
    );
    assert!(
        run.scrapes >= 5,
        "only {} scrapes during the stall",
        run.scrapes
    );
    assert_eq!(
        upstream.connections(),
        FIRST_POLL_READS + 1,
        "a stalled body is not retried"
    );
    // The response came; it was its body that failed.
    assert_eq!(run.codes, codes(&[("200", 1.0)]));
    let m = &run.metrics;
    assert_eq!(
        m.get("evolux_campaign_up", &[("campaign", &campaign)]),
        Some(0.0)
    );
    assert_eq!(m.get("evolux_up", &[]), Some(0.0));
    assert_counts(m, &campaign, TEMPLATE_1, &six(before));
    assert_eq!(last_success(m, &campaign), Some(success));
    assert_failed_as(&app, &campaign, Reason::Timeout).await;
    assert_failure_logged(&campaign, 1, Reason::Timeout);

    let run = poll_scraping(&app, Duration::from_secs(5), |_| {}).await;
    assert_eq!(run.metrics.get("evolux_up", &[]), Some(1.0));
    assert_counts(&run.metrics, &campaign, TEMPLATE_1, &six(after));
}
