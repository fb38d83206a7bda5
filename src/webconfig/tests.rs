//! Unit tests of the web config: parsing and validation through
//! [`parse`], and each small step (sections, TLS settings, the watch)
//! directly.

use std::path::Path;

use super::parse::{
    ALLOWED_HEADERS, check_user, is_usable_bcrypt_hash, parse, public_paths, reported_field,
    response_headers, static_header_name,
};
use super::raw::RawHttp;
use super::source::{reload, stamp, watched_files};
use super::tls::{client_auth_policy, protocol_versions, tls_field, tls_version};
use super::{ClientAuth, DEFAULT_PUBLIC_PATHS};

fn err(text: &str) -> String {
    parse(Path::new("/etc/web.yml"), text)
        .expect_err("must be rejected")
        .to_string()
}

#[test]
fn an_empty_file_means_no_tls_no_auth_and_public_probes() {
    let s = parse(Path::new("/w.yml"), "").expect("empty is valid");
    assert!(s.tls.is_none());
    assert!(s.users.is_empty());
    assert!(s.is_public("/healthz") && s.is_public("/readyz"));
    assert!(!s.is_public("/metrics"));
}

#[test]
fn bad_fields_are_named() {
    assert!(err("tls_server_config:\n  cert_fil: x\n").contains("tls_server_config"));
    assert!(err("tls_server_config:\n  cert_fil: x\n").contains("cert_fil"));
    assert!(err("basic_auth_users:\n  alice: plaintext\n").contains("basic_auth_users.alice"));
    assert!(!err("basic_auth_users:\n  alice: plaintext\n").contains("plaintext"));
    assert!(err("tls_server_config:\n  key_file: k\n").contains("tls_server_config.cert_file"));
    assert!(err("http_server_config:\n  headers:\n    X-Evil: 1\n").contains("headers.X-Evil"));
    assert!(err("public_paths: [healthz]\n").contains("public_paths"));
    assert!(err("nonsense: 1\n").contains("nonsense"));
}

#[test]
fn obsolete_tls_versions_are_refused_by_name() {
    let e = err("tls_server_config:\n  cert_file: c\n  key_file: k\n  min_version: TLS10\n");
    // The files do not exist, which is found first.
    assert!(e.contains("cert_file"), "{e}");
    assert!(tls_version(Path::new("w"), "min_version", Some("TLS11"), 12).is_err());
    assert_eq!(
        tls_version(Path::new("w"), "x", Some("TLS13"), 12).ok(),
        Some(13)
    );
    assert_eq!(tls_version(Path::new("w"), "x", None, 12).ok(), Some(12));
}

#[test]
fn the_dummy_hash_has_the_fixed_cost_whatever_the_users_cost() {
    let h4 = bcrypt::hash("x", 4).expect("hash");
    let h12 = "$2y$12$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";
    let s = parse(
        Path::new("/w.yml"),
        &format!("basic_auth_users:\n  a: {h4}\n  b: {h12}\n"),
    )
    .expect("valid");
    let parts = s
        .dummy_hash
        .parse::<bcrypt::HashParts>()
        .expect("a bcrypt hash");
    assert_eq!(parts.get_cost(), super::DUMMY_COST);
    assert_eq!(bcrypt::verify("x", &s.dummy_hash).ok(), Some(false));
}

#[test]
fn public_paths_can_be_emptied() {
    let s = parse(Path::new("/w.yml"), "public_paths: []\n").expect("valid");
    assert!(!s.is_public("/healthz"));
}

const W: &str = "/w.yml";

#[test]
fn the_document_itself_is_reported_as_the_top_level() {
    assert_eq!(reported_field(".".into()), "(top level)");
    assert_eq!(
        reported_field("tls_server_config.cert_fil".into()),
        "tls_server_config.cert_fil"
    );
}

