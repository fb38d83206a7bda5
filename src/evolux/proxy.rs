//! Which HTTP proxy the API client goes through, resolved by us, once, at
//! start-up: `--evolux.proxy-url` (or `EVOLUX_PROXY_URL`, or
//! `evolux.proxy_url` in the file), else the environment as curl and Go
//! programs read it (`https_proxy`/`HTTPS_PROXY` for an `https://` API,
//! `http_proxy`/`HTTP_PROXY` for an `http://` one; the lower-case form wins
//! when both are set, and an empty value counts as unset), then
//! `no_proxy`/`NO_PROXY` (see [`no_proxy_match`]), which applies to the
//! explicit setting too.
//!
//! The client is then built with reqwest's own proxy lookup turned off and
//! exactly the proxy chosen here ([`ProxyChoice::reqwest_proxy`]), so what
//! `--config.check` and the status page show is what is used.
//!
//! The token never reaches a proxy in clear: through a proxy an `https://`
//! API is tunnelled with CONNECT (the proxy sees `host:port` and TLS bytes),
//! and an `http://` API URL with a proxy is refused. Credentials in the
//! proxy URL go to the proxy only (`Proxy-Authorization`), and are never
//! shown: [`ProxyUrl`]'s `Display` and `Debug` leave them out.

use std::fmt;
use std::net::IpAddr;

use url::Url;

/// The proxy variables of an environment: the process's
/// ([`ProxyEnv::from_process`]) or any given set (tests). `Debug` shows the
/// names only: a value may hold credentials.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProxyEnv {
    vars: Vec<(&'static str, String)>,
}

impl fmt::Debug for ProxyEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.vars.iter().map(|(name, _)| name))
            .finish()
    }
}

/// The variables read, lower case first: the lower-case form wins.
pub const PROXY_VARIABLES: [&str; 6] = [
    "https_proxy",
    "HTTPS_PROXY",
    "http_proxy",
    "HTTP_PROXY",
    "no_proxy",
    "NO_PROXY",
];

impl ProxyEnv {
    /// The process's proxy variables.
    pub fn from_process() -> ProxyEnv {
        ProxyEnv::from_pairs(
            PROXY_VARIABLES
                .iter()
                .filter_map(|name| Some((*name, std::env::var(name).ok()?))),
        )
    }

    /// The given variables; names other than [`PROXY_VARIABLES`] are left
    /// out.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>) -> ProxyEnv {
        let vars = pairs
            .into_iter()
            .filter_map(|(name, value)| {
                let known = PROXY_VARIABLES.iter().find(|v| **v == name)?;
                Some((*known, value))
            })
            .collect();
        ProxyEnv { vars }
    }

    /// The first of `names` set to a non-empty value, with that value.
    fn first(&self, names: [&'static str; 2]) -> Option<(&'static str, &str)> {
        names.into_iter().find_map(|name| {
            let (_, value) = self.vars.iter().find(|(n, _)| *n == name)?;
            let value = value.trim();
            (!value.is_empty()).then_some((name, value))
        })
    }
}

/// A proxy URL: `http://` or `https://`, host and port, maybe credentials.
/// Shown (`Display`, `Debug`) without the credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyUrl(Url);

impl ProxyUrl {
    /// Parses a proxy setting; no scheme means `http://`, as for curl and Go.
    fn parse(raw: &str) -> Result<ProxyUrl, ProxyProblem> {
        let raw = raw.trim();
        let with_scheme = if raw.contains("://") {
            raw.to_string()
        } else {
            format!("http://{raw}")
        };
        let url = Url::parse(&with_scheme).map_err(|e| ProxyProblem::BadUrl(e.to_string()))?;
        match url.scheme() {
            "http" | "https" => {}
            other => return Err(ProxyProblem::Scheme(other.to_string())),
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(ProxyProblem::BadUrl("no host".into()));
        }
        if !matches!(url.path(), "" | "/") || url.query().is_some() {
            return Err(ProxyProblem::BadUrl(
                "a proxy URL is scheme://[user:password@]host[:port], with no path".into(),
            ));
        }
        Ok(ProxyUrl(url))
    }

    /// The URL with its credentials, for the client only.
    pub fn with_credentials(&self) -> &Url {
        &self.0
    }

