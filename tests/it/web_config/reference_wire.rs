//! The exporter-toolkit's over-the-wire cases (`TestServerBehaviour` in
//! `web/tls_config_test.go`, and `web/handler_test.go`), rewritten in our
//! words as one table, with rcgen fixtures, against our real server: a
//! client of a given kind (plain, TLS with chosen versions, suites, curves
//! and certificate, or a bare TLS 1.1 hello) and what it gets. Each case
//! states the reference's outcome; where ours differs it names the entry
//! of `DEPARTURES` that explains why, and asserts our outcome instead.
//!
//! Our fixtures differ from the reference's where our tools do: rcgen (on
//! ring) makes ECDSA P-256 keys, so the reference's `ECDHE_RSA` suites are
//! read as their `ECDHE_ECDSA` twins; a client CA is its own certificate
//! there but issues the client's here (webpki refuses a CA as a client);
//! and where the reference verifies client certificates "if given" without
//! a CA, which we refuse at start-up (counted by the start-up table in
//! `src/webconfig/reference_cases.rs`), we add our CA so that the case's
//! behaviour on the wire can still be compared; those cases are counted as
//! adapted.

use std::time::Duration;

use evolux_exporter::webconfig::DEPARTURES;
use rustls::crypto::ring::{cipher_suite as cs, kx_group};
use rustls::crypto::{CryptoProvider, SupportedKxGroup};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{CipherSuite, SupportedCipherSuite};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;

/// What a client gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The exporter does not start with the file.
    NoStart,
    /// An answer with this status.
    Status(u16),
    /// A 200 over a connection that negotiated this suite.
    ServedWith(CipherSuite),
    /// An answer without the expected headers.
    HeadersMissing,
    /// No answer: the handshake or the connection fails.
    Refused,
}
use Outcome::*;

/// The certificate a TLS client presents.
#[derive(Clone, Copy)]
enum Who {
    Nobody,
    /// Issued by our CA, its name `prometheus`.
    Client,
    /// Issued by our CA, its name `test3` (as the reference's `client2`).
    Test3,
}

#[derive(Clone)]
enum Client {
    /// Plain HTTP, optionally with a login.
    Plain(Option<(String, String)>),
    /// TLS: TLS 1.2 only?, the suites and curves offered (empty: rustls's
    /// defaults), the certificate presented.
    Tls(
        bool,
        Vec<SupportedCipherSuite>,
        Vec<&'static dyn SupportedKxGroup>,
        Who,
    ),
    /// A bare ClientHello that offers TLS 1.1 at most (rustls cannot).
    Hello11,
    /// Plain HTTP: a right login and a wrong one, then this many right
    /// and as many wrong at once; answers 200 if each got what it should
    /// (200 and 401).
    Crowd(usize, (String, String), (String, String)),
    /// Plain HTTP: answers 200 if the response carries these headers.
    Headers(Vec<(&'static str, &'static str)>),
}

fn tls() -> Client {
    Client::Tls(false, vec![], vec![], Who::Nobody)
}

struct Case {
    name: &'static str,
    /// The web config; `tls.crt`, `tls.key`, `ca.crt` sit next to it.
    yml: String,
    client: Client,
    /// How many times the client asks (the last answer counts).
    requests: usize,
    reference: Outcome,
    /// Where we depart: a phrase of the `DEPARTURES` entry, and our outcome.
    ours: Option<(&'static str, Outcome)>,
    /// Whether our fixture adds a client CA the reference's file lacks.
    adapted: bool,
}

fn case(name: &'static str, yml: String, client: Client, reference: Outcome) -> Case {
    Case {
        name,
        yml,
        client,
        requests: 1,
        reference,
        ours: None,
        adapted: false,
    }
}

impl Case {
    fn departs(mut self, entry: &'static str, ours: Outcome) -> Case {
        self.ours = Some((entry, ours));
        self
    }
    fn adapted(mut self) -> Case {
        self.adapted = true;
        self
    }
    fn times(mut self, n: usize) -> Case {
        self.requests = n;
        self
    }
}

/// The `DEPARTURES` entry that mentions `phrase` (exactly one must).
fn departure(phrase: &str) -> &'static str {
    let hits: Vec<_> = DEPARTURES
        .iter()
        .filter(|(what, _)| what.contains(phrase))
        .collect();
    assert_eq!(hits.len(), 1, "one DEPARTURES entry mentions {phrase:?}");
    hits[0].0
}

