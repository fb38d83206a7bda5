//! `tls_server_config` into a rustls [`ServerConfig`]: the server
//! certificate and key (files or inline PEM), the protocol versions, the
//! client-certificate policy, and the assembled config. The client CA and
//! its verifier are in [`super::client_cert`], the suites and curves in
//! [`super::suites`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, SupportedProtocolVersion};

use super::client_cert::client_cert_verifier;
use super::raw::RawTls;
use super::suites::{cipher_suites, curves};
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
    let (certs, key) = server_identity(path, dir, &t)?;
    let versions = protocol_versions(path, t.min_version.as_deref(), t.max_version.as_deref())?;
    let client_ca = pem_source(
        path,
        dir,
        "client_ca",
        t.client_ca.as_ref(),
        t.client_ca_file.as_ref(),
    )?;
    let client_auth = client_auth_policy(path, t.client_auth_type.as_deref(), client_ca.is_some())?;
    if t.client_allowed_sans.is_some() && client_auth == ClientAuth::None {
        return Err(field_error(
            path,
            tls_field("client_allowed_sans"),
            "needs client certificates verified (client_auth_type and a client CA)",
        ));
    }

    let provider = Arc::new(CryptoProvider {
        cipher_suites: cipher_suites(path, t.cipher_suites.as_deref())?,
        kx_groups: curves(path, t.curve_preferences.as_deref())?,
        ..rustls::crypto::ring::default_provider()
    });
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| field_error(path, tls_field("cipher_suites"), e))?;
    let builder = if client_auth == ClientAuth::None {
        builder.with_no_client_auth()
    } else {
        let allow_unauthenticated = admit_anonymous || client_auth == ClientAuth::VerifyIfGiven;
        let verifier = client_cert_verifier(
            path,
            client_ca,
            provider,
            allow_unauthenticated,
            t.client_allowed_sans.clone(),
        )?;
        builder.with_client_cert_verifier(verifier)
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| {
        field_error(
            path,
            tls_field("key_file"),
            format!("does not match the certificate: {e}"),
        )
    })?;
    // The exporter-toolkit's default.
    config.ignore_client_order = t.prefer_server_cipher_suites.unwrap_or(true);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((config, client_auth))
}

/// PEM text given inline in the file or in a file it names.
#[derive(Debug, Clone)]
pub(super) enum PemSource {
    /// The value of `cert`, `key` or `client_ca`.
    Inline(String),
    /// The file named by `cert_file`, `key_file` or `client_ca_file`,
    /// resolved.
    File(PathBuf),
}

impl PemSource {
    /// The dotted field name of this source of `key` (`cert`, `key`,
    /// `client_ca`), for errors.
    pub(super) fn field(&self, key: &str) -> String {
        match self {
            PemSource::Inline(_) => tls_field(key),
            PemSource::File(_) => tls_field(&format!("{key}_file")),
        }
    }

    /// Where the PEM comes from, for errors: the file, or "inline".
    pub(super) fn origin(&self) -> String {
        match self {
            PemSource::Inline(_) => "inline".into(),
            PemSource::File(f) => f.display().to_string(),
        }
    }

    /// The PEM bytes. Errors name the origin, never the content.
    pub(super) fn read(&self, path: &Path, key: &str) -> Result<Vec<u8>, WebConfigError> {
        match self {
            PemSource::Inline(text) => Ok(text.as_bytes().to_vec()),
            PemSource::File(f) => std::fs::read(f)
                .map_err(|e| field_error(path, self.field(key), format!("{}: {e}", f.display()))),
        }
    }
}

/// The source of `key` (`cert`, `key`, `client_ca`): inline or its
/// `_file`, exclusive (the exporter-toolkit: "if passing the cert inline,
/// cert_file should not be specified"); `None` when neither is given. An
/// empty value counts as not given, as in the exporter-toolkit.
pub(super) fn pem_source(
    path: &Path,
    dir: &Path,
    key: &str,
    inline: Option<&String>,
    file: Option<&PathBuf>,
) -> Result<Option<PemSource>, WebConfigError> {
    let inline = inline.filter(|t| !t.is_empty());
    let file = file.filter(|f| !f.as_os_str().is_empty());
    match (inline, file) {
        (Some(_), Some(_)) => Err(field_error(
            path,
            tls_field(key),
            format!("and {key}_file are exclusive: give the PEM inline or a file, not both"),
        )),
        (Some(text), None) => Ok(Some(PemSource::Inline(text.clone()))),
        (None, Some(f)) => Ok(Some(PemSource::File(dir.join(f)))),
        (None, None) => Ok(None),
    }
}

/// A required PEM (`cert` or `key`, inline or from its file).
fn required_pem(
    path: &Path,
    dir: &Path,
    key: &str,
    inline: Option<&String>,
    file: Option<&PathBuf>,
) -> Result<PemSource, WebConfigError> {
    pem_source(path, dir, key, inline, file)?.ok_or_else(|| {
        field_error(
            path,
            tls_field(&format!("{key}_file")),
            format!("is required with TLS (or {key}, inline)"),
        )
    })
}

/// The server's certificate chain and private key, from `cert`/`cert_file`
/// and `key`/`key_file` (both required, checked before either is read).
fn server_identity(
    path: &Path,
    dir: &Path,
    t: &RawTls,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), WebConfigError> {
    let cert = required_pem(path, dir, "cert", t.cert.as_ref(), t.cert_file.as_ref())?;
    let key = required_pem(path, dir, "key", t.key.as_ref(), t.key_file.as_ref())?;
    let certs = certificate_chain(path, &cert)?;
    let key = private_key(path, &key)?;
    Ok((certs, key))
}

/// The certificates of `cert`; at least one.
fn certificate_chain(
    path: &Path,
    cert: &PemSource,
) -> Result<Vec<CertificateDer<'static>>, WebConfigError> {
    let pem = cert.read(path, "cert")?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| field_error(path, cert.field("cert"), format!("{}: {e}", cert.origin())))?;
    if certs.is_empty() {
        return Err(field_error(
            path,
            cert.field("cert"),
            format!("{}: no certificate in it", cert.origin()),
        ));
    }
    Ok(certs)
}

/// The private key of `key`. The error names the file (or "inline"),
/// never the content.
fn private_key(path: &Path, key: &PemSource) -> Result<PrivateKeyDer<'static>, WebConfigError> {
    let pem = key.read(path, "key")?;
    PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| field_error(path, key.field("key"), format!("{}: {e}", key.origin())))
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
