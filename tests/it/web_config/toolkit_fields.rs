//! The exporter-toolkit's newer fields: inline certificates,
//! `client_allowed_sans`, `rate_limit`, and cipher suite lists.

use std::time::Instant;

use super::*;

/// `pem` as the lines of a YAML block scalar indented by `indent` spaces.
fn block(pem: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    pem.lines().map(|l| format!("{pad}{l}\n")).collect()
}

#[tokio::test]
async fn inline_certificate_and_key_serve_tls() {
    let dir = tempfile::tempdir().expect("dir");
    let pki = Pki::new();
    let leaf = pki.issue(false);
    let yml = format!(
        "tls_server_config:\n  cert: |\n{}  key: |\n{}",
        block(&leaf.cert.pem(), 4),
        block(&leaf.key_pair.serialize_pem(), 4)
    );
    let (app, _) = exporter(dir.path(), &yml).await;
    let client = tls_client(&pki.ca_pem(), None);
    let url = format!("https://{}/metrics", app.addr);
    assert_eq!(
        status(&client, &url).await.expect("TLS with inline PEM"),
        200
    );
}

#[tokio::test]
async fn client_allowed_sans_admits_the_listed_name_and_refuses_another() {
    let dir = tempfile::tempdir().expect("dir");
    let (app, server_pki, client_pki) = mutual_tls_exporter(
        dir.path(),
        "  client_allowed_sans: [prometheus, 10.0.0.1]\npublic_paths: []\n",
    )
    .await;
    let url = format!("https://{}/metrics", app.addr);

    // Pki::issue names a client "prometheus".
    let listed = tls_client(&server_pki.ca_pem(), Some(&client_pki.issue(true)));
    assert_eq!(status(&listed, &url).await.expect("listed SAN"), 200);

    let mut params = CertificateParams::new(vec!["intruder".to_string()]).expect("params");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let key_pair = KeyPair::generate().expect("key");
    let cert = params
        .signed_by(&key_pair, &client_pki.ca.cert, &client_pki.ca.key_pair)
        .expect("cert");
    let other = tls_client(&server_pki.ca_pem(), Some(&CertifiedKey { cert, key_pair }));
    assert!(
        status(&other, &url).await.is_err(),
        "a certificate of the same CA without a listed SAN is refused"
    );
}

#[tokio::test]
async fn rate_limit_answers_429_past_the_burst_and_recovers_after_the_interval() {
    let dir = tempfile::tempdir().expect("dir");
    let start = Instant::now();
    let (app, _) = exporter(dir.path(), "rate_limit:\n  interval: 1s\n  burst: 3\n").await;
    for i in 0..3 {
        assert_eq!(
            app.get("/metrics").await.status(),
            200,
            "request {i} within the burst"
        );
    }
    let refused = app.get("/metrics").await;
    assert_eq!(refused.status(), 429, "past the burst");
    assert!(refused.headers().contains_key("retry-after"));

    // A token comes back one interval after the bucket was full; refused
    // requests take none, so asking until one is served is fair.
    let served_at = Arc::new(std::sync::Mutex::new(None));
    wait_for("a request served again", Duration::from_secs(10), || {
        let app_url = app.url("/metrics");
        let http = app.http.clone();
        let served_at = served_at.clone();
        async move {
            let ok = http
                .get(app_url)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ok {
                *served_at.lock().expect("lock") = Some(Instant::now());
            }
            ok
        }
    })
    .await;
    let recovered = served_at.lock().expect("lock").expect("served") - start;
    assert!(
        recovered >= Duration::from_millis(900),
        "a token came back after {recovered:?}, before the 1 s interval"
    );
    assert_eq!(
        app.get("/metrics").await.status(),
        429,
        "one token, not a new burst"
    );
}

#[tokio::test]
async fn a_modern_cipher_suite_list_starts_and_serves_tls12() {
    let dir = tempfile::tempdir().expect("dir");
    let pki = Pki::new();
    write_server_cert(dir.path(), &pki.issue(false));
    let (app, _) = exporter(
        dir.path(),
        "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n  max_version: TLS12\n  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]\n  curve_preferences: [X25519, CurveP256]\n",
    )
    .await;
    let client = tls_client(&pki.ca_pem(), None);
    let url = format!("https://{}/metrics", app.addr);
    assert_eq!(
        status(&client, &url)
            .await
            .expect("TLS 1.2 with the listed suite"),
        200
    );
}