const TLS: &str = "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n";
/// Verify if given, with the CA the reference leaves out (see above).
const IF_GIVEN_CA: &str = "  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.crt\n";
const NO_CA: &str = "need `client_ca_file`";
const SUITES: &str = "only AEAD suites";

fn t(extra: &str) -> String {
    format!("{TLS}{extra}")
}

/// handler_test.go: basic auth and headers, over plain HTTP. `alice` and
/// `carol` are hashes of `alice123` and `carol123`.
fn handler_cases(alice: &str, carol: &str) -> Vec<Case> {
    let users = format!("basic_auth_users:\n  alice: {alice}\n  carol: {carol}\n");
    let login = |u: &str, p: &str| Client::Plain(Some((u.to_string(), p.to_string())));
    let pair = |u: &str, p: &str| (u.to_string(), p.to_string());
    vec![
        case("alice, her password", users.clone(), login("alice", "alice123"), Status(200)),
        case("alice, a wrong password", users.clone(), login("alice", "alice1234"), Status(401)),
        case("alice, her password twice (remembered)", users.clone(), login("alice", "alice123"), Status(200)).times(2),
        case(
            "150 right and 150 wrong logins at once",
            users.clone(),
            Client::Crowd(150, pair("alice", "alice123"), pair("alice", "alice1234")),
            Status(200),
        ),
        case("an unknown user, twice", users.clone(), login("fakeuser", "fakepassword"), Status(401)).times(2),
        case(
            "a user's hash glued to her name",
            users.clone(),
            login(&format!("alice{alice}"), "fakepassword"),
            Status(401),
        ),
        case(
            "another user's hash glued to a password",
            users,
            login("alice", &format!("{carol}fakepassword")),
            Status(401),
        ),
        case(
            "the configured headers on an answer",
            "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000; includeSubDomains\n    X-Content-Type-Options: nosniff\n    X-XSS-Protection: 1\n".into(),
            Client::Headers(vec![
                ("strict-transport-security", "max-age=31536000; includeSubDomains"),
                ("x-frame-options", "deny"),
                ("x-content-type-options", "nosniff"),
                ("x-xss-protection", "1"),
            ]),
            Status(200),
        ),
    ]
}

