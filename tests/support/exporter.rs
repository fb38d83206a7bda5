//! The real `evolux-exporter` binary as a child process: one builder for
//! every test that runs it.
//!
//! ```ignore
//! let mut exporter = Exporter::new()
//!     .args(["--demo"])
//!     .env("EVOLUX_TOKEN", "t")
//!     .start()
//!     .await; // listening on 127.0.0.1:<free port>, /readyz answers 200
//! let metrics = exporter.scrape().await;
//! ```
//!
//! The child gets only the environment given with [`Exporter::env`], and
//! `--web.listen-address=127.0.0.1:0` unless the arguments name an address:
//! its address is read back from its "started" log line, so there is no race
//! for a port picked in advance. Its stdout and stderr go to files, read by
//! [`Running::logs`]; it is killed when [`Running`] is dropped, and its logs
//! are printed if that happens during a panic (a failing test).
//! `exporter_sigterm.rs` adds SIGTERM, `exporter_once.rs` runs the binary to
//! completion (`--config.check`, `--help`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use super::metrics::Metrics;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_evolux-exporter");

/// How a test wants the binary run.
#[derive(Clone, Debug, Default)]
pub struct Exporter {
    args: Vec<String>,
    envs: Vec<(String, String)>,
}

impl Exporter {
    /// No arguments, an empty environment.
    pub fn new() -> Exporter {
        Exporter::default()
    }

    pub fn args<I>(mut self, args: I) -> Exporter
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets one variable of the child's (otherwise empty) environment.
    pub fn env(mut self, key: &str, value: impl Into<String>) -> Exporter {
        self.envs.push((key.to_string(), value.into()));
        self
    }

    /// The command: the binary, the arguments, only the given environment.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env_clear().args(&self.args).stdin(Stdio::null());
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        cmd
    }

    /// Starts the binary and waits (up to 30 s) until `/readyz` answers 200
    /// (its first poll is done).
    pub async fn start(self) -> Running {
        let mut running = self.spawn().await;
        running.wait_ready(Duration::from_secs(30)).await;
        running
    }

    /// Starts the binary and waits (up to 30 s) until it listens: it may
    /// still be in its first poll.
    pub async fn spawn(self) -> Running {
        let dir = tempfile::tempdir().expect("tempdir");
        let stdout = dir.path().join("stdout.log");
        let stderr = dir.path().join("stderr.log");
        let mut cmd = self.command();
        if !self
            .args
            .iter()
            .any(|a| a.starts_with("--web.listen-address"))
        {
            cmd.arg("--web.listen-address=127.0.0.1:0");
        }
        let child = cmd
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("the binary starts");
        let mut running = Running {
            pid: child.id(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            http: reqwest::Client::builder()
                .no_gzip()
                .no_proxy()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("client"),
            child: Some(child),
            stdout,
            stderr,
            _dir: dir,
        };
        let mut addr = None;
        super::wait_for("the exporter to listen", Duration::from_secs(30), || {
            running.assert_running("starting");
            addr = listen_address(&running.logs());
            std::future::ready(addr.is_some())
        })
        .await;
        running.addr = addr.expect("the address it listens on");
        running
    }
}

/// A started exporter; killed (and reaped) on drop if still running.
pub struct Running {
    pub pid: u32,
    pub addr: SocketAddr,
    /// A client for it: no proxy, no gzip, 10 s timeout.
    pub http: reqwest::Client,
    child: Option<Child>,
    stdout: PathBuf,
    stderr: PathBuf,
    _dir: tempfile::TempDir,
}

impl Running {
    /// `http://127.0.0.1:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Waits (up to `deadline`) until `/readyz` answers 200: its first poll
    /// is done. Panics if it exits first.
    pub async fn wait_ready(&mut self, deadline: Duration) {
        let url = self.url("/readyz");
        super::wait_for("the exporter to be ready", deadline, || {
            self.assert_running("waiting for /readyz");
            let ready = self.http.get(&url).send();
            async move { ready.await.is_ok_and(|r| r.status() == 200) }
        })
        .await;
    }

    /// `/metrics` (plain), which must answer 200.
    pub async fn scrape(&mut self) -> Metrics {
        let resp = self.http.get(self.url("/metrics")).send().await;
        self.assert_running("scraping");
        let resp = resp.expect("/metrics answers");
        assert_eq!(resp.status(), 200, "/metrics");
        Metrics(resp.text().await.expect("/metrics body"))
    }

    /// Panics (with the logs) if it has exited.
    pub fn assert_running(&mut self, what: &str) {
        if let Some(status) = self.try_wait() {
            panic!("{what}: the exporter exited ({status})");
        }
    }

    /// Its stdout and stderr so far.
    pub fn logs(&self) -> String {
        format!(
            "{}{}",
            std::fs::read_to_string(&self.stdout).unwrap_or_default(),
            std::fs::read_to_string(&self.stderr).unwrap_or_default()
        )
    }

    /// Its exit status, if it has exited (then it is reaped).
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        let status = self
            .child
            .as_mut()
            .and_then(|c| c.try_wait().expect("try_wait"));
        if status.is_some() {
            self.child = None;
        }
        status
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "\n----- exporter (pid {}) log -----\n{}\n----- end of exporter log -----",
                self.pid,
                self.logs()
            );
        }
    }
}

/// The first address of the "evolux-exporter started" line, a wildcard
/// read as loopback, once it is there.
pub fn listen_address(logs: &str) -> Option<SocketAddr> {
    listen_addresses(logs).into_iter().next()
}

/// The addresses of the "evolux-exporter started" line (logfmt
/// `address=a,b` or JSON `"address":"a,b"`), each wildcard (`0.0.0.0`,
/// `[::]`) read as its loopback; empty until the line is there.
pub fn listen_addresses(logs: &str) -> Vec<SocketAddr> {
    let Some(line) = logs.lines().find(|l| l.contains("evolux-exporter started")) else {
        return Vec::new();
    };
    let at = line
        .find("address=")
        .map(|i| i + "address=".len())
        .or_else(|| {
            line.find("\"address\":\"")
                .map(|i| i + "\"address\":\"".len())
        });
    let Some(at) = at else { return Vec::new() };
    let list: String = line[at..]
        .trim_start_matches('"')
        .chars()
        .take_while(|c| c.is_ascii_hexdigit() || ".:[],".contains(*c))
        .collect();
    list.split(',')
        .filter_map(|a| a.parse::<SocketAddr>().ok())
        .filter(|a| a.port() != 0)
        .map(|mut a| {
            if a.ip().is_unspecified() {
                a.set_ip(if a.is_ipv6() {
                    std::net::Ipv6Addr::LOCALHOST.into()
                } else {
                    std::net::Ipv4Addr::LOCALHOST.into()
                });
            }
            a
        })
        .collect()
}
