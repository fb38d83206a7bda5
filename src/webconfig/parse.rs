//! From the text of the file to [`WebSecurity`]: deserializing (serde
//! errors turned into field errors that never quote a password hash), then
//! one validation step per section: public paths, TLS (in [`super::tls`]),
//! basic-auth users, response headers, and the dummy hash.

use std::path::Path;
use std::sync::Arc;

use axum::http::{HeaderName, HeaderValue};

use super::rate_limit::rate_limit;
use super::raw::{RawHttp, RawWebConfig};
use super::tls::tls_config;
use super::{
    ClientAuth, DEFAULT_PUBLIC_PATHS, DUMMY_COST, WebConfigError, WebSecurity, field_error,
};

/// Salt and hash of a bcrypt hash that no password matches (a valid hash
/// of a random 32-byte string).
const DUMMY_SALT_AND_HASH: &str = "QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

/// Response headers the file may set (the exporter-toolkit's list).
pub(super) const ALLOWED_HEADERS: [&str; 5] = [
    "Strict-Transport-Security",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "X-XSS-Protection",
    "Content-Security-Policy",
];

/// Validates the text of the file at `path` (relative file names in it are
/// resolved against the file's directory, as the exporter-toolkit does).
pub(super) fn parse(path: &Path, text: &str) -> Result<WebSecurity, WebConfigError> {
    let raw = deserialize(path, text)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let public_paths = public_paths(path, raw.public_paths)?;
    let (tls, client_auth) = match raw.tls_server_config {
        Some(t) => {
            let (config, auth) = tls_config(path, dir, t, !public_paths.is_empty())?;
            (Some(Arc::new(config)), auth)
        }
        None => (None, ClientAuth::None),
    };
    for (user, hash) in &raw.basic_auth_users {
        check_user(path, user, hash)?;
    }
    let headers = match raw.http_server_config {
        Some(http) => response_headers(path, http)?,
        None => Vec::new(),
    };
    let dummy_hash = dummy_hash();
    let rate_limit = rate_limit(path, raw.rate_limit)?;
    Ok(WebSecurity {
        tls,
        client_auth,
        users: raw.basic_auth_users,
        headers,
        public_paths,
        dummy_hash,
        rate_limit,
    })
}

/// The file's text as [`RawWebConfig`]; an empty (or blank) file is the
/// default: no TLS, no users, the default public paths.
fn deserialize(path: &Path, text: &str) -> Result<RawWebConfig, WebConfigError> {
    if text.trim().is_empty() {
        return Ok(RawWebConfig::default());
    }
    let de = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        if field.starts_with("basic_auth_users") {
            // serde's message can quote the value: a password hash.
            return field_error(path, field, "expected a map of user name: bcrypt hash");
        }
        field_error(path, reported_field(field), e.inner())
    })
}

/// The field name an error reports for serde's dotted path: `.` (the
/// document itself) is `(top level)`.
pub(super) fn reported_field(serde_path: String) -> String {
    if serde_path == "." {
        "(top level)".into()
    } else {
        serde_path
    }
}

/// `public_paths` as given (each must start with `/`), or the defaults.
pub(super) fn public_paths(
    path: &Path,
    paths: Option<Vec<String>>,
) -> Result<Vec<String>, WebConfigError> {
    let Some(paths) = paths else {
        return Ok(DEFAULT_PUBLIC_PATHS.iter().map(|s| s.to_string()).collect());
    };
    if let Some(p) = paths.iter().find(|p| !p.starts_with('/')) {
        return Err(field_error(
            path,
            "public_paths",
            format!("{p:?} must start with /"),
        ));
    }
    Ok(paths)
}

/// Whether `bcrypt_hash` is a bcrypt hash of a cost bcrypt accepts (4 to 31).
pub(super) fn is_usable_bcrypt_hash(bcrypt_hash: &str) -> bool {
    bcrypt_hash
        .parse::<bcrypt::HashParts>()
        .is_ok_and(|h| (4..=31).contains(&h.get_cost()))
}

/// One `basic_auth_users` entry: a user name usable in basic auth and a
/// usable bcrypt hash. Errors name the user, never the hash.
pub(super) fn check_user(path: &Path, user: &str, hash: &str) -> Result<(), WebConfigError> {
    if user.is_empty() || user.contains(':') {
        return Err(field_error(
            path,
            "basic_auth_users",
            format!("user name {user:?} must be non-empty and without ':'"),
        ));
    }
    if !is_usable_bcrypt_hash(hash) {
        // The hash is a secret of sorts: name the user, not the value.
        return Err(field_error(
            path,
            format!("basic_auth_users.{user}"),
            "is not a bcrypt hash of cost 4 to 31 (generate one with `htpasswd -nbBC 10 \"\" PASSWORD | tr -d ':\\n'`)",
        ));
    }
    Ok(())
}

/// `http_server_config.headers` as response headers: each name one of
/// [`ALLOWED_HEADERS`] (in any case), each value a valid header value and,
/// for the headers the exporter-toolkit restricts, one of
/// [`allowed_values`] (in any case).
pub(super) fn response_headers(
    path: &Path,
    http: RawHttp,
) -> Result<Vec<(HeaderName, HeaderValue)>, WebConfigError> {
    let mut headers = Vec::new();
    for (name, value) in http.headers {
        let field = format!("http_server_config.headers.{name}");
        let Some(allowed) = ALLOWED_HEADERS
            .iter()
            .find(|a| a.eq_ignore_ascii_case(&name))
        else {
            return Err(field_error(
                path,
                field,
                format!("is not one of {}", ALLOWED_HEADERS.join(", ")),
            ));
        };
        let values = allowed_values(allowed);
        if !values.is_empty() && !values.iter().any(|v| v.eq_ignore_ascii_case(&value)) {
            return Err(field_error(
                path,
                field,
                format!("{value:?} is not one of {}", values.join(", ")),
            ));
        }
        let value = HeaderValue::from_str(&value)
            .map_err(|_| field_error(path, field, "is not a valid header value"))?;
        headers.push((HeaderName::from_static(static_header_name(allowed)), value));
    }
    Ok(headers)
}

/// The values an allowed header may take, in any case, when the
/// exporter-toolkit restricts them (it does for the two whose values are an
/// enumeration); empty when any valid header value goes.
pub(super) fn allowed_values(allowed: &str) -> &'static [&'static str] {
    match allowed {
        "X-Content-Type-Options" => &["nosniff"],
        "X-Frame-Options" => &["deny", "sameorigin"],
        _ => &[],
    }
}

/// The lower-case static name of an allowed header (one of
/// [`ALLOWED_HEADERS`], as spelled there).
pub(super) fn static_header_name(allowed: &str) -> &'static str {
    match allowed {
        "Strict-Transport-Security" => "strict-transport-security",
        "X-Content-Type-Options" => "x-content-type-options",
        "X-Frame-Options" => "x-frame-options",
        "X-XSS-Protection" => "x-xss-protection",
        _ => "content-security-policy",
    }
}

/// A hash no password matches, of the fixed cost [`DUMMY_COST`] whatever
/// the users' costs: checked for unknown users.
pub(super) fn dummy_hash() -> String {
    format!("$2y${DUMMY_COST:02}${DUMMY_SALT_AND_HASH}")
}