fn cases(inline_cert: &str, inline_key: &str) -> Vec<Case> {
    let indent = |pem: &str| -> String { pem.lines().map(|l| format!("    {l}\n")).collect() };
    let some_suites = t(&format!(
        "{IF_GIVEN_CA}  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]\n  min_version: TLS12\n  max_version: TLS12\n"
    ));
    let no_order = t(&format!(
        "{IF_GIVEN_CA}  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]\n  prefer_server_cipher_suites: false\n  min_version: TLS12\n  max_version: TLS12\n"
    ));
    let some_curves = t(&format!(
        "{IF_GIVEN_CA}  min_version: TLS13\n  curve_preferences: [CurveP521]\n"
    ));
    let one_suite_12 = t(&format!(
        "{IF_GIVEN_CA}  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]\n  max_version: TLS12\n"
    ));
    let tls12 = |suites: Vec<SupportedCipherSuite>| Client::Tls(true, suites, vec![], Who::Nobody);
    let curves = |groups: Vec<&'static dyn SupportedKxGroup>| {
        Client::Tls(false, vec![], groups, Who::Nobody)
    };
    let with = |who: Who| Client::Tls(false, vec![], vec![], who);
    let headers = "http_server_config:\n  headers:\n    X-Frame-Options: deny\n    Strict-Transport-Security: max-age=31536000; includeSubDomains\n    X-Content-Type-Options: nosniff\n    X-XSS-Protection: 1\n    Content-Security-Policy: \"default-src 'self' *.test.example.net\"\n";
    let require_verify =
        t("  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n");
    vec![
        // tls_config_test.go, TestServerBehaviour.
        case("no file, plain client", String::new(), Client::Plain(None), Status(200)),
        case("no file, TLS client", String::new(), tls(), Refused),
        case("TLS, plain client", t(IF_GIVEN_CA), Client::Plain(None), Refused).adapted(),
        case("TLS, TLS client", t(IF_GIVEN_CA), tls(), Status(200)).adapted(),
        case(
            "TLS with cert and key inline, TLS client",
            format!("tls_server_config:\n  cert: |\n{}  key: |\n{}{IF_GIVEN_CA}", indent(inline_cert), indent(inline_key)),
            tls(),
            Status(200),
        )
        .adapted(),
        case("TLS, a TLS 1.1 client", t(IF_GIVEN_CA), Client::Hello11, Refused).adapted(),
        case(
            "all the reference's suites, CBC among them",
            t(&format!("{IF_GIVEN_CA}  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256, TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA]\n")),
            tls(),
            Status(200),
        )
        .adapted()
        .departs(SUITES, NoStart),
        case(
            "two suites, the client offers the first",
            some_suites.clone(),
            tls12(vec![cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]),
            ServedWith(CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
        )
        .adapted(),
        case(
            "two suites, the client offers neither",
            some_suites.clone(),
            tls12(vec![cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256]),
            Refused,
        )
        .adapted(),
        case(
            "two suites, the client offers both, server's order",
            some_suites,
            tls12(vec![cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]),
            ServedWith(CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
        )
        .adapted(),
        case(
            "two suites, the client offers both, client's order",
            no_order,
            tls12(vec![cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]),
            ServedWith(CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256),
        )
        .adapted(),
        case(
            "all curves, P-521 among them",
            t(&format!("{IF_GIVEN_CA}  curve_preferences: [CurveP256, CurveP384, CurveP521, X25519]\n")),
            tls(),
            Status(200),
        )
        .adapted()
        .departs(SUITES, NoStart),
        case("P-521 only, the client offers P-521", some_curves.clone(), curves(vec![]), Status(200))
            .adapted()
            .departs(SUITES, NoStart),
        case("P-521 only, the client offers P-384", some_curves, curves(vec![kx_group::SECP384R1]), Refused)
            .adapted()
            .departs(SUITES, NoStart),
        case(
            "a suite HTTP/2 forbids, http2 off",
            format!("{one_suite_12}http_server_config:\n  http2: false\n"),
            tls(),
            Status(200),
        )
        .adapted(),
        case("a suite HTTP/2 forbids, http2 on", one_suite_12, tls(), NoStart)
            .adapted()
            .departs("HTTP/2 is not offered", Status(200)),
        case("the allowed headers", headers.into(), Client::Plain(None), Status(200)),
        case(
            "X-Content-Type-Options: sniff",
            "http_server_config:\n  headers:\n    X-Content-Type-Options: sniff\n".into(),
            Client::Plain(None),
            NoStart,
        ),
        case(
            "X-Frame-Options: foo",
            "http_server_config:\n  headers:\n    X-Frame-Options: foo\n".into(),
            Client::Plain(None),
            NoStart,
        ),
        case(
            "Content-Type cannot be set",
            "http_server_config:\n  headers:\n    Content-Type: foo\n".into(),
            Client::Plain(None),
            NoStart,
        ),
        case(
            "RequireAnyClientCert, a certificate presented",
            t("  client_auth_type: RequireAnyClientCert\n"),
            with(Who::Client),
            Status(200),
        )
        .departs("RequireAnyClientCert", NoStart),
        case(
            "RequireAnyClientCert (cert from a file, key inline), a certificate presented",
            format!("tls_server_config:\n  cert_file: tls.crt\n  key: |\n{}  client_auth_type: RequireAnyClientCert\n", indent(inline_key)),
            with(Who::Client),
            Status(200),
        )
        .departs("RequireAnyClientCert", NoStart),
        case("RequireAndVerifyClientCert, a verified certificate", require_verify, with(Who::Client), Status(200)),
        case(
            "allowed SANs, the client's among them",
            t("  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  client_allowed_sans: [one, test3, two]\n"),
            with(Who::Test3),
            Status(200),
        ),
        case(
            "allowed SANs, the client's not among them",
            t("  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.crt\n  client_allowed_sans: [bad]\n"),
            with(Who::Test3),
            Refused,
        ),
        case("no rate limit, ten requests", "rate_limit:\n  interval: 0\n  burst: 0\n".into(), Client::Plain(None), Status(200))
            .times(10),
        case("one a second, burst 0, ten requests", "rate_limit:\n  interval: \"1s\"\n  burst: 0\n".into(), Client::Plain(None), Status(429))
            .times(10)
            .departs("`burst: 0` is refused", NoStart),
    ]
}

/// A TLS 1.1 ClientHello offering two ECDHE-ECDSA CBC suites and no
/// extensions.
fn hello_tls11() -> Vec<u8> {
    let mut body = vec![0x03, 0x02];
    body.extend([7u8; 32]);
    body.extend([0x00, 0x00, 0x04, 0xc0, 0x09, 0xc0, 0x0a, 0x01, 0x00]);
    let mut msg = vec![0x01, 0x00, 0x00, body.len() as u8];
    msg.extend(body);
    let mut rec = vec![0x16, 0x03, 0x01, 0x00, msg.len() as u8];
    rec.extend(msg);
    rec
}

/// The status line's code in `raw`, if it is an HTTP answer.
fn status_of(raw: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(raw);
    let line = text.lines().next()?;
    line.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

fn request(login: Option<&(String, String)>) -> Vec<u8> {
    let auth = login
        .map(|(u, p)| format!("Authorization: Basic {}\r\n", b64(&format!("{u}:{p}"))))
        .unwrap_or_default();
    format!("GET /metrics HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n")
        .into_bytes()
}

fn b64(s: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &c)| acc | (c as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// One request by `client` to `addr`.
async fn ask(
    addr: SocketAddr,
    client: &Client,
    pki: &Pki,
    ids: &[(Who, &CertifiedKey)],
) -> Outcome {
    let timeout = Duration::from_secs(5);
    let go = async {
        let mut tcp = TcpStream::connect(addr).await.expect("connect");
        let mut raw = Vec::new();
        match client {
            Client::Plain(login) => {
                tcp.write_all(&request(login.as_ref())).await.ok()?;
                tcp.read_to_end(&mut raw).await.ok()?;
                status_of(&raw).map(Status)
            }
            Client::Crowd(n, right, wrong) => {
                let http = reqwest::Client::new();
                let url = format!("http://{addr}/metrics");
                // As the reference does: one right and one wrong login
                // first, then the crowd.
                let mut tasks = tokio::task::JoinSet::new();
                for ((u, p), want) in [(right.clone(), 200), (wrong.clone(), 401)] {
                    let r = http.get(&url).basic_auth(u, Some(p)).send().await;
                    if r.map(|r| r.status().as_u16()).ok() != Some(want) {
                        return Some(Status(500));
                    }
                }
                for _ in 0..*n {
                    for ((u, p), want) in [(right.clone(), 200), (wrong.clone(), 401)] {
                        let (http, url) = (http.clone(), url.clone());
                        tasks.spawn(async move {
                            let r = http.get(&url).basic_auth(u, Some(p)).send().await;
                            r.map(|r| r.status().as_u16()).ok() == Some(want)
                        });
                    }
                }
                let all = tasks.join_all().await.into_iter().all(|ok| ok);
                Some(Status(if all { 200 } else { 500 }))
            }
            Client::Headers(want) => {
                let r = reqwest::get(format!("http://{addr}/metrics")).await.ok()?;
                let has = want
                    .iter()
                    .all(|(k, v)| r.headers().get(*k).map(|h| h.as_bytes()) == Some(v.as_bytes()));
                Some(if has {
                    Status(r.status().as_u16())
                } else {
                    HeadersMissing
                })
            }
            Client::Hello11 => {
                tcp.write_all(&hello_tls11()).await.ok()?;
                let _ = tcp.read_to_end(&mut raw).await;
                // A handshake record back (0x16) would be a ServerHello.
                assert_ne!(
                    raw.first(),
                    Some(&0x16),
                    "the server answered a TLS 1.1 hello"
                );
                None
            }
            Client::Tls(only12, suites, groups, who) => {
                let mut provider = rustls::crypto::ring::default_provider();
                if !suites.is_empty() {
                    provider.cipher_suites = suites.clone();
                }
                if !groups.is_empty() {
                    provider.kx_groups = groups.clone();
                }
                let versions: &[&rustls::SupportedProtocolVersion] = if *only12 {
                    &[&rustls::version::TLS12]
                } else {
                    rustls::DEFAULT_VERSIONS
                };
                let mut roots = rustls::RootCertStore::empty();
                roots.add(pki.ca.cert.der().clone()).expect("root");
                let builder = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
                    CryptoProvider { ..provider },
                ))
                .with_protocol_versions(versions)
                .expect("versions")
                .with_root_certificates(roots);
                let id = ids
                    .iter()
                    .find(|(w, _)| std::mem::discriminant(w) == std::mem::discriminant(who));
                let config = match id {
                    Some((_, key)) => builder
                        .with_client_auth_cert(
                            vec![key.cert.der().clone()],
                            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                                key.key_pair.serialize_der(),
                            )),
                        )
                        .expect("client cert"),
                    None => builder.with_no_client_auth(),
                };
                let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
                let name = ServerName::try_from("localhost").expect("name");
                let mut s = connector.connect(name, tcp).await.ok()?;
                let suite = s.get_ref().1.negotiated_cipher_suite()?.suite();
                s.write_all(&request(None)).await.ok()?;
                let _ = s.read_to_end(&mut raw).await;
                match status_of(&raw)? {
                    200 if !suites.is_empty() => Some(ServedWith(suite)),
                    code => Some(Status(code)),
                }
            }
        }
    };
    tokio::time::timeout(timeout, go)
        .await
        .ok()
        .flatten()
        .unwrap_or(Refused)
}

