//! A real Prometheus as a child process on loopback, and a small client for its HTTP
//! API (the exporter beside it is started by `support::exporter`).
//!
//! Each process writes its stdout and stderr to a log file; it is killed when its
//! [`ChildGuard`] is dropped, and its log is printed if that happens during a panic (a
//! failing test), so a failure always comes with both logs.

use std::fs::{self, File};
use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::time::Instant;

/// How many times a process is started again when its port was taken in the meantime.
const START_ATTEMPTS: usize = 3;
/// How many lines of a log are printed on failure.
const LOG_TAIL_LINES: usize = 300;

/// A free loopback port: bound on port 0, then released. Another process may grab it
/// before the child binds it; the `start` functions retry on "address already in use".
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("binding 127.0.0.1:0")
        .port()
}

/// A child process, killed (and reaped) on drop. Its output goes to `log`.
pub struct ChildGuard {
    name: String,
    child: Child,
    log: PathBuf,
}

impl ChildGuard {
    /// Spawns `command` with stdin closed and stdout and stderr appended to `log`.
    ///
    /// # Panics
    /// When the log cannot be created or the process cannot be started.
    pub fn spawn(name: &str, mut command: Command, log: &Path) -> ChildGuard {
        let file = File::create(log).unwrap_or_else(|e| panic!("creating {}: {e}", log.display()));
        let stderr = file.try_clone().expect("cloning the log file handle");
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::from(file))
            .stderr(Stdio::from(stderr))
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name} ({command:?}): {e}"));
        ChildGuard {
            name: name.to_string(),
            child,
            log: log.to_path_buf(),
        }
    }

    /// How the process ended, if it has.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Everything the process has written so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_else(|e| format!("(reading the log: {e})"))
    }

    /// The last [`LOG_TAIL_LINES`] lines of the log.
    pub fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        let skip = lines.len().saturating_sub(LOG_TAIL_LINES);
        let mut out = String::new();
        if skip > 0 {
            out.push_str(&format!("({skip} earlier lines not shown)\n"));
        }
        out.push_str(&lines[skip..].join("\n"));
        out
    }

    fn print_log(&self) {
        eprintln!(
            "\n----- {} log ({}) -----\n{}\n----- end of {} log -----",
            self.name,
            self.log.display(),
            self.log_tail(),
            self.name
        );
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            self.print_log();
        }
    }
}

/// Polls `probe` every `interval` until it returns `Ok`, and returns that value.
///
/// # Panics
/// After `deadline`, with `what` and the last error `probe` returned.
pub async fn eventually<T, F, Fut>(
    what: &str,
    deadline: Duration,
    interval: Duration,
    mut probe: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(last) if start.elapsed() > deadline => {
                panic!("timed out after {deadline:?} waiting for {what}; last: {last}")
            }
            Err(_) => tokio::time::sleep(interval).await,
        }
    }
}

/// A client for plain-HTTP loopback servers: no proxy, short timeouts.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client")
}

/// `GET url` answers 200.
async fn answers_200(http: &reqwest::Client, url: &str) -> Result<(), String> {
    let response = http.get(url).send().await.map_err(|e| e.to_string())?;
    match response.status().as_u16() {
        200 => Ok(()),
        status => Err(format!("{url} answered {status}")),
    }
}

