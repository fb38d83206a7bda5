//! `--web.config.file` (TLS, mTLS, basic auth, reloads) and the outbound
//! TLS settings (`--evolux.ca-file`), with real TLS clients and servers and
//! certificates generated for each test.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::app::{CAMPAIGN_A, TEMPLATE_1, config, records, spawn_app, wait_for};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedKey, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use reqwest::StatusCode;

/// A CA and a certificate it issued.
struct Pki {
    ca: CertifiedKey,
}

impl Pki {
    fn new() -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key_pair = KeyPair::generate().expect("ca key");
        let cert = params.self_signed(&key_pair).expect("ca cert");
        Pki {
            ca: CertifiedKey { cert, key_pair },
        }
    }

    fn ca_pem(&self) -> String {
        self.ca.cert.pem()
    }

    /// A leaf for `127.0.0.1`/`localhost` (server) or a client.
    fn issue(&self, client: bool) -> CertifiedKey {
        let names = if client {
            vec!["prometheus".to_string()]
        } else {
            vec!["127.0.0.1".to_string(), "localhost".to_string()]
        };
        let mut params = CertificateParams::new(names).expect("leaf params");
        params.extended_key_usages = vec![if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        let key_pair = KeyPair::generate().expect("leaf key");
        let cert = params
            .signed_by(&key_pair, &self.ca.cert, &self.ca.key_pair)
            .expect("leaf cert");
        CertifiedKey { cert, key_pair }
    }
}

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    // Write then rename, as a secret update does, so a reader never sees
    // half a file.
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, body).expect("write");
    std::fs::rename(&tmp, &p).expect("rename");
    p
}

/// Writes the server's certificate and key into `dir`.
fn write_server_cert(dir: &Path, leaf: &CertifiedKey) {
    write(dir, "tls.crt", &leaf.cert.pem());
    write(dir, "tls.key", &leaf.key_pair.serialize_pem());
}

/// A client that trusts `ca_pem` only, optionally presenting `identity`.
fn tls_client(ca_pem: &str, identity: Option<&CertifiedKey>) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("ca"))
        .timeout(Duration::from_secs(5))
        .no_gzip();
    if let Some(id) = identity {
        let pem = format!("{}{}", id.cert.pem(), id.key_pair.serialize_pem());
        b = b.identity(reqwest::Identity::from_pem(pem.as_bytes()).expect("identity"));
    }
    b.build().expect("client")
}

/// An exporter with the web config `web_yml` (in `dir`, next to its
/// certificates), polling an upstream that is never reached.
async fn exporter(dir: &Path, web_yml: &str) -> (common::app::TestApp, PathBuf) {
    let web = write(dir, "web.yml", web_yml);
    let app = spawn_app(config(&[
        "--evolux.url=http://127.0.0.1:9",
        &format!("--campaign={CAMPAIGN_A}"),
        &format!("--web.config.file={}", web.display()),
    ]))
    .await;
    (app, web)
}

async fn status(client: &reqwest::Client, url: &str) -> Result<StatusCode, reqwest::Error> {
    client.get(url).send().await.map(|r| r.status())
}

#[tokio::test]
async fn tls_serves_a_verifying_client_and_refuses_plain_http_and_old_versions() {
    let dir = tempfile::tempdir().expect("dir");
    let pki = Pki::new();
    write_server_cert(dir.path(), &pki.issue(false));
    let (app, _) = exporter(
        dir.path(),
        "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n  min_version: TLS13\n",
    )
    .await;
    let https = format!("https://{}/metrics", app.addr);
    let client = tls_client(&pki.ca_pem(), None);
    let resp = client.get(&https).send().await.expect("TLS scrape");
    assert_eq!(resp.status(), 200);
    let body = resp.text().await.expect("body");
    assert!(
        body.contains("# TYPE evolux_"),
        "metrics over TLS: {body:.200}"
    );

    // Plain HTTP on the TLS port gets no data.
    let plain = app.http.get(app.url("/metrics")).send().await;
    assert!(
        plain.is_err() || plain.is_ok_and(|r| r.status() != 200),
        "plain HTTP must not be served on a TLS port"
    );

    // min_version TLS13: a TLS 1.2-only client fails the handshake.
    let old = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem().as_bytes()).unwrap())
        .max_tls_version(reqwest::tls::Version::TLS_1_2)
        .build()
        .unwrap();
    assert!(
        status(&old, &https).await.is_err(),
        "a TLS 1.2 client was served despite min_version TLS13"
    );

    // A client that does not trust the CA refuses the server.
    let stranger = tls_client(&Pki::new().ca_pem(), None);
    assert!(status(&stranger, &https).await.is_err());
}