fn issue_named(pki: &Pki, name: &str) -> CertifiedKey {
    let mut params = CertificateParams::new(vec![name.to_string()]).expect("params");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let key_pair = KeyPair::generate().expect("key");
    let cert = params
        .signed_by(&key_pair, &pki.ca.cert, &pki.ca.key_pair)
        .expect("cert");
    CertifiedKey { cert, key_pair }
}

#[tokio::test]
async fn the_reference_wire_cases_agree_but_for_the_documented_departures() {
    let dir = tempfile::tempdir().expect("dir");
    let pki = Pki::new();
    let server = pki.issue(false);
    write_server_cert(dir.path(), &server);
    write(dir.path(), "ca.crt", &pki.ca_pem());
    let client = pki.issue(true);
    let test3 = issue_named(&pki, "test3");
    let ids = [(Who::Client, &client), (Who::Test3, &test3)];
    let (mut agree, mut depart, mut adapted) = (0, 0, 0);
    let mut all = cases(&server.cert.pem(), &server.key_pair.serialize_pem());
    let wire = all.len();
    let hash = |p: &str| bcrypt::hash(p, 8).expect("hash");
    all.extend(handler_cases(&hash("alice123"), &hash("carol123")));
    let total = all.len();
    for c in all {
        let web = write(dir.path(), "web.yml", &c.yml);
        let ours = match evolux_exporter::webconfig::load(&web) {
            Err(_) => NoStart,
            Ok(_) => {
                let (app, _) = exporter(dir.path(), &c.yml).await;
                let mut last = Refused;
                for _ in 0..c.requests {
                    last = ask(app.addr, &c.client, &pki, &ids).await;
                }
                last
            }
        };
        let expected = match c.ours {
            Some((entry, outcome)) => {
                println!("{}: departs ({})", c.name, departure(entry));
                depart += 1;
                outcome
            }
            None => {
                agree += 1;
                c.reference
            }
        };
        assert_eq!(
            ours, expected,
            "{} (the reference: {:?})",
            c.name, c.reference
        );
        if c.adapted {
            adapted += 1;
            println!("{}: adapted ({})", c.name, departure(NO_CA));
        }
    }
    println!(
        "reference wire cases ({wire} of tls_config_test.go, {} of handler_test.go): {total} ported, {agree} agree, {depart} depart ({adapted} with a client CA added)",
        total - wire
    );
    // Asserted, so that a change in either direction shows.
    assert_eq!(
        (total, agree, depart, adapted),
        (35, 27, 8, 14),
        "cases ported, agreeing, departing, adapted"
    );
}
