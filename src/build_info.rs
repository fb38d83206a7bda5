//! What the build knows about itself (set by `build.rs`): version, git
//! revision and branch, build user and date, toolchain and platform; and
//! `--version` in the Prometheus common format.

/// "unknown" when `build.rs` could not find a fact.
const UNKNOWN: &str = "unknown";

/// The facts of this build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    /// The crate's version.
    pub version: &'static str,
    /// The git revision, 12 hex digits.
    pub revision: &'static str,
    /// The git branch.
    pub branch: &'static str,
    /// `user@host` that built it.
    pub build_user: &'static str,
    /// `YYYYMMDD-hh:mm:ss`, UTC.
    pub build_date: &'static str,
    /// `rustc --version` of the toolchain.
    pub rust_version: &'static str,
    /// `os/arch` of the target.
    pub platform: &'static str,
}

/// This build's facts.
pub const BUILD: BuildInfo = BuildInfo {
    version: env!("CARGO_PKG_VERSION"),
    revision: or_unknown(option_env!("EVOLUX_GIT_REVISION")),
    branch: or_unknown(option_env!("EVOLUX_GIT_BRANCH")),
    build_user: or_unknown(option_env!("EVOLUX_BUILD_USER")),
    build_date: or_unknown(option_env!("EVOLUX_BUILD_DATE")),
    rust_version: or_unknown(option_env!("EVOLUX_BUILD_RUSTC")),
    platform: or_unknown(option_env!("EVOLUX_BUILD_PLATFORM")),
};

const fn or_unknown(v: Option<&'static str>) -> &'static str {
    match v {
        Some(v) => v,
        None => UNKNOWN,
    }
}

impl BuildInfo {
    /// What `--version` prints, as Prometheus' own components print it.
    pub fn version_text(&self, program: &str) -> String {
        format!(
            "{program}, version {} (branch: {}, revision: {})\n  build user:       {}\n  build date:       {}\n  rust version:     {}\n  platform:         {}\n",
            self.version,
            self.branch,
            self.revision,
            self.build_user,
            self.build_date,
            self.rust_version,
            self.platform
        )
    }

    /// The labels of `evolux_exporter_build_info`, in order.
    pub fn labels(&self) -> [(&'static str, &'static str); 5] {
        [
            ("version", self.version),
            ("revision", self.revision),
            ("branch", self.branch),
            ("rustversion", self.rust_version),
            ("platform", self.platform),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_text_is_in_the_prometheus_common_format() {
        let b = BuildInfo {
            version: "1.2.3",
            revision: "0123456789ab",
            branch: "main",
            build_user: "ci@runner",
            build_date: "20261202-14:50:00",
            rust_version: "rustc 1.91.0 (f8297e351 2025-10-28)",
            platform: "linux/x86_64",
        };
        assert_eq!(
            b.version_text("evolux-exporter"),
            "evolux-exporter, version 1.2.3 (branch: main, revision: 0123456789ab)\n  build user:       ci@runner\n  build date:       20261202-14:50:00\n  rust version:     rustc 1.91.0 (f8297e351 2025-10-28)\n  platform:         linux/x86_64\n"
        );
    }

    #[test]
    fn this_build_knows_its_toolchain_platform_and_date() {
        assert!(BUILD.rust_version.starts_with("rustc "), "{BUILD:?}");
        assert_eq!(
            BUILD.platform,
            format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH)
        );
        let d = BUILD.build_date;
        assert_eq!(d.len(), "20261202-14:50:00".len(), "{d}");
        assert!(d.starts_with("20"), "{d}");
    }
}
