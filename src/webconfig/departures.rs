//! Where the exporter deliberately departs from the exporter-toolkit, and
//! why: one list, printed by `--config.check` and tabled in docs/security.md (a
//! test keeps the two equal).

/// Each deliberate departure: what the exporter does differently, and why.
pub const DEPARTURES: [(&str, &str); 10] = [
    (
        "`client_auth_type` `RequestClientCert` and `RequireAnyClientCert` are refused",
        "they accept client certificates nobody verified",
    ),
    (
        "`VerifyClientCertIfGiven` and `RequireAndVerifyClientCert` need `client_ca_file` (or `client_ca`)",
        "without one the toolkit verifies against the system roots, so any public CA's client certificate would do",
    ),
    (
        "`client_allowed_sans` needs client certificates verified; e-mail SANs are not read",
        "without verification the names mean nothing; webpki does not expose e-mail SANs",
    ),
    (
        "`min_version`/`max_version` `TLS10` and `TLS11` are refused",
        "obsolete (RFC 8996)",
    ),
    (
        "only AEAD suites with ECDHE and the curves X25519, P-256, P-384 are offered; another listed one is refused by name",
        "rustls offers nothing weaker, and a silently dropped entry would hide a mistake",
    ),
    (
        "HTTP/2 is not offered (`http2` is accepted and ignored)",
        "a scrape is one request; HTTP/1.1 keeps the server's limits simple",
    ),
    (
        "`/healthz`, `/readyz`, `/-/healthy` and `/-/ready` need no credentials unless `public_paths` says otherwise",
        "kubelet probes cannot log in; `public_paths: []` protects everything",
    ),
    (
        "a client address has one bcrypt check in progress; a second unremembered login meanwhile gets 401 at once, and checks run one per core, not one at a time",
        "so that no client can queue the others' logins out",
    ),
    (
        "`rate_limit` with an interval and `burst: 0` is refused",
        "it would refuse every request",
    ),
    (
        "header names and the `X-Frame-Options`/`X-Content-Type-Options` values match in any case; a reload that empties the file or switches TLS on or off is refused (the last good settings stay)",
        "browsers read them in any case; a file caught mid-write must not drop TLS or every user",
    ),
];

/// The departures as lines for `--config.check`, each indented by `indent`.
pub fn departure_lines(indent: &str) -> String {
    DEPARTURES
        .iter()
        .map(|(what, why)| format!("{indent}- {}: {why}\n", what.replace('`', "")))
        .collect()
}
