//! The exporter-toolkit's own start-up cases (`web/tls_config_test.go` and
//! its `testdata/`), rewritten as a table in our words with fixtures made
//! by rcgen: for each, whether the reference starts with the file and
//! whether we do. Where we differ, the case names the departure (one of
//! [`super::DEPARTURES`]); the counts are asserted, so a change in either
//! direction shows: 35 cases, 26 agreeing, 9 departing (7 for want of a
//! client CA with `VerifyClientCertIfGiven`, `RequireAnyClientCert`, and
//! `burst: 0`). What the reference then probes over the wire (a handshake,
//! a login, a 429) is tabled likewise in `tests/it/web_config/reference_wire.rs`.

use std::path::Path;

use super::load;

/// A case: its name, the file, whether the reference starts with it, and,
/// when we do not do the same, the departure that explains it.
type Case = (&'static str, String, bool, Option<&'static str>);

const TLS: &str = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";
const IF_GIVEN: &str = "  client_auth_type: VerifyClientCertIfGiven\n";
const NO_CA: &str = "a client CA is required to verify client certificates";

/// A self-signed certificate that is its own CA, as PEM.
fn self_signed_ca(name: &str) -> String {
    let mut params = rcgen::CertificateParams::new(vec![name.to_string()]).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().expect("key");
    params.self_signed(&key).expect("cert").pem()
}

/// Writes the fixtures the cases name into `dir`; returns the server's
/// certificate and key as PEM, for the inline case.
fn fixtures(dir: &Path) -> (String, String) {
    let server = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("server");
    let (cert, key) = (server.cert.pem(), server.key_pair.serialize_pem());
    std::fs::write(dir.join("server.crt"), &cert).expect("write");
    std::fs::write(dir.join("server.key"), &key).expect("write");
    std::fs::write(dir.join("client_selfsigned.pem"), self_signed_ca("test")).expect("write");
    std::fs::write(dir.join("client2_selfsigned.pem"), self_signed_ca("test3")).expect("write");
    (cert, key)
}

fn indented(pem: &str) -> String {
    pem.lines().map(|l| format!("    {l}\n")).collect()
}

