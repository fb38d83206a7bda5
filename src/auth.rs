//! Access control for the exporter's endpoints, as the web config file
//! asks: client certificates and basic auth, checked on every request but
//! those to public paths.
//!
//! bcrypt is slow on purpose (tens of milliseconds per check at cost 10),
//! so checks run off the async workers, at most [`MAX_CONCURRENT_CHECKS`]
//! at once, and a successful check is remembered (by a SHA-256 of the
//! password, never the password) so that Prometheus, which sends the same
//! credentials on every scrape, pays it once. An unknown user costs the same
//! as a wrong password, so user names cannot be probed by timing.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use tokio::sync::Semaphore;

use crate::webconfig::{ClientAuth, WebConfigSource, WebSecurity};

/// bcrypt checks running at once, at most.
pub const MAX_CONCURRENT_CHECKS: usize = 2;

/// Successful checks remembered, at most (the cache is cleared when full).
const MAX_REMEMBERED: usize = 256;

/// A hash that no password matches, checked for unknown users.
const DUMMY_HASH: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

/// Set by the server on every request of a TLS connection whose client
/// presented a certificate that verified against the client CA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedClientCert(pub bool);

/// Shared by every request.
#[derive(Debug)]
pub struct Guard {
    source: Arc<WebConfigSource>,
    checks: Semaphore,
    /// (user, hash, SHA-256 of the password) of checks that succeeded.
    remembered: Mutex<HashSet<(String, String, [u8; 32])>>,
}

impl Guard {
    /// Guards requests with the settings of `source`.
    pub fn new(source: Arc<WebConfigSource>) -> Guard {
        Guard {
            source,
            checks: Semaphore::new(MAX_CONCURRENT_CHECKS),
            remembered: Mutex::new(HashSet::new()),
        }
    }

    /// The settings in force now.
    pub fn security(&self) -> Arc<WebSecurity> {
        self.source.current()
    }

    async fn password_ok(&self, security: &WebSecurity, user: &str, password: &str) -> bool {
        let known = security.users.get(user);
        let hash = known.map_or(DUMMY_HASH, String::as_str).to_owned();
        let digest: [u8; 32] = ring::digest::digest(&ring::digest::SHA256, password.as_bytes())
            .as_ref()
            .try_into()
            .unwrap_or([0; 32]);
        let key = (user.to_owned(), hash.clone(), digest);
        if known.is_some()
            && self
                .remembered
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&key)
        {
            return true;
        }
        let Ok(_permit) = self.checks.acquire().await else {
            return false;
        };
        let password = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(false);
        let ok = ok && known.is_some();
        if ok {
            let mut remembered = self.remembered.lock().unwrap_or_else(|e| e.into_inner());
            if remembered.len() >= MAX_REMEMBERED {
                remembered.clear();
            }
            remembered.insert(key);
        }
        ok
    }
}

/// User and password of a `Basic` authorization header.
pub fn basic_credentials(value: &HeaderValue) -> Option<(String, String)> {
    let value = value.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn unauthorized(reason: &'static str, basic: bool) -> Response {
    let mut resp = (StatusCode::UNAUTHORIZED, reason).into_response();
    if basic {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"evolux-exporter\", charset=\"UTF-8\""),
        );
    }
    resp
}

/// Middleware: refuses requests without the credentials the settings ask
/// for, and adds the configured response headers to every answer.
pub async fn guard_request(State(guard): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    let security = guard.security();
    let asked = Asked {
        public: security.is_public(req.uri().path()),
        verified_cert: req.extensions().get::<VerifiedClientCert>()
            == Some(&VerifiedClientCert(true)),
        credentials: req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(basic_credentials),
    };
    let mut resp = match check(&guard, &security, asked).await {
        Ok(()) => next.run(req).await,
        Err(resp) => resp,
    };
    let headers = resp.headers_mut();
    for (name, value) in &security.headers {
        headers.insert(name.clone(), value.clone());
    }
    resp
}

/// What a request brings to the check.
struct Asked {
    public: bool,
    verified_cert: bool,
    credentials: Option<(String, String)>,
}

async fn check(guard: &Guard, security: &WebSecurity, asked: Asked) -> Result<(), Response> {
    if asked.public {
        return Ok(());
    }
    if security.client_auth == ClientAuth::RequireAndVerify && !asked.verified_cert {
        return Err(unauthorized(
            "a verified client certificate is required\n",
            false,
        ));
    }
    if security.users.is_empty() {
        return Ok(());
    }
    let Some((user, password)) = asked.credentials else {
        return Err(unauthorized("authentication required\n", true));
    };
    if guard.password_ok(security, &user, &password).await {
        Ok(())
    } else {
        // The password may have been typed into the user field: not logged.
        tracing::debug!("basic auth failed");
        Err(unauthorized("wrong user name or password\n", true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_decoded() {
        let v = HeaderValue::from_static("Basic YWxpY2U6czNjcjN0OndpdGg6Y29sb25z");
        assert_eq!(
            basic_credentials(&v),
            Some(("alice".into(), "s3cr3t:with:colons".into()))
        );
        assert_eq!(
            basic_credentials(&HeaderValue::from_static("Bearer abc")),
            None
        );
        assert_eq!(
            basic_credentials(&HeaderValue::from_static("Basic !!!")),
            None
        );
    }

    #[test]
    fn the_dummy_hash_is_a_bcrypt_hash() {
        assert!(DUMMY_HASH.parse::<bcrypt::HashParts>().is_ok());
    }
}
