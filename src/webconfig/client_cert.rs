//! Client-certificate verification for mTLS: the client CA bundle as a
//! root store, and the verifier built on it: rustls's webpki verifier, and
//! one case it refuses that the exporter-toolkit accepts.
//!
//! A self-signed certificate made as its own CA (`CA:TRUE`, what `openssl
//! req -x509` makes by default) listed itself in `client_ca_file` is
//! refused by webpki as a CA used as an end entity. Go verifies it (the
//! certificate is its own trust anchor), so [`ClientVerifier`] accepts it
//! when the presented certificate is byte for byte one of the configured
//! CA certificates; webpki has then already checked its validity period,
//! and rustls still checks that the client holds its key.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, RootCertStore,
    SignatureScheme,
};

use super::tls::tls_field;
use super::{WebConfigError, field_error};

/// The verifier of client certificates against `ca_file` (resolved; `None`
/// when the file names none, an error since the policy verifies).
///
/// `allow_unauthenticated`: with public paths (or VerifyClientCertIfGiven),
/// the handshake admits clients without a certificate and the HTTP layer
/// refuses them on every other path, so probes keep working. Without
/// public paths, RequireAndVerifyClientCert is enforced in the handshake.
/// A presented certificate must verify here either way.
pub(super) fn client_cert_verifier(
    path: &Path,
    ca_file: Option<PathBuf>,
    provider: Arc<CryptoProvider>,
    allow_unauthenticated: bool,
) -> Result<Arc<dyn ClientCertVerifier>, WebConfigError> {
    let ca_file = ca_file.ok_or_else(|| {
        field_error(
            path,
            tls_field("client_ca_file"),
            "is required to verify client certificates",
        )
    })?;
    let cas = client_cas(path, &ca_file)?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(cas.iter().cloned());
    if added == 0 {
        return Err(field_error(
            path,
            tls_field("client_ca_file"),
            format!("{}: no usable CA certificate in it", ca_file.display()),
        ));
    }
    let mut verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    if allow_unauthenticated {
        verifier = verifier.allow_unauthenticated();
    }
    let inner = verifier
        .build()
        .map_err(|e| field_error(path, tls_field("client_ca_file"), e))?;
    Ok(Arc::new(ClientVerifier { inner, cas }))
}

/// The certificates of the PEM file `ca_file`.
fn client_cas(path: &Path, ca_file: &Path) -> Result<Vec<CertificateDer<'static>>, WebConfigError> {
    CertificateDer::pem_file_iter(ca_file)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            field_error(
                path,
                tls_field("client_ca_file"),
                format!("{}: {e}", ca_file.display()),
            )
        })
}

/// webpki's verifier, also accepting a configured CA certificate presented
/// as the client's own.
#[derive(Debug)]
struct ClientVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    /// The configured CA certificates, as read.
    cas: Vec<CertificateDer<'static>>,
}

/// Whether webpki refused a certificate for being a CA.
fn is_ca_used_as_end_entity(error: &rustls::Error) -> bool {
    match error {
        rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(e))) => matches!(
            e.downcast_ref::<webpki::Error>(),
            Some(webpki::Error::CaUsedAsEndEntity)
        ),
        _ => false,
    }
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        match self
            .inner
            .verify_client_cert(end_entity, intermediates, now)
        {
            Err(e)
                if is_ca_used_as_end_entity(&e)
                    && self.cas.iter().any(|ca| ca.as_ref() == end_entity.as_ref()) =>
            {
                Ok(ClientCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
