//! TLS to the upstream (a private CA, redirects), and web config mistakes at start-up.

use super::*;

/// A TLS upstream answering every report request with `body`.
async fn tls_upstream(leaf: &CertifiedKey, body: String) -> SocketAddr {
    use rustls::pki_types::pem::PemObject;
    let certs = vec![leaf.cert.der().clone()];
    let key =
        rustls::pki_types::PrivateKeyDer::from_pem_slice(leaf.key_pair.serialize_pem().as_bytes())
            .expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let body = Arc::new(body);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let body = body.clone();
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(stream).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |_req| {
                    let body = body.to_string();
                    async move {
                        Ok::<_, std::convert::Infallible>(
                            hyper::Response::builder()
                                .header("content-type", "application/json")
                                .body(http_body_util::Full::new(bytes::Bytes::from(body)))
                                .expect("response"),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_private_ca_is_trusted_only_when_given() {
    let pki = Pki::new();
    let (recs, expected) = records(CAMPAIGN_A, TEMPLATE_1, 25);
    let addr = tls_upstream(
        &pki.issue(false),
        serde_json::to_string(&recs).expect("json"),
    )
    .await;
    let url = format!("--evolux.url=https://{addr}");
    let campaign = format!("--campaign={CAMPAIGN_A}");

    // Without the CA: verification fails, the campaign is down, and the
    // failure is not retried into a long poll.
    let untrusting = spawn_app(config(&[&url, &campaign])).await;
    let report = tokio::time::timeout(Duration::from_secs(20), untrusting.poller.poll_once())
        .await
        .expect("the poll ends");
    assert_eq!(report.failed, 1, "TLS verification must fail: {report:?}");
    let m = untrusting.scrape().await;
    assert_eq!(
        m.get("evolux_campaign_up", &[("campaign", CAMPAIGN_A)]),
        Some(0.0)
    );

    // With the CA file: counted.
    let dir = tempfile::tempdir().expect("dir");
    let ca = write(dir.path(), "ca.pem", &pki.ca_pem());
    let trusting = spawn_app(config(&[
        &url,
        &campaign,
        &format!("--evolux.ca-file={}", ca.display()),
    ]))
    .await;
    let report = trusting.poller.poll_once().await;
    assert_eq!(report.failed, 0, "{report:?}");
    let m = trusting.scrape().await;
    assert_eq!(
        m.get("evolux_campaign_up", &[("campaign", CAMPAIGN_A)]),
        Some(1.0)
    );
    assert_eq!(
        m.campaign_total(CAMPAIGN_A),
        expected.iter().sum::<u64>() as f64
    );
}

#[tokio::test]
async fn a_redirect_to_another_host_is_not_followed_and_gets_no_token() {
    use wiremock::matchers::any;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let elsewhere = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string("[]"))
        .mount(&elsewhere)
        .await;
    let upstream = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(302).insert_header(
            "location",
            format!("{}/api/v1/reports/campaign/subscribers", elsewhere.uri()).as_str(),
        ))
        .mount(&upstream)
        .await;
    let app = spawn_app(config(&[
        &format!("--evolux.url={}", upstream.uri()),
        &format!("--campaign={CAMPAIGN_A}"),
    ]))
    .await;
    let report = app.poller.poll_once().await;
    assert_eq!(report.failed, 1, "a cross-host redirect fails the query");
    assert!(
        !upstream
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty(),
        "the configured host was asked"
    );
    let leaked = elsewhere.received_requests().await.unwrap_or_default();
    assert!(
        leaked.is_empty(),
        "the other host received {} request(s)",
        leaked.len()
    );
    let m = app.scrape().await;
    assert_eq!(
        m.get("evolux_campaign_up", &[("campaign", CAMPAIGN_A)]),
        Some(0.0)
    );
}

#[tokio::test]
async fn web_config_mistakes_stop_start_up_naming_the_field() {
    let dir = tempfile::tempdir().expect("dir");
    let pki = Pki::new();
    write_server_cert(dir.path(), &pki.issue(false));
    write(dir.path(), "ca.crt", &pki.ca_pem());
    let tls = "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n";
    let cases = [
        (
            format!("{tls}  client_ca_file: ca.crt\n"),
            "tls_server_config.client_auth_type",
        ),
        (
            format!("{tls}  client_ca_file: ca.crt\n  client_auth_type: NoClientCert\n"),
            "tls_server_config.client_auth_type",
        ),
        (
            format!("{tls}  client_auth_type: RequireAndVerifyClientCert\n"),
            "tls_server_config.client_ca_file",
        ),
        (
            format!("{tls}  min_version: TLS11\n"),
            "tls_server_config.min_version",
        ),
        (
            format!("{tls}  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n"),
            "tls_server_config.cipher_suites",
        ),
        (
            // Cost 3 is below bcrypt's minimum: nobody could ever log in.
            "basic_auth_users:\n  prometheus: $2y$03$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi\n"
                .to_string(),
            "basic_auth_users.prometheus",
        ),
        (
            "basic_auth_users: \"prometheus:$2y$10$secret\"\n".to_string(),
            "basic_auth_users",
        ),
    ];
    for (text, field) in cases {
        let web = write(dir.path(), "web.yml", &text);
        let cli = evolux_exporter::config::Cli::try_parse_from([
            "evolux-exporter",
            "--evolux.url=http://127.0.0.1:9",
            &format!("--web.config.file={}", web.display()),
        ])
        .expect("arguments parse");
        let err = evolux_exporter::config::Config::load_with_token(cli, Some("t".into()))
            .expect_err("must be refused")
            .to_string();
        assert!(err.contains(field), "{text:?}: {err}");
        assert!(!err.contains("secret"), "a hash was quoted: {err}");
    }
}
