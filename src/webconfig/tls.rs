//! `tls_server_config` into a rustls [`ServerConfig`]: the keys the
//! exporter refuses, the server certificate and key, the protocol versions,
//! the client-certificate policy, and the assembled config. The client CA
//! and its verifier are in [`super::client_cert`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, SupportedProtocolVersion};

use super::client_cert::client_cert_verifier;
use super::raw::RawTls;
use super::{ClientAuth, WebConfigError, field_error};

/// The section's name, the prefix of its fields' names in errors.
const TLS_SECTION: &str = "tls_server_config";

/// The dotted name of `key` in `tls_server_config`, for errors.
pub(super) fn tls_field(key: &str) -> String {
    format!("{TLS_SECTION}.{key}")
}

/// The rustls config and client-certificate policy of `t`, relative files
/// resolved against `dir`. `admit_anonymous`: let clients without a
/// certificate finish the handshake, so that they can reach the public
/// paths.
pub(super) fn tls_config(
    path: &Path,
    dir: &Path,
    t: RawTls,
    admit_anonymous: bool,
) -> Result<(ServerConfig, ClientAuth), WebConfigError> {
    refuse_unsupported_keys(path, &t)?;
    let (certs, key) = server_identity(path, dir, &t)?;
    let versions = protocol_versions(path, t.min_version.as_deref(), t.max_version.as_deref())?;
    let client_auth = client_auth_policy(
        path,
        t.client_auth_type.as_deref(),
        t.client_ca_file.is_some(),
    )?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| field_error(path, tls_field("min_version"), e))?;
    let builder = if client_auth == ClientAuth::None {
        builder.with_no_client_auth()
    } else {
        let ca_file = t.client_ca_file.as_ref().map(|f| dir.join(f));
        let allow_unauthenticated = admit_anonymous || client_auth == ClientAuth::VerifyIfGiven;
        let verifier = client_cert_verifier(path, ca_file, provider, allow_unauthenticated)?;
        builder.with_client_cert_verifier(verifier)
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| {
        field_error(
            path,
            tls_field("key_file"),
            format!("does not match cert_file: {e}"),
        )
    })?;
    // The exporter-toolkit's default.
    config.ignore_client_order = t.prefer_server_cipher_suites.unwrap_or(true);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((config, client_auth))
}

/// Refuses `cipher_suites` and `curve_preferences` when not empty: the
/// exporter's choice of suites and curves is fixed.
pub(super) fn refuse_unsupported_keys(path: &Path, t: &RawTls) -> Result<(), WebConfigError> {
    if t.cipher_suites.as_ref().is_some_and(|c| !c.is_empty()) {
        return Err(field_error(
            path,
            tls_field("cipher_suites"),
            "is not supported: the exporter offers only modern AEAD suites (TLS 1.3, and ECDHE with AES-GCM or ChaCha20-Poly1305 for TLS 1.2); remove the key",
        ));
    }
    if t.curve_preferences.as_ref().is_some_and(|c| !c.is_empty()) {
        return Err(field_error(
            path,
            tls_field("curve_preferences"),
            "is not supported: the exporter offers X25519, P-256 and P-384; remove the key",
        ));
    }
    Ok(())
}

/// A required file key (`cert_file`, `key_file`), resolved against `dir`.
fn required_file(
    path: &Path,
    dir: &Path,
    key: &str,
    file: Option<&PathBuf>,
) -> Result<PathBuf, WebConfigError> {
    file.map(|f| dir.join(f))
        .ok_or_else(|| field_error(path, tls_field(key), "is required with TLS"))
}

/// The server's certificate chain and private key, read from `cert_file`
/// and `key_file` (both required, checked before either is read).
fn server_identity(
    path: &Path,
    dir: &Path,
    t: &RawTls,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), WebConfigError> {
    let cert_file = required_file(path, dir, "cert_file", t.cert_file.as_ref())?;
    let key_file = required_file(path, dir, "key_file", t.key_file.as_ref())?;
    let certs = certificate_chain(path, &cert_file)?;
    let key = private_key(path, &key_file)?;
    Ok((certs, key))
}

