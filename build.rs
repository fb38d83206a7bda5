//! Build facts for `evolux_exporter_build_info` and `--version`: the git
//! revision of the checkout, unless `EVOLUX_GIT_REVISION` gives one (the
//! Dockerfile passes it, having no `.git`).

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=EVOLUX_GIT_REVISION");
    if std::env::var_os("EVOLUX_GIT_REVISION").is_some() {
        return;
    }
    let git = Path::new(".git");
    if !git.exists() {
        return;
    }
    // Rebuild when HEAD moves: HEAD itself, and the branch it points to.
    println!("cargo:rerun-if-changed=.git/HEAD");
    if let Ok(head) = std::fs::read_to_string(git.join("HEAD"))
        && let Some(reference) = head.trim().strip_prefix("ref: ")
    {
        println!("cargo:rerun-if-changed=.git/{reference}");
        println!("cargo:rerun-if-changed=.git/packed-refs");
    }
    let revision = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit()));
    if let Some(revision) = revision {
        println!("cargo:rustc-env=EVOLUX_GIT_REVISION={revision}");
    }
}