#[test]
fn public_paths_default_to_the_probes_and_must_be_absolute() {
    assert_eq!(
        public_paths(Path::new(W), None).expect("default"),
        DEFAULT_PUBLIC_PATHS
    );
    assert_eq!(
        public_paths(Path::new(W), Some(vec!["/live".into()])).expect("valid"),
        ["/live"]
    );
    let e = public_paths(Path::new(W), Some(vec!["/ok".into(), "live".into()]))
        .expect_err("relative")
        .to_string();
    assert_eq!(
        e,
        "web config file /w.yml: public_paths: \"live\" must start with /"
    );
}

#[test]
fn users_need_a_plain_name_and_a_bcrypt_hash_of_a_usable_cost() {
    let h4 = bcrypt::hash("x", 4).expect("hash");
    assert!(is_usable_bcrypt_hash(&h4));
    assert!(check_user(Path::new(W), "alice", &h4).is_ok());
    for bad_name in ["", "a:b"] {
        let e = check_user(Path::new(W), bad_name, &h4).expect_err("bad name");
        assert!(
            e.to_string().contains("must be non-empty and without ':'"),
            "{e}"
        );
    }
    let cost_3 = h4.replacen("$04$", "$03$", 1);
    assert!(!is_usable_bcrypt_hash(&cost_3));
    assert!(!is_usable_bcrypt_hash("plaintext"));
    let e = check_user(Path::new(W), "bob", &cost_3)
        .expect_err("cost 3")
        .to_string();
    assert!(
        e.contains("basic_auth_users.bob: is not a bcrypt hash of cost 4 to 31"),
        "{e}"
    );
    assert!(!e.contains(&cost_3), "{e}");
}

#[test]
fn every_allowed_header_has_its_lower_case_static_name() {
    for allowed in ALLOWED_HEADERS {
        assert_eq!(static_header_name(allowed), allowed.to_ascii_lowercase());
    }
}

#[test]
fn header_names_match_in_any_case_and_values_must_be_valid() {
    let http = |name: &str, value: &str| RawHttp {
        http2: None,
        headers: [(name.to_string(), value.to_string())].into(),
    };
    let headers = response_headers(Path::new(W), http("x-FRAME-options", "DENY")).expect("valid");
    assert_eq!(headers.len(), 1);
    assert_eq!(headers[0].0, "x-frame-options");
    assert_eq!(headers[0].1, "DENY");
    let e = response_headers(Path::new(W), http("Content-Security-Policy", "a\nb"))
        .expect_err("newline")
        .to_string();
    assert_eq!(
        e,
        "web config file /w.yml: http_server_config.headers.Content-Security-Policy: is not a valid header value"
    );
    let e = response_headers(Path::new(W), http("Server", "x"))
        .expect_err("not allowed")
        .to_string();
    assert!(
        e.contains("headers.Server: is not one of Strict-Transport-Security, "),
        "{e}"
    );
}

#[test]
fn enumerated_header_values_are_checked_as_the_exporter_toolkit_does() {
    let one = |name: &str, value: &str| {
        let http = RawHttp {
            http2: None,
            headers: [(name.to_string(), value.to_string())].into(),
        };
        response_headers(Path::new(W), http).map_err(|e| e.to_string())
    };
    for (name, value) in [
        ("X-Content-Type-Options", "nosniff"),
        ("X-Content-Type-Options", "NoSniff"),
        ("X-Frame-Options", "deny"),
        ("X-Frame-Options", "sameorigin"),
        ("X-Frame-Options", "SAMEORIGIN"),
        ("X-XSS-Protection", "1; mode=block"),
        ("Strict-Transport-Security", "max-age=31536000"),
        ("Content-Security-Policy", "default-src 'self'"),
    ] {
        assert!(one(name, value).is_ok(), "{name}: {value} must be accepted");
    }
    assert_eq!(
        one("X-Content-Type-Options", "sniff").expect_err("sniff"),
        "web config file /w.yml: http_server_config.headers.X-Content-Type-Options: \"sniff\" is not one of nosniff"
    );
    assert_eq!(
        one("X-Frame-Options", "foo").expect_err("foo"),
        "web config file /w.yml: http_server_config.headers.X-Frame-Options: \"foo\" is not one of deny, sameorigin"
    );
    assert!(
        one("X-Frame-Options", "").is_err(),
        "empty is not an allowed value"
    );
    assert!(one("x-content-type-options", "").is_err());
}

