//! Build facts for `evolux_exporter_build_info` and `--version`, in the
//! Prometheus common format: the git revision and branch of the checkout
//! (unless `EVOLUX_GIT_REVISION` / `EVOLUX_GIT_BRANCH` give them: the
//! Dockerfile passes them, having no `.git`), the build user and date, the
//! Rust toolchain and the target platform.
//!
//! Each fact is set as a `EVOLUX_BUILD_*` / `EVOLUX_GIT_*` variable for the
//! crate; one that cannot be found is left unset, and the crate says
//! "unknown".

use std::path::Path;
use std::process::Command;

fn main() {
    for var in [
        "EVOLUX_GIT_REVISION",
        "EVOLUX_GIT_BRANCH",
        "EVOLUX_BUILD_USER",
        "SOURCE_DATE_EPOCH",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    git_facts();
    if let Some(user) = std::env::var("EVOLUX_BUILD_USER").ok().or_else(build_user) {
        println!("cargo:rustc-env=EVOLUX_BUILD_USER={user}");
    }
    if let Some(date) = build_date() {
        println!("cargo:rustc-env=EVOLUX_BUILD_DATE={date}");
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    if let Some(version) = first_line(&rustc, &["--version"]) {
        println!("cargo:rustc-env=EVOLUX_BUILD_RUSTC={version}");
    }
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    println!("cargo:rustc-env=EVOLUX_BUILD_PLATFORM={os}/{arch}");
}

/// The revision and branch, from the environment or from git.
fn git_facts() {
    let given_revision = std::env::var_os("EVOLUX_GIT_REVISION").is_some();
    let given_branch = std::env::var("EVOLUX_GIT_BRANCH").ok();
    if let Some(branch) = &given_branch {
        println!("cargo:rustc-env=EVOLUX_GIT_BRANCH={branch}");
    }
    let git = Path::new(".git");
    if (given_revision && given_branch.is_some()) || !git.exists() {
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
    if !given_revision
        && let Some(revision) = first_line("git", &["rev-parse", "--short=12", "HEAD"])
            .filter(|s| s.chars().all(|c| c.is_ascii_hexdigit()))
    {
        println!("cargo:rustc-env=EVOLUX_GIT_REVISION={revision}");
    }
    if given_branch.is_none()
        && let Some(branch) = first_line("git", &["rev-parse", "--abbrev-ref", "HEAD"])
    {
        println!("cargo:rustc-env=EVOLUX_GIT_BRANCH={branch}");
    }
}

/// `user@host`, as Prometheus' builds say who built them.
fn build_user() -> Option<String> {
    let user = std::env::var("USER")
        .ok()
        .or_else(|| first_line("id", &["-un"]))?;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| first_line("hostname", &[]));
    Some(match host {
        Some(host) => format!("{user}@{host}"),
        None => user,
    })
}

/// `YYYYMMDD-hh:mm:ss` in UTC: `SOURCE_DATE_EPOCH` for reproducible builds,
/// else now.
fn build_date() -> Option<String> {
    let epoch = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(s) => s.trim().parse::<i64>().ok()?,
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_secs() as i64,
    };
    let (days, secs) = (epoch.div_euclid(86_400), epoch.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    Some(format!(
        "{y:04}{m:02}{d:02}-{:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    ))
}

/// Days since 1970-01-01 to a (year, month, day) of the proleptic Gregorian
/// calendar (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The first line a command prints, if it runs and succeeds.
fn first_line(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let line = text.lines().next()?.trim().to_string();
    (!line.is_empty()).then_some(line)
}
