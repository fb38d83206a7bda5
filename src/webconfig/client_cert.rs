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
//!
//! With `client_allowed_sans`, a verified certificate must also carry one
//! of the listed subject alternative names, compared exactly as the
//! exporter-toolkit does, else the handshake fails: DNS names, URIs and IP
//! addresses (e-mail addresses are not read: webpki does not expose them,
//! so a list naming only e-mail addresses admits nobody).

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, RootCertStore,
    SignatureScheme,
};

use super::tls::{PemSource, tls_field};
use super::{WebConfigError, field_error};

/// The verifier of client certificates against `client_ca` (`None` when
/// the file gives none, an error since the policy verifies), and, when
/// given, `allowed_sans`.
///
/// `allow_unauthenticated`: with public paths (or VerifyClientCertIfGiven),
/// the handshake admits clients without a certificate and the HTTP layer
/// refuses them on every other path, so probes keep working. Without
/// public paths, RequireAndVerifyClientCert is enforced in the handshake.
/// A presented certificate must verify here either way.
pub(super) fn client_cert_verifier(
    path: &Path,
    client_ca: Option<PemSource>,
    provider: Arc<CryptoProvider>,
    allow_unauthenticated: bool,
    allowed_sans: Option<Vec<String>>,
) -> Result<Arc<dyn ClientCertVerifier>, WebConfigError> {
    let client_ca = client_ca.ok_or_else(|| {
        field_error(
            path,
            tls_field("client_ca_file"),
            "is required to verify client certificates",
        )
    })?;
    let cas = client_cas(path, &client_ca)?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(cas.iter().cloned());
    if added == 0 {
        return Err(field_error(
            path,
            client_ca.field("client_ca"),
            format!("{}: no usable CA certificate in it", client_ca.origin()),
        ));
    }
    let mut verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    if allow_unauthenticated {
        verifier = verifier.allow_unauthenticated();
    }
    let inner = verifier
        .build()
        .map_err(|e| field_error(path, client_ca.field("client_ca"), e))?;
    Ok(Arc::new(ClientVerifier {
        inner,
        cas,
        allowed_sans,
    }))
}

/// The certificates of `client_ca`.
fn client_cas(
    path: &Path,
    client_ca: &PemSource,
) -> Result<Vec<CertificateDer<'static>>, WebConfigError> {
    let pem = client_ca.read(path, "client_ca")?;
    CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            field_error(
                path,
                client_ca.field("client_ca"),
                format!("{}: {e}", client_ca.origin()),
            )
        })
}

/// Whether `end_entity` carries one of `allowed` as a DNS name, URI or IP
/// address.
pub(super) fn has_allowed_san(end_entity: &CertificateDer<'_>, allowed: &[String]) -> bool {
    let Ok(cert) = webpki::EndEntityCert::try_from(end_entity) else {
        return false;
    };
    if cert
        .valid_dns_names()
        .chain(cert.valid_uri_names())
        .any(|name| allowed.iter().any(|a| a == name))
    {
        return true;
    }
    allowed
        .iter()
        .filter_map(|a| a.parse::<IpAddr>().ok())
        .any(|ip| {
            cert.verify_is_valid_for_subject_name(&ServerName::IpAddress(ip.into()))
                .is_ok()
        })
}

/// webpki's verifier, also accepting a configured CA certificate presented
/// as the client's own, then checking the allowed SANs.
#[derive(Debug)]
struct ClientVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    /// The configured CA certificates, as read.
    cas: Vec<CertificateDer<'static>>,
    /// `client_allowed_sans`, when given.
    allowed_sans: Option<Vec<String>>,
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
        let verified = match self
            .inner
            .verify_client_cert(end_entity, intermediates, now)
        {
            Err(e)
                if is_ca_used_as_end_entity(&e)
                    && self.cas.iter().any(|ca| ca.as_ref() == end_entity.as_ref()) =>
            {
                ClientCertVerified::assertion()
            }
            other => other?,
        };
        match &self.allowed_sans {
            Some(allowed) if !has_allowed_san(end_entity, allowed) => Err(
                rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure),
            ),
            _ => Ok(verified),
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
