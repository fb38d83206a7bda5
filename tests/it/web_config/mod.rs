//! `--web.config.file` (TLS, mTLS, basic auth, reloads) and the outbound
//! TLS settings (`--evolux.ca-file`), with real TLS clients and servers and
//! certificates generated for each test.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::app::{TestApp, config, spawn_app};
use crate::mock_api::records;
use crate::support::{CAMPAIGN_A, TEMPLATE_1, wait_for};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedKey, ExtendedKeyUsagePurpose, IsCa, KeyPair,
};
use reqwest::StatusCode;

mod client_certs;
mod logins;
mod reference_wire;
mod serving;
mod toolkit_fields;
mod upstream_and_mistakes;

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

/// An exporter serving mutual TLS in `dir`: a server certificate from one
/// CA, client certificates required from another. `extra` follows the
/// `tls_server_config` lines (indent it to add to that section). Returns the
/// exporter, the server's CA and the clients' CA.
async fn mutual_tls_exporter(dir: &Path, extra: &str) -> (TestApp, Pki, Pki) {
    let server_pki = Pki::new();
    let client_pki = Pki::new();
    write_server_cert(dir, &server_pki.issue(false));
    write(dir, "client-ca.crt", &client_pki.ca_pem());
    let (app, _) = exporter(
        dir,
        &format!(
            "tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n  client_ca_file: client-ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n{extra}"
        ),
    )
    .await;
    (app, server_pki, client_pki)
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
async fn exporter(dir: &Path, web_yml: &str) -> (TestApp, PathBuf) {
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
