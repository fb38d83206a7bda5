//! `cipher_suites` and `curve_preferences`: the exporter-toolkit's (Go's)
//! names mapped to what rustls offers. Every listed entry must be one the
//! exporter can honour; one it cannot is refused by name, never dropped.
//!
//! As in Go, `cipher_suites` orders and restricts the TLS 1.2 suites only:
//! TLS 1.3 suites are accepted in the list but always all offered.

use std::path::Path;

use rustls::SupportedCipherSuite;
use rustls::crypto::SupportedKxGroup;
use rustls::crypto::ring::{cipher_suite as cs, kx_group};

use super::tls::tls_field;
use super::{WebConfigError, field_error};

/// Go's names of the suites the exporter offers, with the rustls suite.
pub(super) const CIPHER_SUITES: [(&str, SupportedCipherSuite); 9] = [
    ("TLS_AES_128_GCM_SHA256", cs::TLS13_AES_128_GCM_SHA256),
    ("TLS_AES_256_GCM_SHA384", cs::TLS13_AES_256_GCM_SHA384),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        cs::TLS13_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    ),
    (
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    ),
    (
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ),
];

/// Go's names of the curves the exporter offers, with the rustls group.
pub(super) const CURVES: [(&str, &dyn SupportedKxGroup); 3] = [
    ("X25519", kx_group::X25519),
    ("CurveP256", kx_group::SECP256R1),
    ("CurveP384", kx_group::SECP384R1),
];

/// The suites of `names` (empty or absent: every suite, in rustls's
/// order). Listed TLS 1.2 suites come in the listed order; TLS 1.3 suites
/// are all offered whatever the list says.
pub(super) fn cipher_suites(
    path: &Path,
    names: Option<&[String]>,
) -> Result<Vec<SupportedCipherSuite>, WebConfigError> {
    let all = rustls::crypto::ring::ALL_CIPHER_SUITES;
    let Some(names) = names.filter(|n| !n.is_empty()) else {
        return Ok(all.to_vec());
    };
    let mut suites: Vec<SupportedCipherSuite> = all
        .iter()
        .filter(|s| s.version() == &rustls::version::TLS13)
        .copied()
        .collect();
    for name in names {
        let Some((_, suite)) = CIPHER_SUITES.iter().find(|(n, _)| n == name) else {
            return Err(field_error(
                path,
                tls_field("cipher_suites"),
                format!(
                    "{name} is not offered by this exporter (it offers {})",
                    offered(CIPHER_SUITES.iter().map(|(n, _)| *n))
                ),
            ));
        };
        if !suites.contains(suite) {
            suites.push(*suite);
        }
    }
    Ok(suites)
}

/// The key-exchange groups of `names` in the listed order (empty or
/// absent: every group).
pub(super) fn curves(
    path: &Path,
    names: Option<&[String]>,
) -> Result<Vec<&'static dyn SupportedKxGroup>, WebConfigError> {
    let Some(names) = names.filter(|n| !n.is_empty()) else {
        return Ok(rustls::crypto::ring::ALL_KX_GROUPS.to_vec());
    };
    let mut groups: Vec<&'static dyn SupportedKxGroup> = Vec::new();
    for name in names {
        let Some((_, group)) = CURVES.iter().find(|(n, _)| n == name) else {
            return Err(field_error(
                path,
                tls_field("curve_preferences"),
                format!(
                    "{name} is not offered by this exporter (it offers {})",
                    offered(CURVES.iter().map(|(n, _)| *n))
                ),
            ));
        };
        if !groups.iter().any(|g| g.name() == group.name()) {
            groups.push(*group);
        }
    }
    Ok(groups)
}

fn offered<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: &str = "/w.yml";

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn listed_tls12_suites_come_in_order_after_every_tls13_suite() {
        let list = names(&[
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        ]);
        let suites = cipher_suites(Path::new(W), Some(&list)).expect("all offered");
        let tls12: Vec<_> = suites
            .iter()
            .filter(|s| s.version() == &rustls::version::TLS12)
            .map(|s| s.suite())
            .collect();
        assert_eq!(
            tls12,
            [
                cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256.suite(),
                cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256.suite()
            ]
        );
        let tls13 = suites
            .iter()
            .filter(|s| s.version() == &rustls::version::TLS13)
            .count();
        assert_eq!(tls13, 3, "TLS 1.3 suites are not configurable, as in Go");
        assert_eq!(
            cipher_suites(Path::new(W), Some(&[])).expect("empty").len(),
            rustls::crypto::ring::ALL_CIPHER_SUITES.len()
        );
    }

    #[test]
    fn a_suite_or_curve_not_offered_is_refused_by_name() {
        for name in [
            "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
            "TLS_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_INVENTED_SUITE",
        ] {
            let e = cipher_suites(Path::new(W), Some(&names(&[name])))
                .expect_err(name)
                .to_string();
            assert!(
                e.contains(&format!(
                    "tls_server_config.cipher_suites: {name} is not offered by this exporter (it offers TLS_AES_128_GCM_SHA256, "
                )),
                "{e}"
            );
        }
        let e = curves(Path::new(W), Some(&names(&["X25519", "CurveP521"])))
            .expect_err("P-521")
            .to_string();
        assert!(
            e.contains("curve_preferences: CurveP521 is not offered by this exporter (it offers X25519, CurveP256, CurveP384)"),
            "{e}"
        );
    }

    #[test]
    fn curves_come_in_the_listed_order() {
        let groups = curves(
            Path::new(W),
            Some(&names(&["CurveP384", "X25519", "CurveP384"])),
        )
        .expect("offered");
        let got: Vec<_> = groups.iter().map(|g| g.name()).collect();
        assert_eq!(got, [kx_group::SECP384R1.name(), kx_group::X25519.name()]);
        assert_eq!(curves(Path::new(W), None).expect("all").len(), 3);
    }
}
