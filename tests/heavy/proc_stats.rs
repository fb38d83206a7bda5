//! What `/proc` says about the exporter (RSS, threads, open file
//! descriptors), for measurements that must be the exporter's alone.

use crate::support::exporter::Running;

/// What `/proc/<pid>` says about a process at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStats {
    /// Resident set size, in KiB (`VmRSS`).
    pub rss_kb: u64,
    /// Threads (`Threads`).
    pub threads: u64,
    /// Open file descriptors (entries of `/proc/<pid>/fd`).
    pub fds: u64,
}

impl ProcStats {
    /// Reads the stats of `pid`; panics if the process is gone.
    pub fn of(pid: u32) -> ProcStats {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_else(|e| panic!("reading /proc/{pid}/status: {e}"));
        let field = |name: &str| -> u64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status:\n{status}"))
        };
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap_or_else(|e| panic!("reading /proc/{pid}/fd: {e}"))
            .count() as u64;
        ProcStats {
            rss_kb: field("VmRSS:"),
            threads: field("Threads:"),
            fds,
        }
    }

    /// RSS in MiB, for messages.
    pub fn rss_mib(&self) -> f64 {
        self.rss_kb as f64 / 1024.0
    }
}

impl std::fmt::Display for ProcStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RSS {:.1} MiB, {} threads, {} fds",
            self.rss_mib(),
            self.threads,
            self.fds
        )
    }
}

impl Running {
    /// RSS, threads and fds now; panics if it has exited.
    pub fn stats(&mut self) -> ProcStats {
        self.assert_running("reading /proc");
        ProcStats::of(self.pid)
    }
}

/// Log lines that say a thread panicked.
pub fn panics_in(logs: &str) -> Vec<&str> {
    logs.lines().filter(|l| l.contains("panicked")).collect()
}
