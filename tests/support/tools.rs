//! Finding the external tools some integration tests run (e.g. `promtool`).
//!
//! A test that needs a tool calls [`require_tool`]: it gets the tool's path, or `None`
//! after a notice on stderr, and returns early (the test is skipped). When the
//! environment variable `CI` is `true` a missing tool is a failure instead, so CI cannot
//! pass by skipping.

use std::env;
use std::path::{Path, PathBuf};

/// True when running in CI (`CI=true`, as GitHub Actions and most CI systems set it).
pub fn in_ci() -> bool {
    env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Name of the environment variable that overrides where `tool` is:
/// `promtool` -> `PROMTOOL`, `kube-linter` -> `KUBE_LINTER`.
pub fn override_var(tool: &str) -> String {
    tool.to_ascii_uppercase().replace('-', "_")
}

/// The path of `tool`: the file named by its override variable (see [`override_var`]),
/// else the first executable `tool` on `PATH`.
pub fn find_tool(tool: &str) -> Option<PathBuf> {
    if let Some(path) = env::var_os(override_var(tool)) {
        let path = PathBuf::from(path);
        return is_executable(&path).then_some(path);
    }
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .flat_map(|dir| candidates(&dir, tool))
        .find(|candidate| is_executable(candidate))
}

/// [`find_tool`], or `None` after printing why the calling test is skipped.
///
/// # Panics
/// When the tool is missing and `CI=true`.
pub fn require_tool(tool: &str) -> Option<PathBuf> {
    if let Some(path) = find_tool(tool) {
        return Some(path);
    }
    let hint = format!(
        "`{tool}` not found on PATH (or in ${}): install it or point ${} at it",
        override_var(tool),
        override_var(tool)
    );
    if in_ci() {
        panic!("{hint}; it is required when CI=true");
    }
    eprintln!("SKIPPED: {hint}");
    None
}

fn candidates(dir: &Path, tool: &str) -> Vec<PathBuf> {
    let mut found = vec![dir.join(tool)];
    if cfg!(windows) {
        found.push(dir.join(format!("{tool}.exe")));
    }
    found
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// A finished command's standard output, then its standard error, as text.
pub fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
