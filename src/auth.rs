//! Access control for the exporter's endpoints, as the web config file
//! asks: client certificates and basic auth, checked on every request but
//! those to public paths.
//!
//! bcrypt is slow on purpose (tens of milliseconds per check at cost 10,
//! seconds at 18): the checks and what bounds them are in [`checks`]. No
//! login waits on a queue with a timeout: a wrong login gets 401 whatever
//! else is going on, never 503. An unknown user is checked against a dummy
//! hash of the fixed cost [`crate::webconfig::DUMMY_COST`], not of the
//! highest cost in the file: a flood of made-up user names then costs the
//! exporter little, at the price of a timing difference (an unknown user
//! is answered in a cost-10 check, a known one in a check of its own
//! cost) that tells a patient prober which names exist, not their
//! passwords.

mod checks;
mod rate;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;

use crate::webconfig::{ClientAuth, WebConfigSource, WebSecurity};
pub use checks::{CHECKS_PER_CLIENT, concurrent_checks};
use checks::{Checker, Verdict};

/// Set by the server on every request of a TLS connection whose client
/// presented a certificate that verified against the client CA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedClientCert(pub bool);

/// Set by the server on every request: the address of the peer, which
/// bounds the bcrypt checks one client can have in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// Shared by every request.
pub struct Guard {
    source: Arc<WebConfigSource>,
    checker: Checker,
    limiter: rate::Limiter,
}

impl std::fmt::Debug for Guard {
    // The remembered attempts stay out of debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard").finish_non_exhaustive()
    }
}

impl Guard {
    /// Guards requests with the settings of `source`.
    pub fn new(source: Arc<WebConfigSource>) -> Guard {
        Guard {
            source,
            checker: Checker::new(),
            limiter: rate::Limiter::default(),
        }
    }

    /// The settings in force now.
    pub fn security(&self) -> Arc<WebSecurity> {
        self.source.current()
    }

    async fn password_ok(
        &self,
        security: &WebSecurity,
        client: IpAddr,
        user: &str,
        password: &str,
    ) -> Verdict {
        let known = security.users.get(user);
        let hash = known.map_or(security.dummy_hash.as_str(), String::as_str);
        self.checker
            .check(client, user, hash, known.is_some(), password)
            .await
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

/// Middleware: answers 429 past `rate_limit` (every path counts, as in the
/// exporter-toolkit), refuses requests without the credentials the
/// settings ask for, and adds the configured response headers to every
/// answer.
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
        client: req
            .extensions()
            .get::<ClientAddr>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.to_canonical()),
    };
    let mut resp = if !guard.limiter.allow(security.rate_limit) {
        too_many_requests(security.rate_limit)
    } else {
        match check(&guard, &security, asked).await {
            Ok(()) => next.run(req).await,
            Err(resp) => resp,
        }
    };
    let headers = resp.headers_mut();
    for (name, value) in &security.headers {
        headers.insert(name.clone(), value.clone());
    }
    resp
}

/// The answer past `rate_limit`'s burst: 429, and when to come back.
fn too_many_requests(limit: Option<crate::webconfig::RateLimit>) -> Response {
    let mut resp = (StatusCode::TOO_MANY_REQUESTS, "too many requests\n").into_response();
    if let Some(limit) = limit {
        resp.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(rate::retry_after(limit)),
        );
    }
    resp
}

/// What a request brings to the check.
struct Asked {
    public: bool,
    verified_cert: bool,
    credentials: Option<(String, String)>,
    client: IpAddr,
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
    match guard
        .password_ok(security, asked.client, &user, &password)
        .await
    {
        Verdict::Accepted => Ok(()),
        Verdict::Refused => {
            // The password may have been typed into the user field: not logged.
            tracing::debug!("basic auth failed");
            Err(unauthorized("wrong user name or password\n", true))
        }
        Verdict::ClientBusy => {
            tracing::debug!(client = %asked.client, "basic auth refused unchecked: a check from this client is in progress");
            Err(unauthorized(
                "a login from this address is being checked; try again when it is answered\n",
                true,
            ))
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
