//! The API token: where it comes from and how it is kept out of logs.
//!
//! The token is read from `EVOLUX_TOKEN` or from a file (a Kubernetes secret
//! mount). A file is read again at every poll, so a rotated secret is picked
//! up without a restart and without watching inotify events that secret
//! mounts (symlink swaps) make unreliable.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use reqwest::header::HeaderValue;

/// The token the built-in demo server (`--demo`) accepts: not a secret.
pub const DEMO_TOKEN: &str = "demo-token-not-a-secret";

/// A bearer token. Its `Debug` and `Display` print `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(Arc<str>);

impl Token {
    /// The `Authorization` header value, marked sensitive so that HTTP
    /// layers do not log it.
    pub fn header_value(&self) -> Result<HeaderValue, TokenError> {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", self.0))
            .map_err(|_| TokenError::Invalid)?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// The token's text, for comparisons (the demo server checks it).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Why no usable token could be had. Never holds the token itself.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token file cannot be read.
    #[error("cannot read token file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The token file is empty.
    #[error("token file {0} is empty")]
    Empty(PathBuf),
    /// The token holds characters that cannot go in an HTTP header.
    #[error("the token holds characters that are not allowed in an HTTP header")]
    Invalid,
}

/// Where the token comes from.
#[derive(Clone, Debug)]
pub enum TokenSource {
    /// Given once, from the environment.
    Literal(Token),
    /// Read from this file at every poll.
    File(PathBuf),
}

impl TokenSource {
    /// A token given as text.
    pub fn literal(token: String) -> TokenSource {
        TokenSource::Literal(Token(token.trim().into()))
    }

    /// A token file, checked now so that a bad path stops start-up.
    pub fn file(path: PathBuf) -> Result<TokenSource, String> {
        let source = TokenSource::File(path);
        source.current().map_err(|e| e.to_string())?;
        Ok(source)
    }

    /// The token to use now: for a file, its current content.
    pub fn current(&self) -> Result<Token, TokenError> {
        match self {
            TokenSource::Literal(t) => Ok(t.clone()),
            TokenSource::File(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| TokenError::Read {
                    path: path.clone(),
                    source,
                })?;
                let text = text.trim();
                if text.is_empty() {
                    return Err(TokenError::Empty(path.clone()));
                }
                let token = Token(text.into());
                token.header_value()?;
                Ok(token)
            }
        }
    }

    /// Where the token comes from, for the config summary.
    pub fn describe(&self) -> String {
        match self {
            TokenSource::Literal(_) => "from EVOLUX_TOKEN (hidden)".into(),
            TokenSource::File(p) => format!("from file {} (hidden)", p.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_never_prints() {
        let t = TokenSource::literal("s3cr3t-token".into());
        let TokenSource::Literal(tok) = &t else {
            panic!("literal expected")
        };
        assert!(!format!("{tok:?} {tok} {t:?}").contains("s3cr3t"));
        assert!(tok.header_value().unwrap().is_sensitive());
    }

    #[test]
    fn token_file_is_reread_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "first\n").unwrap();
        let src = TokenSource::file(path.clone()).unwrap();
        assert_eq!(src.current().unwrap().expose(), "first");
        std::fs::write(&path, "second").unwrap();
        assert_eq!(src.current().unwrap().expose(), "second");
        std::fs::write(&path, "  \n").unwrap();
        assert!(matches!(src.current(), Err(TokenError::Empty(_))));
    }

    #[test]
    fn missing_token_file_is_a_clear_error() {
        let err = TokenSource::file("/nonexistent/evolux-token".into()).unwrap_err();
        assert!(err.contains("/nonexistent/evolux-token"), "{err}");
    }
}
