//! The web config on the exporter's own server: TLS, basic auth, mutual TLS, reloads.

use super::*;

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
    assert_eq!(app.get("/-/healthy").await.status(), 200);
    assert_ne!(app.get("/-/ready").await.status(), 401);
    // But not the status page or unknown paths.
    let page = app.get("/").await;
    assert_eq!(page.status(), 401);
    assert!(!page.text().await.unwrap().contains("data-campaign"));
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
    let (app, server_pki, client_pki) = mutual_tls_exporter(dir.path(), "").await;
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
