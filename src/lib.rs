//! evolux-exporter: a Prometheus exporter for Evolux Chat campaigns.
//!
//! It polls the campaign-subscribers report API of an Evolux server in the
//! background, counts the subscribers of each campaign by template and
//! state while the response streams in, and serves the counts on
//! `/metrics` from bytes rendered once per poll.
//!
//! # Layout
//!
//! Modules are layers, and a layer imports only layers below it (tests
//! aside); `tests::layers_import_one_way` below keeps it so. From the
//! bottom:
//!
//! 0. [`model`]: the six states, a record's fields, counts and the tally,
//!    the insertion-time axis, configured campaigns, failure kinds
//!    ([`model::Reason`]) and the immutable [`model::Snapshot`]. Pure.
//!    Beside it, with no imports of the crate either: [`token`] (the API
//!    token, kept out of every log), [`telemetry`] (logfmt or JSON logs),
//!    [`webconfig`] (`--web.config.file`, watched and reloaded),
//!    [`build_info`] (version and build facts, `--version`), [`process`]
//!    (the process's CPU, memory and file descriptors, from `/proc`).
//! 1. [`segments`]: each campaign's insertion-time segments, which reads
//!    are due, how they split, merge and are verified. Pure.
//!    [`evolux`]: the API client (query building, limits, retries,
//!    pagination, gzip) and the streaming body scanner, configured by plain
//!    values ([`evolux::ClientSettings`], [`evolux::fields::ResponseLayout`]).
//!    [`auth`]: client certificates and basic auth per request.
//! 2. [`metrics`]: a snapshot and the self-metrics into exposition bytes,
//!    once per poll; [`metrics::live`]: the small part rendered per scrape.
//!    [`status`]: the status page at `/`, from a snapshot (pure HTML).
//! 3. [`poller`]: the poll loop, a short sequence of named steps in
//!    [`poller::Poller::poll_once`], over each target's state
//!    ([`poller::target`]), configured by [`poller::PollSettings`].
//! 4. [`server`]: the listeners ([`server::listen`]), the accept loop
//!    (plain or TLS, bounded) and the router ([`server::routes`]):
//!    `/metrics`, the probes, `/-/reload`, `/`.
//! 5. [`config`]: the command line, environment and YAML file, turned into
//!    the plain values of the layers below, and which settings a reload
//!    can change ([`config::restart`]); [`demo`]: the simulated Evolux
//!    API behind `--demo`.
//! 6. [`app`]: the only module that sees every other: wiring, used by
//!    `main` and by the tests, and reloading ([`app::reload`]).

pub mod app;
pub mod auth;
pub mod build_info;
pub mod config;
pub mod demo;
pub mod evolux;
pub mod metrics;
pub mod model;
pub mod poller;
pub mod process;
pub mod segments;
pub mod server;
pub mod status;
pub mod telemetry;
pub mod token;
pub mod webconfig;

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    /// Each top-level module's layer (see the crate docs' Layout).
    const LAYERS: [(&str, u8); 18] = [
        ("model", 0),
        ("build_info", 0),
        ("process", 0),
        ("token", 0),
        ("telemetry", 0),
        ("webconfig", 0),
        ("segments", 1),
        ("evolux", 1),
        ("auth", 1),
        ("metrics", 2),
        ("status", 2),
        ("poller", 3),
        ("server", 4),
        ("config", 5),
        ("demo", 5),
        ("app", 6),
        ("main", 7),
        ("lib", 7),
    ];

    /// The `crate::x` modules a file's code (not its comments, not its
    /// tests) names.
    fn imports(text: &str) -> Vec<String> {
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let mut out = Vec::new();
        for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for part in line.split("crate::").skip(1) {
                let name: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                out.push(name);
            }
        }
        out
    }

    fn visit(dir: &Path, top: Option<&str>, found: &mut BTreeMap<String, Vec<String>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            let module = top.map_or(name.clone(), str::to_string);
            if path.is_dir() {
                visit(&path, Some(&module), found);
            } else if name != "tests" && path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                found.entry(module).or_default().extend(imports(&text));
            }
        }
    }

    #[test]
    fn layers_import_one_way() {
        let layer: BTreeMap<&str, u8> = LAYERS.into_iter().collect();
        let mut found = BTreeMap::new();
        visit(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            None,
            &mut found,
        );
        let mut wrong = Vec::new();
        for (module, names) in &found {
            let own = *layer
                .get(module.as_str())
                .unwrap_or_else(|| panic!("module {module} has no layer in LAYERS"));
            for name in names.iter().filter(|n| *n != module) {
                match layer.get(name.as_str()) {
                    Some(l) if *l < own => {}
                    _ => wrong.push(format!("{module} imports {name}")),
                }
            }
        }
        wrong.sort();
        wrong.dedup();
        assert!(wrong.is_empty(), "imports against the layers: {wrong:?}");
        assert!(found.len() >= 14, "found only {:?}", found.keys());
    }
}