    /// Whether it holds a user name or a password.
    pub fn has_credentials(&self) -> bool {
        !self.0.username().is_empty() || self.0.password().is_some()
    }
}

impl fmt::Display for ProxyUrl {
    /// `scheme://host:port`: never the user name or password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = self.0.host_str().unwrap_or("?");
        match self.0.port_or_known_default() {
            Some(port) => write!(f, "{}://{host}:{port}", self.0.scheme()),
            None => write!(f, "{}://{host}", self.0.scheme()),
        }
    }
}

impl fmt::Debug for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProxyUrl({self})")
    }
}

/// The proxy the API client uses, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProxyChoice {
    /// No proxy setting applies: straight to the API.
    None,
    /// `--demo`: its upstream is in-process on loopback; proxies ignored.
    Demo,
    /// A proxy is set, but the no-proxy variable names the API's host.
    Bypassed {
        /// The API's host.
        host: String,
        /// `no_proxy` or `NO_PROXY`.
        variable: &'static str,
        /// Where the proxy that is not used was set.
        origin: &'static str,
    },
    /// Through this proxy (CONNECT tunnels).
    Via {
        /// The proxy.
        url: ProxyUrl,
        /// Where it was set: a flag, a file key or a variable.
        origin: &'static str,
    },
}

impl ProxyChoice {
    /// Whether a proxy setting is in play (used, or bypassed by the
    /// no-proxy variable): worth saying in the log and the diagnosis.
    pub fn is_set(&self) -> bool {
        matches!(self, ProxyChoice::Bypassed { .. } | ProxyChoice::Via { .. })
    }

    /// The proxy for reqwest, if any; the client is built with reqwest's own
    /// lookup off (`no_proxy()`) and only this. Credentials in the URL
    /// become the `Proxy-Authorization` of each CONNECT.
    pub fn reqwest_proxy(&self) -> Result<Option<reqwest::Proxy>, reqwest::Error> {
        match self {
            ProxyChoice::Via { url, .. } => {
                reqwest::Proxy::all(url.with_credentials().clone()).map(Some)
            }
            _ => Ok(None),
        }
    }
}

impl fmt::Display for ProxyChoice {
    /// As `--config.check` and the status page show it: no credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyChoice::None => write!(f, "none"),
            ProxyChoice::Demo => write!(f, "none (--demo ignores proxies)"),
            ProxyChoice::Bypassed {
                host,
                variable,
                origin,
            } => write!(f, "none ({variable} matches {host}; {origin} not used)"),
            ProxyChoice::Via { url, origin } => {
                let hidden = if url.has_credentials() {
                    ", credentials hidden"
                } else {
                    ""
                };
                write!(f, "{url} (from {origin}{hidden})")
            }
        }
    }
}

/// Why a proxy setting cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyProblem {
    /// Not a URL, or no host.
    #[error("not a proxy URL: {0}")]
    BadUrl(String),
    /// Not `http://` or `https://`.
    #[error(
        "proxy scheme {0}:// is not supported: give an HTTP proxy as http://host:port (or https://)"
    )]
    Scheme(String),
    /// An `http://` API URL through a proxy: the token would travel in clear.
    #[error(
        "the API URL {0} is http://, and through a proxy the token would reach the proxy in clear: use an https:// --evolux.url, or name its host in NO_PROXY"
    )]
    Cleartext(String),
    /// A user name or password in a command-line argument.
    #[error(
        "the proxy URL holds a user name or password, and a command-line argument shows in `ps` to every user of the host: give it in EVOLUX_PROXY_URL (from a Secret) or the config file instead"
    )]
    CredentialsOnCommandLine,
}

/// A proxy setting that cannot be used, and where it was set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {problem}")]
pub struct ProxyError {
    /// The flag, file key or variable that set it.
    pub origin: &'static str,
    /// What is wrong.
    pub problem: ProxyProblem,
}

/// The explicit proxy setting and where it came from (`--evolux.proxy-url`,
/// `EVOLUX_PROXY_URL` or `evolux.proxy_url`).
#[derive(Clone, Copy, Debug)]
pub struct Explicit<'a> {
    /// The flag, variable or file key.
    pub origin: &'static str,
    /// Its value.
    pub value: &'a str,
    /// Set on the command line, where `ps` shows it to every user of the
    /// host: credentials there are refused.
    pub on_command_line: bool,
}

