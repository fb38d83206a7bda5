//! The small part of `/metrics` rendered at each scrape, after the poll's
//! bytes: the process's figures (`process_*`, measured now), the scrapes
//! served (`evolux_exporter_scrapes_total{code}`) and how the last
//! configuration reload went (`evolux_config_last_reload_*`).
//!
//! The poll's exposition stays rendered once per poll; this part is a few
//! hundred bytes, appended as they are, or as a second gzip member (a
//! gzip stream may hold several members, which decoders read as one).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::SystemTime;

use crate::process::ProcessStats;

/// How the scrape-time part begins: where a body's poll part ends.
pub const PART_START: &str = "# HELP evolux_config_last_reload_success_timestamp_seconds ";

/// The scrape-time state the exporter keeps.
#[derive(Debug)]
pub struct LiveMetrics {
    scrapes: Mutex<BTreeMap<u16, u64>>,
    reload: Mutex<ReloadStatus>,
}

/// How the last configuration load went.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReloadStatus {
    /// Whether the last reload (or the start) loaded the configuration.
    pub successful: bool,
    /// When a load last succeeded, in seconds since the epoch.
    pub last_success_seconds: f64,
}

impl LiveMetrics {
    /// The state at start-up: the configuration loaded at `started`.
    pub fn new(started: SystemTime) -> LiveMetrics {
        LiveMetrics {
            scrapes: Mutex::new(BTreeMap::new()),
            reload: Mutex::new(ReloadStatus {
                successful: true,
                last_success_seconds: epoch_seconds(started),
            }),
        }
    }

    /// Counts a scrape of the metrics path answered with `code`.
    pub fn count_scrape(&self, code: u16) {
        *self
            .scrapes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(code)
            .or_default() += 1;
    }

    /// A reload at `at` loaded the configuration.
    pub fn reload_succeeded(&self, at: SystemTime) {
        *self.reload.lock().unwrap_or_else(|e| e.into_inner()) = ReloadStatus {
            successful: true,
            last_success_seconds: epoch_seconds(at),
        };
    }

    /// A reload was refused: the last good configuration keeps running.
    pub fn reload_failed(&self) {
        self.reload
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .successful = false;
    }

    /// How the last reload went.
    pub fn reload_status(&self) -> ReloadStatus {
        *self.reload.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The text of this part, with the process's figures read now.
    pub fn render(&self) -> String {
        let scrapes = self
            .scrapes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        render_live(ProcessStats::read(), &scrapes, self.reload_status())
    }
}

fn epoch_seconds(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// One family of a single sample without labels.
fn family(out: &mut String, name: &str, kind: &str, help: &str, value: f64) {
    // Writing into a String never fails.
    let _ = write!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
    );
}

/// The scrape-time text: pure, from the figures given.
pub fn render_live(
    process: Option<ProcessStats>,
    scrapes: &BTreeMap<u16, u64>,
    reload: ReloadStatus,
) -> String {
    let mut out = String::with_capacity(1024);
    family(
        &mut out,
        "evolux_config_last_reload_success_timestamp_seconds",
        "gauge",
        "When the configuration was last loaded successfully (at start or by a reload: SIGHUP, POST /-/reload).",
        reload.last_success_seconds,
    );
    family(
        &mut out,
        "evolux_config_last_reload_successful",
        "gauge",
        "1 when the last reload (or the start) loaded the configuration; 0 when the last reload was refused and the previous configuration keeps running.",
        if reload.successful { 1.0 } else { 0.0 },
    );
    out.push_str("# HELP evolux_exporter_scrapes_total Scrapes of the metrics path served, by HTTP status; the scrape being answered is not yet counted.\n# TYPE evolux_exporter_scrapes_total counter\n");
    if scrapes.is_empty() {
        out.push_str("evolux_exporter_scrapes_total{code=\"200\"} 0\n");
    }
    for (code, n) in scrapes {
        let _ = writeln!(out, "evolux_exporter_scrapes_total{{code=\"{code}\"}} {n}");
    }
    if let Some(p) = process {
        family(
            &mut out,
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            p.cpu_seconds,
        );
        if let Some(max) = p.max_fds {
            family(
                &mut out,
                "process_max_fds",
                "gauge",
                "Maximum number of open file descriptors.",
                max as f64,
            );
        }
        family(
            &mut out,
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            p.open_fds as f64,
        );
        family(
            &mut out,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            p.resident_bytes as f64,
        );
        family(
            &mut out,
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            p.start_time_seconds,
        );
        family(
            &mut out,
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
            p.virtual_bytes as f64,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats() -> ProcessStats {
        ProcessStats {
            cpu_seconds: 1.25,
            resident_bytes: 12_582_912,
            virtual_bytes: 1_342_177_280,
            open_fds: 17,
            max_fds: Some(1024),
            start_time_seconds: 1_764_660_000.5,
        }
    }

    #[test]
    fn the_live_part_holds_each_figure_once() {
        let scrapes = BTreeMap::from([(200, 41), (401, 2)]);
        let reload = ReloadStatus {
            successful: false,
            last_success_seconds: 1_764_660_100.0,
        };
        let text = render_live(Some(stats()), &scrapes, reload);
        for line in [
            "process_cpu_seconds_total 1.25",
            "process_resident_memory_bytes 12582912",
            "process_virtual_memory_bytes 1342177280",
            "process_open_fds 17",
            "process_max_fds 1024",
            "process_start_time_seconds 1764660000.5",
            "evolux_exporter_scrapes_total{code=\"200\"} 41",
            "evolux_exporter_scrapes_total{code=\"401\"} 2",
            "evolux_config_last_reload_successful 0",
            "evolux_config_last_reload_success_timestamp_seconds 1764660100",
            "# TYPE process_cpu_seconds_total counter",
        ] {
            assert_eq!(
                text.lines().filter(|l| *l == line).count(),
                1,
                "{line:?} in\n{text}"
            );
        }
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn the_part_begins_as_announced() {
        let text = render_live(
            None,
            &BTreeMap::new(),
            LiveMetrics::new(SystemTime::now()).reload_status(),
        );
        assert!(text.starts_with(PART_START), "{text}");
    }

    #[test]
    fn without_process_figures_or_scrapes_the_rest_still_shows() {
        let live = LiveMetrics::new(SystemTime::UNIX_EPOCH);
        let text = render_live(None, &BTreeMap::new(), live.reload_status());
        assert!(!text.contains("process_"), "{text}");
        assert!(text.contains("evolux_exporter_scrapes_total{code=\"200\"} 0\n"));
        assert!(text.contains("evolux_config_last_reload_successful 1\n"));
        let unlimited = ProcessStats {
            max_fds: None,
            ..stats()
        };
        let text = render_live(Some(unlimited), &BTreeMap::new(), live.reload_status());
        assert!(!text.contains("process_max_fds"), "{text}");
    }

    #[test]
    fn scrapes_and_reloads_are_counted() {
        let live = LiveMetrics::new(SystemTime::UNIX_EPOCH);
        live.count_scrape(200);
        live.count_scrape(200);
        live.count_scrape(503);
        live.reload_failed();
        let text = live.render();
        assert!(
            text.contains("evolux_exporter_scrapes_total{code=\"200\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("evolux_exporter_scrapes_total{code=\"503\"} 1\n"));
        assert!(text.contains("evolux_config_last_reload_successful 0\n"));
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000);
        live.reload_succeeded(at);
        assert_eq!(
            live.reload_status(),
            ReloadStatus {
                successful: true,
                last_success_seconds: 1000.0
            }
        );
    }
}