#[test]
fn tls_fields_are_named_under_their_section() {
    assert_eq!(tls_field("key_file"), "tls_server_config.key_file");
}

#[test]
fn protocol_versions_run_from_min_to_max() {
    let versions = |min, max| protocol_versions(Path::new(W), min, max);
    assert_eq!(versions(None, None).expect("default").len(), 2);
    let only_13 = versions(Some("TLS13"), None).expect("TLS 1.3 only");
    assert_eq!(only_13.len(), 1);
    assert_eq!(only_13[0].version, rustls::ProtocolVersion::TLSv1_3);
    let only_12 = versions(Some(""), Some("TLS12")).expect("TLS 1.2 only");
    assert_eq!(only_12[0].version, rustls::ProtocolVersion::TLSv1_2);
    let e = versions(Some("TLS13"), Some("TLS12"))
        .expect_err("inverted")
        .to_string();
    assert!(
        e.ends_with("tls_server_config.max_version: is below min_version"),
        "{e}"
    );
    let e = versions(Some("TLS10"), None)
        .expect_err("obsolete")
        .to_string();
    assert!(
        e.contains("min_version: TLS10 is not supported: it is obsolete"),
        "{e}"
    );
}

#[test]
fn client_auth_types_map_to_policies_and_a_ca_needs_one_that_verifies() {
    let policy = |t, ca| client_auth_policy(Path::new(W), t, ca).map_err(|e| e.to_string());
    assert_eq!(policy(None, false), Ok(ClientAuth::None));
    assert_eq!(policy(Some("NoClientCert"), false), Ok(ClientAuth::None));
    assert_eq!(
        policy(Some("VerifyClientCertIfGiven"), true),
        Ok(ClientAuth::VerifyIfGiven)
    );
    assert_eq!(
        policy(Some("RequireAndVerifyClientCert"), true),
        Ok(ClientAuth::RequireAndVerify)
    );
    // Without a CA, the policy is accepted here; the missing client_ca_file
    // is reported when the verifier is built.
    assert_eq!(
        policy(Some("RequireAndVerifyClientCert"), false),
        Ok(ClientAuth::RequireAndVerify)
    );
    let e = policy(None, true).expect_err("CA without policy");
    assert!(
        e.contains("client_auth_type: must be VerifyClientCertIfGiven"),
        "{e}"
    );
    let e = policy(Some("RequireAnyClientCert"), true).expect_err("unverified");
    assert!(
        e.contains("RequireAnyClientCert accepts certificates nobody verified"),
        "{e}"
    );
    let e = policy(Some("Maybe"), false).expect_err("unknown");
    assert!(e.contains("\"Maybe\" is not one of NoClientCert"), "{e}");
}

#[test]
fn a_client_auth_policy_without_a_ca_file_is_refused() {
    let e = err("tls_server_config:\n  cert_file: c\n  key_file: k\n");
    assert!(e.contains("tls_server_config.cert_file"), "{e}");
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
    std::fs::write(dir.path().join("c.pem"), cert.cert.pem()).expect("write");
    std::fs::write(dir.path().join("k.pem"), cert.key_pair.serialize_pem()).expect("write");
    let file = dir.path().join("web.yml");
    let text = "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  client_auth_type: RequireAndVerifyClientCert\n";
    let e = parse(&file, text).expect_err("no CA").to_string();
    assert!(
        e.ends_with("tls_server_config.client_ca_file: is required to verify client certificates"),
        "{e}"
    );
    let ok = parse(
        &file,
        "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n",
    )
    .expect("valid TLS");
    assert!(ok.tls.is_some());
    assert_eq!(ok.client_auth, ClientAuth::None);
}