/// Which proxy the client of `api` uses: `explicit` if given, else the
/// scheme's variable in `env`; none if `env`'s no-proxy variable matches
/// the API's host. Fails on a proxy URL that does not parse or is not
/// http(s), and on a proxy for an `http://` API.
pub fn resolve(
    api: &Url,
    explicit: Option<Explicit<'_>>,
    env: &ProxyEnv,
) -> Result<ProxyChoice, ProxyError> {
    let explicit = explicit.filter(|e| !e.value.trim().is_empty());
    let (origin, raw, on_command_line) = match explicit {
        Some(e) => (e.origin, e.value, e.on_command_line),
        None => {
            let names = if api.scheme() == "https" {
                ["https_proxy", "HTTPS_PROXY"]
            } else {
                ["http_proxy", "HTTP_PROXY"]
            };
            match env.first(names) {
                Some((name, value)) => (name, value, false),
                None => return Ok(ProxyChoice::None),
            }
        }
    };
    let fail = |problem| ProxyError { origin, problem };
    let url = ProxyUrl::parse(raw).map_err(fail)?;
    if on_command_line && url.has_credentials() {
        return Err(fail(ProxyProblem::CredentialsOnCommandLine));
    }
    let host = api.host_str().unwrap_or_default();
    if let Some((variable, list)) = env.first(["no_proxy", "NO_PROXY"])
        && no_proxy_match(list, api)
    {
        return Ok(ProxyChoice::Bypassed {
            host: host.to_string(),
            variable,
            origin,
        });
    }
    if api.scheme() != "https" {
        return Err(fail(ProxyProblem::Cleartext(api.to_string())));
    }
    Ok(ProxyChoice::Via { url, origin })
}

/// Whether the no-proxy list `list` names `api`'s host, as curl and Go
/// read it: comma- (or space-) separated entries, case-insensitive; `*`
/// alone matches every host; `example.com`, `.example.com` and
/// `*.example.com` match that domain and every name under it; an IP
/// address matches itself, a CIDR block (`10.0.0.0/8`) every address in it;
/// an entry may end in `:port` (`[v6]:port` for IPv6), and then matches only
/// that port (the URL's, or its scheme's default).
pub fn no_proxy_match(list: &str, api: &Url) -> bool {
    let Some(host) = api.host_str() else {
        return false;
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let port = api.port_or_known_default();
    let ip: Option<IpAddr> = host.parse().ok();
    list.split([',', ' ', '\t'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .any(|entry| {
            if entry == "*" {
                return true;
            }
            let (name, entry_port) = split_port(entry);
            if entry_port.is_some() && entry_port != port {
                return false;
            }
            entry_matches(&name.to_ascii_lowercase(), &host, ip)
        })
}

/// `entry` without its `:port`, and the port; an IPv6 address without
/// brackets has no port.
fn split_port(entry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((addr, tail)) => (addr, tail.strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (rest, None),
        };
    }
    match entry.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => match port.parse() {
            Ok(port) => (name, Some(port)),
            // Not a port: never matches.
            Err(_) => (entry, Some(0)),
        },
        _ => (entry, None),
    }
}

/// One entry (no port, lower case) against the host (lower case, and its
/// address if it is one).
fn entry_matches(entry: &str, host: &str, ip: Option<IpAddr>) -> bool {
    if let Some((net, bits)) = entry.split_once('/') {
        return match (ip, net.parse::<IpAddr>(), bits.parse::<u8>()) {
            (Some(ip), Ok(net), Ok(bits)) => in_block(ip, net, bits),
            _ => false,
        };
    }
    if let (Some(ip), Ok(addr)) = (ip, entry.parse::<IpAddr>()) {
        return ip == addr;
    }
    let domain = entry
        .trim_start_matches('*')
        .trim_start_matches('.')
        .trim_end_matches('.');
    if domain.is_empty() {
        return false;
    }
    host == domain
        || host
            .strip_suffix(domain)
            .is_some_and(|head| head.ends_with('.'))
}

/// Whether `ip` is in the block `net/bits`.
fn in_block(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests;
