//! Client-certificate verification for mTLS: the client CA bundle as a
//! root store, and the rustls verifier built on it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::server::danger::ClientCertVerifier;

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
    let roots = client_ca_roots(path, &ca_file)?;
    let mut verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
    if allow_unauthenticated {
        verifier = verifier.allow_unauthenticated();
    }
    verifier
        .build()
        .map_err(|e| field_error(path, tls_field("client_ca_file"), e))
}

/// The CA certificates of the PEM file `ca_file`, at least one usable.
fn client_ca_roots(path: &Path, ca_file: &Path) -> Result<RootCertStore, WebConfigError> {
    let cas = CertificateDer::pem_file_iter(ca_file)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            field_error(
                path,
                tls_field("client_ca_file"),
                format!("{}: {e}", ca_file.display()),
            )
        })?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(cas);
    if added == 0 {
        return Err(field_error(
            path,
            tls_field("client_ca_file"),
            format!("{}: no usable CA certificate in it", ca_file.display()),
        ));
    }
    Ok(roots)
}
