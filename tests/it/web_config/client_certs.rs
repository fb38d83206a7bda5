//! Client certificates as the exporter-toolkit takes them: a self-signed
//! certificate that is its own CA listed as the client CA.

use super::*;

/// A self-signed certificate made as its own CA (`CA:TRUE`), as `openssl
/// req -x509` makes by default, naming `san`.
fn self_signed_ca_client(san: &str) -> CertifiedKey {
    let mut params = CertificateParams::new(vec![san.to_string()]).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key_pair = KeyPair::generate().expect("key");
    let cert = params.self_signed(&key_pair).expect("cert");
    CertifiedKey { cert, key_pair }
}

#[tokio::test]
async fn a_self_signed_client_certificate_listed_as_its_own_ca_is_accepted() {
    let dir = tempfile::tempdir().expect("dir");
    let server_pki = Pki::new();
    write_server_cert(dir.path(), &server_pki.issue(false));
    let client = self_signed_ca_client("prometheus");
    write(dir.path(), "client-ca.crt", &client.cert.pem());
    let (app, _) = exporter(
        dir.path(),
        "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n  client_ca_file: client-ca.crt\n  client_auth_type: RequireAndVerifyClientCert\npublic_paths: []\n",
    )
    .await;
    let url = format!("https://{}/metrics", app.addr);

    let listed = tls_client(&server_pki.ca_pem(), Some(&client));
    assert_eq!(
        status(&listed, &url)
            .await
            .expect("mTLS with the listed certificate"),
        200
    );

    // Another self-signed CA certificate, not listed, is still refused, as
    // is a client without a certificate (no public paths: in the handshake).
    let stranger = tls_client(
        &server_pki.ca_pem(),
        Some(&self_signed_ca_client("prometheus")),
    );
    assert!(
        status(&stranger, &url).await.is_err(),
        "an unlisted self-signed CA"
    );
    let anonymous = tls_client(&server_pki.ca_pem(), None);
    assert!(status(&anonymous, &url).await.is_err(), "no certificate");
}
