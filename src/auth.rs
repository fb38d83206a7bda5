//! Access control for the exporter's endpoints, as the web config file
//! asks: client certificates and basic auth, checked on every request but
//! those to public paths.
//!
//! bcrypt is slow on purpose (tens of milliseconds per check at cost 10),
//! so checks run off the async workers, at most [`MAX_CONCURRENT_CHECKS`]
//! at once (the permit goes with the check, so a client that hangs up does
//! not free it early), and a successful check is remembered (by an HMAC of
//! the password under a key drawn at start-up, never the password) so that
//! Prometheus, which sends the same credentials on every scrape, pays it
//! once. An unknown user is checked against a dummy hash of the highest
//! cost in use, so user names cannot be probed by timing.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use tokio::sync::Semaphore;

use crate::webconfig::{ClientAuth, WebConfigSource, WebSecurity};

/// bcrypt checks running at once, at most (one, as the exporter-toolkit):
/// each takes a core for tens of milliseconds.
pub const MAX_CONCURRENT_CHECKS: usize = 1;

/// How long a request waits for its turn to be checked before it gets 503.
const CHECK_QUEUE_TIMEOUT: Duration = Duration::from_secs(5);

/// Successful checks remembered, at most (the cache is cleared when full).
const MAX_REMEMBERED: usize = 256;

/// Set by the server on every request of a TLS connection whose client
/// presented a certificate that verified against the client CA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedClientCert(pub bool);

/// Shared by every request.
pub struct Guard {
    source: Arc<WebConfigSource>,
    checks: Arc<Semaphore>,
    /// Key of the HMAC under which successful passwords are remembered.
    key: ring::hmac::Key,
    /// (user, hash, HMAC of the password) of checks that succeeded.
    remembered: Mutex<HashSet<(String, String, Vec<u8>)>>,
}

impl std::fmt::Debug for Guard {
    // The cache stays out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard").finish_non_exhaustive()
    }
}

/// Why a password was not accepted.
enum Refusal {
    /// Wrong user or password.
    Wrong,
    /// Too many checks queued.
    Busy,
}

impl Guard {
    /// Guards requests with the settings of `source`.
    pub fn new(source: Arc<WebConfigSource>) -> Guard {
        let rng = ring::rand::SystemRandom::new();
        // Without a random key (no OS randomness), remember nothing useful
        // to anyone: a fixed key only makes the cache keys guessable, and
        // they never leave the process.
        let key = ring::hmac::Key::generate(ring::hmac::HMAC_SHA256, &rng)
            .unwrap_or_else(|_| ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"evolux-exporter"));
        Guard {
            source,
            checks: Arc::new(Semaphore::new(MAX_CONCURRENT_CHECKS)),
            key,
            remembered: Mutex::new(HashSet::new()),
        }
    }

    /// The settings in force now.
    pub fn security(&self) -> Arc<WebSecurity> {
        self.source.current()
    }

    async fn password_ok(
        &self,
        security: &WebSecurity,
        user: &str,
        password: &str,
    ) -> Result<(), Refusal> {
        let known = security.users.get(user);
        let hash = known
            .map_or(security.dummy_hash.as_str(), String::as_str)
            .to_owned();
        let tag = ring::hmac::sign(&self.key, password.as_bytes())
            .as_ref()
            .to_vec();
        let key = (user.to_owned(), hash.clone(), tag);
        if known.is_some()
            && self
                .remembered
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains(&key)
        {
            return Ok(());
        }
        let permit = tokio::time::timeout(CHECK_QUEUE_TIMEOUT, self.checks.clone().acquire_owned())
            .await
            .map_err(|_| Refusal::Busy)?
            .map_err(|_| Refusal::Busy)?;
        let password = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            bcrypt::verify(password, &hash)
        })
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or(false);
        if !(ok && known.is_some()) {
            return Err(Refusal::Wrong);
        }
        let mut remembered = self.remembered.lock().unwrap_or_else(|e| e.into_inner());
        if remembered.len() >= MAX_REMEMBERED {
            remembered.clear();
        }
        remembered.insert(key);
        Ok(())
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
    match guard.password_ok(security, &user, &password).await {
        Ok(()) => Ok(()),
        Err(Refusal::Wrong) => {
            // The password may have been typed into the user field: not logged.
            tracing::debug!("basic auth failed");
            Err(unauthorized("wrong user name or password\n", true))
        }
        Err(Refusal::Busy) => {
            tracing::warn!("basic auth checks are queued for too long; answering 503");
            Err((
                StatusCode::SERVICE_UNAVAILABLE,
                "too many authentication attempts\n",
            )
                .into_response())
        }
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
}