fn cases(cert: &str, key: &str) -> Vec<Case> {
    let t = |extra: &str| format!("{TLS}{extra}");
    vec![
        ("empty file", String::new(), true, None),
        ("junk", "hWkNKCp3fvIx3jKnsaBI\nTuEjdwNS8A2v\n".into(), false, None),
        ("misspelt key", "tls_server_config:\n  cert_filse: server.crt\n".into(), false, None),
        ("cert_file empty", "tls_server_config:\n  cert_file: \"\"\n  key_file: server.key\n".into(), false, None),
        ("cert empty", "tls_server_config:\n  cert: \"\"\n  key_file: server.key\n".into(), false, None),
        ("key_file empty", "tls_server_config:\n  cert_file: server.crt\n  key_file: \"\"\n".into(), false, None),
        ("key empty", "tls_server_config:\n  cert_file: server.crt\n  key: \"\"\n".into(), false, None),
        ("both paths empty", "tls_server_config:\n  cert_file: \"\"\n  key_file: \"\"\n  client_auth_type: x\n".into(), false, None),
        ("cert_file missing", "tls_server_config:\n  cert_file: nope.crt\n  key_file: server.key\n".into(), false, None),
        ("key_file missing", "tls_server_config:\n  cert_file: server.crt\n  key_file: nope.key\n".into(), false, None),
        ("both files missing", "tls_server_config:\n  cert_file: nope.crt\n  key_file: nope.key\n".into(), false, None),
        ("client CA without a policy", t("  client_ca_file: /dev/null\n"), false, None),
        ("client CA file missing", t("  client_ca_file: nope.pem\n"), false, None),
        ("a password that is no hash", format!("{TLS}basic_auth_users:\n  john: doe\n"), false, None),
        ("invented cipher", t(&format!("{IF_GIVEN}  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA2048]\n")), false, None),
        ("invented curve", t(&format!("{IF_GIVEN}  curve_preferences: [CurveP257]\n")), false, None),
        ("invented TLS version", t(&format!("{IF_GIVEN}  min_version: TLS111\n")), false, None),
        ("TLS, verify if given without a CA", t(IF_GIVEN), true, Some(NO_CA)),
        ("inline cert and key", format!("tls_server_config:\n  cert: |\n{}  key: |\n{}{IF_GIVEN}", indented(cert), indented(key)), true, Some(NO_CA)),
        ("all AEAD ciphers", t(&format!("{IF_GIVEN}  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256]\n")), true, Some(NO_CA)),
        ("all curves, P-521 among them", t(&format!("{IF_GIVEN}  curve_preferences: [CurveP256, CurveP384, CurveP521, X25519]\n")), true, Some(NO_CA)),
        ("some ciphers, TLS 1.2 only", t(&format!("{IF_GIVEN}  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]\n  min_version: TLS12\n  max_version: TLS12\n")), true, Some(NO_CA)),
        ("P-521 only, TLS 1.3", t(&format!("{IF_GIVEN}  min_version: TLS13\n  curve_preferences: [CurveP521]\n")), true, Some(NO_CA)),
        ("a non-HTTP/2 cipher, http2 off", format!("{}http_server_config:\n  http2: false\n", t(&format!("{IF_GIVEN}  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]\n  max_version: TLS12\n"))), true, Some(NO_CA)),
        // The reference refuses for HTTP/2's sake, we for want of a CA.
        ("a non-HTTP/2 cipher, http2 on", t(&format!("{IF_GIVEN}  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]\n  max_version: TLS12\n")), false, None),
        ("the allowed headers", "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000; includeSubDomains\n    X-Content-Type-Options: nosniff\n    X-XSS-Protection: 1\n    Content-Security-Policy: \"default-src 'self'\"\n".into(), true, None),
        ("X-Content-Type-Options: sniff", "http_server_config:\n  headers:\n    X-Content-Type-Options: sniff\n".into(), false, None),
        ("X-Frame-Options: foo", "http_server_config:\n  headers:\n    X-Frame-Options: foo\n".into(), false, None),
        ("a header that cannot be set", "http_server_config:\n  headers:\n    Content-Type: foo\n".into(), false, None),
        ("RequireAnyClientCert", t("  client_auth_type: RequireAnyClientCert\n"), true, Some("RequireAnyClientCert is refused")),
        ("a self-signed client CA", t("  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: client_selfsigned.pem\n"), true, None),
        ("allowed SANs", t("  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: client2_selfsigned.pem\n  client_allowed_sans: [one, test3, two]\n"), true, None),
        ("rate limit off", "rate_limit:\n  interval: 0\n  burst: 0\n".into(), true, None),
        ("rate limit 1s, burst 0", "rate_limit:\n  interval: \"1s\"\n  burst: 0\n".into(), true, Some("burst 0 would refuse every request")),
    ]
}

#[test]
fn the_reference_start_up_cases_agree_but_for_the_documented_departures() {
    let dir = tempfile::tempdir().expect("dir");
    let (cert, key) = fixtures(dir.path());
    let web = dir.path().join("web.yml");
    assert!(
        load(&dir.path().join("missing.yml")).is_err(),
        "a missing file"
    );
    let (mut agree, mut depart) = (1, 0);
    for (name, text, reference_starts, departure) in cases(&cert, &key) {
        std::fs::write(&web, &text).expect("write");
        let ours = load(&web);
        let we_start = ours.is_ok();
        let expected = if departure.is_some() {
            !reference_starts
        } else {
            reference_starts
        };
        assert_eq!(we_start, expected, "{name}: {:?}", ours.err());
        if we_start == reference_starts {
            agree += 1;
        } else {
            depart += 1;
        }
    }
    assert_eq!((agree, depart), (26, 9), "cases agreeing, departing");
}