/// The certificates of the PEM file `cert_file`; at least one.
fn certificate_chain(
    path: &Path,
    cert_file: &Path,
) -> Result<Vec<CertificateDer<'static>>, WebConfigError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .and_then(|it| it.collect())
        .map_err(|e| {
            field_error(
                path,
                tls_field("cert_file"),
                format!("{}: {e}", cert_file.display()),
            )
        })?;
    if certs.is_empty() {
        return Err(field_error(
            path,
            tls_field("cert_file"),
            format!("{}: no certificate in it", cert_file.display()),
        ));
    }
    Ok(certs)
}

/// The private key of the PEM file `key_file`. The error names the file,
/// never its content.
fn private_key(path: &Path, key_file: &Path) -> Result<PrivateKeyDer<'static>, WebConfigError> {
    PrivateKeyDer::from_pem_file(key_file).map_err(|e| {
        field_error(
            path,
            tls_field("key_file"),
            format!("{}: {e}", key_file.display()),
        )
    })
}

/// A `min_version` or `max_version` value as 12 or 13; `default` when
/// absent or empty. TLS 1.0 and 1.1 are refused by name.
pub(super) fn tls_version(
    path: &Path,
    field: &str,
    value: Option<&str>,
    default: u8,
) -> Result<u8, WebConfigError> {
    match value {
        None | Some("") => Ok(default),
        Some("TLS12") => Ok(12),
        Some("TLS13") => Ok(13),
        Some(v @ ("TLS10" | "TLS11")) => Err(field_error(
            path,
            field,
            format!("{v} is not supported: it is obsolete (RFC 8996); use TLS12 or TLS13"),
        )),
        Some(v) => Err(field_error(
            path,
            field,
            format!("{v:?} is not a TLS version (TLS12 or TLS13)"),
        )),
    }
}

/// The rustls protocol versions from `min_version` (default TLS12) to
/// `max_version` (default TLS13).
pub(super) fn protocol_versions(
    path: &Path,
    min_version: Option<&str>,
    max_version: Option<&str>,
) -> Result<Vec<&'static SupportedProtocolVersion>, WebConfigError> {
    let min = tls_version(path, &tls_field("min_version"), min_version, 12)?;
    let max = tls_version(path, &tls_field("max_version"), max_version, 13)?;
    if min > max {
        return Err(field_error(
            path,
            tls_field("max_version"),
            "is below min_version",
        ));
    }
    Ok(
        [(12, &rustls::version::TLS12), (13, &rustls::version::TLS13)]
            .into_iter()
            .filter(|(v, _)| (min..=max).contains(v))
            .map(|(_, p)| p)
            .collect(),
    )
}

/// The policy of `client_auth_type` (absent or empty is `NoClientCert`).
/// As the exporter-toolkit: a client CA needs a policy that verifies with
/// it, and such a policy needs a client CA (checked when the CA is read).
/// Policies that accept unverified certificates are refused.
pub(super) fn client_auth_policy(
    path: &Path,
    client_auth_type: Option<&str>,
    has_client_ca: bool,
) -> Result<ClientAuth, WebConfigError> {
    let field = tls_field("client_auth_type");
    match (client_auth_type.unwrap_or(""), has_client_ca) {
        ("" | "NoClientCert", false) => Ok(ClientAuth::None),
        ("" | "NoClientCert", true) => Err(field_error(
            path,
            field,
            "must be VerifyClientCertIfGiven or RequireAndVerifyClientCert when client_ca_file is given",
        )),
        ("RequireAndVerifyClientCert", _) => Ok(ClientAuth::RequireAndVerify),
        ("VerifyClientCertIfGiven", _) => Ok(ClientAuth::VerifyIfGiven),
        (v @ ("RequestClientCert" | "RequireAnyClientCert"), _) => Err(field_error(
            path,
            field,
            format!(
                "{v} accepts certificates nobody verified; use VerifyClientCertIfGiven or RequireAndVerifyClientCert with client_ca_file"
            ),
        )),
        (v, _) => Err(field_error(
            path,
            field,
            format!(
                "{v:?} is not one of NoClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert"
            ),
        )),
    }
}
