//! The Dockerfile and the Docker context.

use super::*;

// The Dockerfile
// ---------------------------------------------------------------------------------

#[test]
fn hadolint_accepts_the_dockerfile() {
    let Some(hadolint) = require_tool("hadolint") else {
        return;
    };
    let out = Command::new(hadolint)
        .arg("--no-color")
        .arg("Dockerfile")
        .current_dir(repo())
        .output()
        .expect("run hadolint");
    assert!(
        out.status.success(),
        "hadolint Dockerfile:\n{}",
        crate::tools::output_text(&out)
    );
}

/// The Dockerfile's instructions (continuation lines joined, comments dropped).
fn dockerfile_instructions() -> Vec<(String, String)> {
    let text = read(&repo().join("Dockerfile"));
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                let (op, rest) = current.split_once(' ').unwrap_or((&current, ""));
                out.push((op.to_ascii_uppercase(), rest.trim().to_string()));
                current.clear();
            }
        }
    }
    out
}

#[test]
fn dockerfile_builds_locked_and_runs_as_numeric_non_root() {
    let all = dockerfile_instructions();
    let froms: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, (op, _))| op == "FROM")
        .map(|(i, _)| i)
        .collect();
    assert!(froms.len() >= 2, "a multi-stage build");
    let from_image = |i: usize| all[i].1.split_whitespace().next().unwrap().to_string();

    // The builder: a Rust image pinned by version, building with the lock file.
    let builder = from_image(froms[0]);
    let (repo_name, tag) = builder.split_once(':').expect("a tag on the builder image");
    assert!(repo_name.ends_with("rust"), "{builder}");
    assert!(
        tag.starts_with(|c: char| c.is_ascii_digit()),
        "{builder}: pin a Rust version"
    );
    let build = all
        .iter()
        .find(|(op, rest)| op == "RUN" && rest.contains("cargo build"))
        .expect("RUN cargo build");
    assert!(
        build.1.contains("--release") && build.1.contains("--locked"),
        "{}",
        build.1
    );

    // The runtime: distroless, same Debian release as the builder (glibc).
    let last = *froms.last().unwrap();
    let runtime = from_image(last);
    assert!(runtime.starts_with("gcr.io/distroless/"), "{runtime}");
    assert!(
        !runtime.ends_with(":latest") && runtime.contains(':'),
        "{runtime}"
    );
    if runtime.contains("/cc-debian12") {
        assert!(
            tag.contains("bookworm"),
            "debian12 runtime needs a bookworm builder"
        );
    }
    let stage = &all[last..];
    let of = |op: &str| -> Vec<&String> {
        stage
            .iter()
            .filter(|(o, _)| o == op)
            .map(|(_, r)| r)
            .collect()
    };

    let user = of("USER");
    assert_eq!(user.len(), 1, "one USER in the final stage");
    let uid = user[0].split(':').next().unwrap();
    let uid: i64 = uid
        .parse()
        .unwrap_or_else(|_| panic!("USER {uid} must be numeric"));
    assert_ne!(uid, 0, "USER must not be root");
    assert_eq!(uid, UID, "the same uid as the manifests' runAsUser");

    let entry = of("ENTRYPOINT");
    assert_eq!(entry.len(), 1);
    let exec: Vec<String> = serde_json::from_str(entry[0])
        .unwrap_or_else(|_| panic!("ENTRYPOINT must be in exec form: {}", entry[0]));
    assert!(exec[0].ends_with("/evolux-exporter"), "{exec:?}");

    let expose = of("EXPOSE");
    assert!(
        expose.iter().any(|e| e
            .split_whitespace()
            .any(|p| p == "10071" || p == "10071/tcp")),
        "EXPOSE 10071"
    );
    // ...which is the port the binary listens on by default.
    let text = Exporter::new()
        .args(["--demo", "--config.check"])
        .run()
        .text;
    assert!(text.contains(&format!(":{METRICS_PORT} ")), "{text}");

    let labels: String = of("LABEL")
        .into_iter()
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    for key in ["title", "description", "version", "revision"] {
        assert!(
            labels.contains(&format!("org.opencontainers.image.{key}=")),
            "LABEL org.opencontainers.image.{key}"
        );
    }
    // The image's default version is the crate's.
    let version = all
        .iter()
        .find_map(|(op, rest)| (op == "ARG").then(|| rest.strip_prefix("VERSION="))?)
        .expect("ARG VERSION=");
    assert_eq!(version, env!("CARGO_PKG_VERSION"), "ARG VERSION default");
}

/// The top-level names `.dockerignore` lets into the build context. It must be an
/// allow-list of the form `*` then `!/name` lines (plus exclusions inside those).
fn docker_context_allow_list() -> Vec<String> {
    let text = read(&repo().join(".dockerignore"));
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(
        lines.first(),
        Some(&"*"),
        ".dockerignore: start with `*` (an allow-list)"
    );
    lines
        .iter()
        .filter_map(|l| l.strip_prefix('!'))
        .map(|l| {
            let name = l.trim_start_matches('/').trim_end_matches('/');
            assert!(
                !name.is_empty() && !name.contains(['/', '*', '?', '[']),
                ".dockerignore: keep exceptions to top-level names: {l:?}"
            );
            name.to_string()
        })
        .collect()
}

#[test]
fn dockerignore_lets_in_what_cargo_needs_and_nothing_secret() {
    let allowed = docker_context_allow_list();
    for needed in ["Cargo.toml", "Cargo.lock", "src"] {
        assert!(allowed.iter().any(|a| a == needed), "{needed} is let in");
    }
    for never in ["target", ".git", "deploy", ".ci", "dashboards"] {
        assert!(!allowed.iter().any(|a| a == never), "{never} is let in");
    }

    // Cargo accepts the context as the Dockerfile's `cargo build --locked` sees it:
    // every target Cargo.toml names has its files (benches/ for [[bench]], ...)
    // and Cargo.lock is up to date. (`cargo fetch` checks both without building.)
    let ctx = tempfile::tempdir().unwrap();
    for name in &allowed {
        let src = repo().join(name);
        if src.is_dir() {
            copy_tree(&src, &ctx.path().join(name));
        } else if src.is_file() {
            std::fs::copy(&src, ctx.path().join(name)).unwrap();
        }
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let version = Command::new(&cargo).arg("-vV").output().expect("cargo -vV");
    let host = String::from_utf8_lossy(&version.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .expect("host triple");
    let out = Command::new(cargo)
        .args(["fetch", "--locked", "--offline", "--target", &host])
        .current_dir(ctx.path())
        .output()
        .expect("run cargo fetch");
    assert!(
        out.status.success(),
        "the Docker build context (what .dockerignore lets in: {allowed:?}) is not enough for cargo:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Files the sources include at compile time must be in the context too.
    for file in ["src"].iter().flat_map(|d| rust_files(&repo().join(d))) {
        let text = read(&file);
        let includes = ["include_str!(\"", "include_bytes!(\""]
            .iter()
            .flat_map(|m| text.split(m).skip(1));
        for include in includes {
            let rel = include.split('"').next().unwrap();
            let target = file.parent().unwrap().join(rel);
            let target = target.canonicalize().unwrap_or(target);
            let top = target
                .strip_prefix(repo().canonicalize().unwrap())
                .ok()
                .and_then(|p| p.components().next())
                .map(|c| c.as_os_str().to_string_lossy().into_owned());
            assert!(
                top.as_ref().is_some_and(|t| allowed.contains(t)),
                "{} includes {rel}, which .dockerignore leaves out of the build",
                file.display()
            );
        }
    }
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
    out
}