#[tokio::test]
async fn basic_auth_guards_metrics_but_not_probes_unless_told() {
    let dir = tempfile::tempdir().expect("dir");
    let hash = bcrypt::hash("correct horse", 4).expect("hash");
    let (app, _) = exporter(
        dir.path(),
        &format!(
            "basic_auth_users:\n  prometheus: {hash}\nhttp_server_config:\n  headers:\n    X-Frame-Options: DENY\n"
        ),
    )
    .await;
    let url = app.url("/metrics");

    let anonymous = app.http.get(&url).send().await.expect("request");
    assert_eq!(anonymous.status(), 401);
    assert!(
        anonymous
            .headers()
            .get("www-authenticate")
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("Basic")),
        "401 must ask for basic auth"
    );
    assert_eq!(
        anonymous
            .headers()
            .get("x-frame-options")
            .map(|v| v.as_bytes()),
        Some(&b"DENY"[..]),
        "configured headers are on every answer"
    );
    assert!(!anonymous.text().await.unwrap().contains("evolux_"));

    for (user, password) in [("prometheus", "wrong"), ("nobody", "correct horse")] {
        let r = app
            .http
            .get(&url)
            .basic_auth(user, Some(password))
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 401, "{user}:{password}");
        assert!(!r.text().await.unwrap().contains("evolux_"));
    }
    let ok = app
        .http
        .get(&url)
        .basic_auth("prometheus", Some("correct horse"))
        .send()
        .await
        .expect("request");
    assert_eq!(ok.status(), 200);
    assert!(ok.text().await.unwrap().contains("# TYPE evolux_"));

    // Probes stay reachable without credentials.
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_ne!(app.get("/readyz").await.status(), 401);
    // But not the landing page or unknown paths.
    assert_eq!(app.get("/").await.status(), 401);
    assert_eq!(app.get("/nope").await.status(), 401);

    // `public_paths: []` protects the probes too.
    let dir2 = tempfile::tempdir().expect("dir");
    let (locked, _) = exporter(
        dir2.path(),
        &format!("basic_auth_users:\n  prometheus: {hash}\npublic_paths: []\n"),
    )
    .await;
    assert_eq!(locked.get("/healthz").await.status(), 401);
}

#[tokio::test]
async fn mutual_tls_requires_a_certificate_from_the_client_ca_except_for_probes() {
    let dir = tempfile::tempdir().expect("dir");
    let server_pki = Pki::new();
    let client_pki = Pki::new();
    write_server_cert(dir.path(), &server_pki.issue(false));
    write(dir.path(), "client-ca.crt", &client_pki.ca_pem());
    let (app, _) = exporter(
        dir.path(),
        "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n  client_ca_file: client-ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n",
    )
    .await;
    let base = format!("https://{}", app.addr);

    let anonymous = tls_client(&server_pki.ca_pem(), None);
    assert_eq!(
        status(&anonymous, &format!("{base}/metrics"))
            .await
            .expect("handshake"),
        401,
        "no client certificate, no metrics"
    );
    assert_eq!(
        status(&anonymous, &format!("{base}/healthz"))
            .await
            .expect("handshake"),
        200,
        "probes need no client certificate"
    );

    let member = tls_client(&server_pki.ca_pem(), Some(&client_pki.issue(true)));
    assert_eq!(
        status(&member, &format!("{base}/metrics"))
            .await
            .expect("mTLS"),
        200
    );

    // A certificate from another CA fails the handshake.
    let outsider = tls_client(&server_pki.ca_pem(), Some(&Pki::new().issue(true)));
    assert!(status(&outsider, &format!("{base}/metrics")).await.is_err());
}

#[tokio::test]
async fn changed_files_are_reloaded_and_a_broken_one_keeps_the_last_good_settings() {
    let dir = tempfile::tempdir().expect("dir");
    let pki = Pki::new();
    write_server_cert(dir.path(), &pki.issue(false));
    let web = |password: &str| {
        format!(
            "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\nbasic_auth_users:\n  prometheus: {}\n",
            bcrypt::hash(password, 4).expect("hash")
        )
    };
    let (app, web_path) = exporter(dir.path(), &web("first")).await;
    let url = format!("https://{}/metrics", app.addr);
    let client = tls_client(&pki.ca_pem(), None);
    let with = |password: &'static str| {
        let client = client.clone();
        let url = url.clone();
        async move {
            client
                .get(&url)
                .basic_auth("prometheus", Some(password))
                .send()
                .await
                .map(|r| r.status())
                .ok()
        }
    };
    assert_eq!(with("first").await, Some(StatusCode::OK));

    // New password.
    write(dir.path(), "web.yml", &web("second"));
    wait_for(
        "the new password to work",
        Duration::from_secs(10),
        || async { with("second").await == Some(StatusCode::OK) },
    )
    .await;
    assert_eq!(with("first").await, Some(StatusCode::UNAUTHORIZED));

    // A broken file: logged, and the last good settings stay in force.
    write(dir.path(), "web.yml", "basic_auth_users: [not, a, map]\n");
    tokio::time::sleep(Duration::from_millis(1100)).await; // one check period
    for _ in 0..3 {
        assert_eq!(with("second").await, Some(StatusCode::OK));
        assert_eq!(with("first").await, Some(StatusCode::UNAUTHORIZED));
    }

    // Emptied in place (as `cat > web.yml` does for a moment): never taken
    // as "no TLS, no users".
    std::fs::write(&web_path, "").expect("truncate in place");
    tokio::time::sleep(Duration::from_millis(1100)).await; // one check period
    assert_eq!(with("second").await, Some(StatusCode::OK));
    assert_eq!(with("first").await, Some(StatusCode::UNAUTHORIZED));

    // Dropping TLS needs a restart: new connections still speak TLS and
    // still need the password.
    write(
        dir.path(),
        "web.yml",
        &format!(
            "basic_auth_users:\n  prometheus: {}\n",
            bcrypt::hash("first", 4).expect("hash")
        ),
    );
    tokio::time::sleep(Duration::from_millis(1100)).await; // one check period
    assert_eq!(with("second").await, Some(StatusCode::OK));
    assert_eq!(with("first").await, Some(StatusCode::UNAUTHORIZED));

    // A renewed certificate from another CA is served to new connections.
    write(dir.path(), "web.yml", &web("second"));
    let renewed = Pki::new();
    write_server_cert(dir.path(), &renewed.issue(false));
    let new_client = tls_client(&renewed.ca_pem(), None);
    wait_for(
        "the renewed certificate to be served",
        Duration::from_secs(10),
        || async {
            new_client
                .get(&url)
                .basic_auth("prometheus", Some("second"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        },
    )
    .await;
    assert!(web_path.exists());
}

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