#[test]
fn the_watch_covers_the_file_and_the_files_it_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("web.yml");
    assert_eq!(watched_files(&file), std::slice::from_ref(&file));
    assert_eq!(stamp(&file), None);
    std::fs::write(
        &file,
        "tls_server_config:\n  cert_file: c.pem\n  key_file: /abs/k.pem\n",
    )
    .expect("write");
    assert!(stamp(&file).is_some());
    assert_eq!(
        watched_files(&file),
        [file.clone(), dir.path().join("c.pem"), "/abs/k.pem".into()]
    );
    std::fs::write(&file, "not: [valid").expect("write");
    assert_eq!(watched_files(&file), std::slice::from_ref(&file));
}

#[test]
fn a_reload_refuses_an_empty_file_and_a_switch_of_tls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("web.yml");
    std::fs::write(&file, "").expect("write");
    let e = reload(&file, false).expect_err("empty").to_string();
    assert!(e.ends_with(": (top level): the file is empty"), "{e}");
    std::fs::write(&file, "public_paths: []\n").expect("write");
    assert!(reload(&file, false).is_ok());
    let e = reload(&file, true).expect_err("TLS to plain").to_string();
    assert!(
        e.ends_with("tls_server_config: switching between TLS and plain HTTP needs a restart"),
        "{e}"
    );
}

#[test]
fn inline_pem_and_its_file_are_exclusive_and_an_inline_key_is_never_quoted() {
    let e = err("tls_server_config:\n  cert: x\n  cert_file: c\n  key_file: k\n");
    assert!(
        e.ends_with(
            "tls_server_config.cert: and cert_file are exclusive: give the PEM inline or a file, not both"
        ),
        "{e}"
    );
    let e = err("tls_server_config:\n  cert: \"\"\n  key_file: k\n");
    assert!(
        e.contains("tls_server_config.cert_file: is required with TLS (or cert, inline)"),
        "{e}"
    );
    let leaf = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    let cert = leaf.cert.pem().replace('\n', "\n    ");
    let e = err(&format!(
        "tls_server_config:\n  cert: |\n    {cert}\n  key: SECRETKEYTEXT\n"
    ));
    assert!(e.contains("tls_server_config.key: inline"), "{e}");
    assert!(!e.contains("SECRETKEYTEXT"), "the key was quoted: {e}");
    let key = leaf.key_pair.serialize_pem().replace('\n', "\n    ");
    let tls = format!("tls_server_config:\n  cert: |\n    {cert}\n  key: |\n    {key}\n");
    assert!(parse(Path::new(W), &tls).is_ok_and(|s| s.tls.is_some()));
    let e = err(&format!("{tls}  client_allowed_sans: [prometheus]\n"));
    assert!(
        e.contains("tls_server_config.client_allowed_sans: needs client certificates verified"),
        "{e}"
    );
    let e = err(&format!(
        "{tls}  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA]\n"
    ));
    assert!(
        e.contains(
            "tls_server_config.cipher_suites: TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA is not offered"
        ),
        "{e}"
    );
}

#[test]
fn the_security_doc_tables_every_departure_that_config_check_lists() {
    let doc = include_str!("../../docs/security.md");
    let lines = super::departure_lines("  ");
    assert_eq!(lines.lines().count(), super::DEPARTURES.len());
    for (what, why) in super::DEPARTURES {
        assert!(
            doc.contains(&format!("| {what} | {why} |\n")),
            "docs/security.md's table lacks {what:?}"
        );
        assert!(lines.contains(&format!("- {}: {why}", what.replace('`', ""))));
    }
    let rows = doc
        .lines()
        .skip_while(|l| !l.starts_with("| Departure from the exporter-toolkit |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .count();
    assert_eq!(rows, super::DEPARTURES.len(), "a row the list lacks");
}
