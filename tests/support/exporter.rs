#![allow(dead_code)]
//! The real `evolux-exporter` binary as a child process on 127.0.0.1:0,
//! with what `/proc` says about it (RSS, threads, open file descriptors),
//! for tests whose measurements must be the exporter's alone.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_evolux-exporter");

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

/// How the child ended after SIGTERM.
#[derive(Debug)]
pub struct Stopped {
    pub status: ExitStatus,
    /// From SIGTERM to exit.
    pub took: Duration,
    /// Everything it wrote to stdout and stderr.
    pub logs: String,
}

/// A running exporter binary; killed on drop if still running.
pub struct Exporter {
    child: Option<Child>,
    pub pid: u32,
    pub addr: SocketAddr,
    stdout: PathBuf,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl Exporter {
    /// Starts the binary with `args` (plus `--web.listen-address=127.0.0.1:0`)
    /// and only the environment `envs`, and waits (up to `ready_within`)
    /// until `/readyz` answers 200. Panics with the logs if it does not.
    pub async fn start(args: &[String], envs: &[(&str, &str)], ready_within: Duration) -> Exporter {
        let dir = tempfile::tempdir().expect("tempdir");
        let stdout = dir.path().join("stdout.log");
        let stderr = dir.path().join("stderr.log");
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .args(args)
            .arg("--web.listen-address=127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"));
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("the binary starts");
        let pid = child.id();
        let mut exporter = Exporter {
            child: Some(child),
            pid,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            stdout,
            stderr,
            _dir: dir,
        };
        let http = reqwest::Client::builder()
            .no_gzip()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("client");
        let started = Instant::now();
        let mut addr = None;
        loop {
            if addr.is_none() {
                addr = listen_address(&exporter.logs());
            }
            if let Some(a) = addr
                && http
                    .get(format!("http://{a}/readyz"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200)
            {
                exporter.addr = a;
                return exporter;
            }
            let exited = exporter.try_wait();
            if exited.is_some() || started.elapsed() > ready_within {
                panic!(
                    "the exporter is not ready after {:?} (exit: {exited:?}); logs:\n{}",
                    started.elapsed(),
                    exporter.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `http://127.0.0.1:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Its stdout and stderr so far.
    pub fn logs(&self) -> String {
        format!(
            "{}{}",
            std::fs::read_to_string(&self.stdout).unwrap_or_default(),
            std::fs::read_to_string(&self.stderr).unwrap_or_default()
        )
    }

    /// Its exit status, if it has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().expect("try_wait"))
    }

    /// Panics (with the logs) if it has exited.
    pub fn assert_running(&mut self, what: &str) {
        if let Some(status) = self.try_wait() {
            panic!(
                "{what}: the exporter exited ({status}); logs:\n{}",
                self.logs()
            );
        }
    }

    /// RSS, threads and fds now.
    pub fn stats(&mut self) -> ProcStats {
        self.assert_running("reading /proc");
        ProcStats::of(self.pid)
    }

    /// Sends SIGTERM and waits up to `within` for it to exit.
    pub async fn stop(mut self, within: Duration) -> Stopped {
        let term = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status()
            .expect("run kill");
        assert!(term.success(), "kill -TERM {}", self.pid);
        let signalled = Instant::now();
        loop {
            if let Some(status) = self.try_wait() {
                self.child = None; // reaped
                return Stopped {
                    status,
                    took: signalled.elapsed(),
                    logs: self.logs(),
                };
            }
            if signalled.elapsed() > within {
                panic!(
                    "the exporter did not exit within {within:?} of SIGTERM; logs:\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Log lines that say a thread panicked.
pub fn panics_in(logs: &str) -> Vec<&str> {
    logs.lines().filter(|l| l.contains("panicked")).collect()
}

/// The address from the "evolux-exporter started" line (logfmt
/// `address=…` or JSON `"address":"…"`), once it is there.
pub fn listen_address(logs: &str) -> Option<SocketAddr> {
    let line = logs
        .lines()
        .find(|l| l.contains("evolux-exporter started"))?;
    let at = line
        .find("address=")
        .map(|i| i + "address=".len())
        .or_else(|| {
            line.find("\"address\":\"")
                .map(|i| i + "\"address\":\"".len())
        })?;
    let addr: String = line[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
        .collect();
    addr.parse::<SocketAddr>().ok().filter(|a| a.port() != 0)
}