/// Starts a process with [`ChildGuard::spawn`] on a fresh port from [`free_port`] and
/// waits (up to `deadline`) until `GET http://127.0.0.1:<port><ready_path>` answers
/// 200. Starts again on another port when the process exits with "address already in
/// use" in its log.
///
/// # Panics
/// When the process exits for another reason, or is not ready in time.
async fn start_on_free_port(
    name: &str,
    log: &Path,
    ready_path: &str,
    deadline: Duration,
    command: impl Fn(SocketAddr) -> Command,
) -> (ChildGuard, SocketAddr) {
    let http = http_client();
    for attempt in 1..=START_ATTEMPTS {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let mut child = ChildGuard::spawn(name, command(addr), log);
        let url = format!("http://{addr}{ready_path}");
        let start = Instant::now();
        loop {
            if let Some(status) = child.exit_status() {
                if child
                    .log()
                    .to_lowercase()
                    .contains("address already in use")
                    && attempt < START_ATTEMPTS
                {
                    eprintln!("{name}: port {} was taken, trying another", addr.port());
                    break;
                }
                panic!("{name} exited before it was ready ({status})");
            }
            if answers_200(&http, &url).await.is_ok() {
                return (child, addr);
            }
            if start.elapsed() > deadline {
                panic!("{name} was not ready at {url} after {deadline:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    unreachable!("the last attempt returns or panics")
}

/// A Prometheus server, running, and a client for its HTTP API.
pub struct Prometheus {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    /// Kills Prometheus when dropped (and prints its log on failure).
    _process: ChildGuard,
}

impl Prometheus {
    /// Writes `config` (a prometheus.yml, as a value) to `<dir>/prometheus.yml` and
    /// starts `binary` on it with its TSDB in `<dir>/data`, listening on a free
    /// loopback port and logging to `<dir>/prometheus.log`; waits until `/-/ready`
    /// answers 200.
    pub async fn start(binary: &Path, config: &Value, dir: &Path) -> Prometheus {
        let config_path = dir.join("prometheus.yml");
        let yaml = serde_yaml::to_string(config).expect("prometheus.yml serializes");
        fs::write(&config_path, &yaml)
            .unwrap_or_else(|e| panic!("writing {}: {e}", config_path.display()));
        let data = dir.join("data");
        let (process, addr) = start_on_free_port(
            "prometheus",
            &dir.join("prometheus.log"),
            "/-/ready",
            Duration::from_secs(30),
            |addr| {
                let mut command = Command::new(binary);
                command
                    .arg(format!("--config.file={}", config_path.display()))
                    .arg(format!("--storage.tsdb.path={}", data.display()))
                    .arg(format!("--web.listen-address={addr}"));
                command
            },
        )
        .await;
        Prometheus {
            addr,
            http: http_client(),
            _process: process,
        }
    }

    /// `GET /api/v1/<path>?<params>`: the `data` of a `success` answer, else the
    /// error (transport, HTTP status, or Prometheus's `errorType: error`).
    pub async fn api(&self, path: &str, params: &[(&str, &str)]) -> Result<Value, String> {
        let url =
            url::Url::parse_with_params(&format!("http://{}/api/v1/{path}", self.addr), params)
                .map_err(|e| e.to_string())?;
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("GET /api/v1/{path}: {e}"))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| format!("GET /api/v1/{path}: reading the body: {e}"))?;
        let json: Value = serde_json::from_str(&body)
            .map_err(|e| format!("GET /api/v1/{path} ({status}): not JSON ({e}): {body}"))?;
        if json["status"] == "success" {
            for warning in json["warnings"].as_array().into_iter().flatten() {
                eprintln!("prometheus warning for {path} {params:?}: {warning}");
            }
            Ok(json["data"].clone())
        } else {
            Err(format!(
                "{status}: {}: {}",
                json["errorType"].as_str().unwrap_or("?"),
                json["error"].as_str().unwrap_or(&body)
            ))
        }
    }

    /// An instant query at the current time: the samples (`data.result`).
    pub async fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let data = self.api("query", &[("query", expr)]).await?;
        Ok(result(&data))
    }

    /// A range query over the last `range` ending now, every `step`: the series.
    pub async fn query_range(
        &self,
        expr: &str,
        range: Duration,
        step: Duration,
    ) -> Result<Vec<Value>, String> {
        let end = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("the clock is after 1970")
            .as_secs_f64();
        let start = end - range.as_secs_f64();
        let data = self
            .api(
                "query_range",
                &[
                    ("query", expr),
                    ("start", &format!("{start:.3}")),
                    ("end", &format!("{end:.3}")),
                    ("step", &format!("{}", step.as_secs_f64())),
                ],
            )
            .await?;
        Ok(result(&data))
    }

    /// The instant query's samples when there is at least one, else an error naming
    /// `expr`; for [`eventually`].
    pub async fn query_nonempty(&self, expr: &str) -> Result<Vec<Value>, String> {
        let samples = self.query(expr).await?;
        if samples.is_empty() {
            return Err(format!("`{expr}` returned no data"));
        }
        Ok(samples)
    }
}

/// `data.result` as a list: the samples of a vector, the series of a matrix, the one
/// value of a scalar or string.
fn result(data: &Value) -> Vec<Value> {
    match data["resultType"].as_str() {
        Some("vector" | "matrix") => data["result"].as_array().cloned().unwrap_or_default(),
        Some(_) => vec![data["result"].clone()],
        None => Vec::new(),
    }
}
