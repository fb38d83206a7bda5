//! Child processes: the exporter and nginx, stopped on drop.

use super::*;

/// A child process, stopped (SIGTERM, then SIGKILL after 5 s) on drop.
pub struct ChildGuard {
    pub name: &'static str,
    pub child: Child,
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("{} did not stop on SIGTERM; killing it", self.name);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The exporter's log lines about polls, as they come.
pub type PollLog = Arc<Mutex<Vec<(Instant, String)>>>;

pub fn start_exporter(upstream: SocketAddr) -> (ChildGuard, SocketAddr, PollLog) {
    // SERVE_EXPORTER: another build of the exporter, to compare a change.
    let bin = std::env::var("SERVE_EXPORTER")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_evolux-exporter").to_string());
    let mut child = Command::new(&bin)
        // The upstream is on loopback over http://: a developer's proxy
        // variables would stop start-up (a proxy would see the token).
        .envs(
            evolux_exporter::evolux::proxy::PROXY_VARIABLES
                .into_iter()
                .map(|name| (name, "")),
        )
        .args([
            &format!("--evolux.url=http://{upstream}"),
            "--web.listen-address=127.0.0.1:0",
            "--log.level=info",
            "--poll.interval=1s",
            // Heavy polls take minutes by design: neither the request nor
            // the poll may time out while the bench runs.
            "--evolux.timeout=10m",
            // 84 × 20 × 6 = 10 080 series, just over the default cap.
            "--poll.max-series=20000",
        ])
        .env("EVOLUX_TOKEN", "x")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the exporter");
    let stderr = child.stderr.take().expect("piped stderr");
    let guard = ChildGuard {
        name: "evolux-exporter",
        child,
    };
    let polls: PollLog = Arc::default();
    let (tx, rx) = mpsc::channel();
    let log = polls.clone();
    // Reads stderr to the end, so the exporter never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.contains("msg=\"evolux-exporter started\"")
                && let Some(addr) = field(&line, "address")
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(addr.parse::<SocketAddr>());
            }
            if line.contains("poll finished") || line.contains("level=warn") {
                log.lock().unwrap().push((Instant::now(), line));
            } else if line.contains("level=error") {
                eprintln!("exporter: {line}");
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the exporter logs its address within 30 s")
        .expect("a socket address in the log line");
    (guard, addr, polls)
}

/// The value of `key=` in a logfmt line.
pub fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(&format!(" {key}="))? + key.len() + 2;
    let rest = &line[start..];
    if let Some(quoted) = rest.strip_prefix('"') {
        return quoted.split('"').next();
    }
    rest.split(' ').next()
}

pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

pub fn start_nginx(dir: &Path) -> (ChildGuard, SocketAddr) {
    let port = free_port();
    let user = if is_root() { "user root;\n" } else { "" };
    let d = dir.display();
    let conf = format!(
        "{user}daemon off;
worker_processes 2;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    default_type text/plain;
    # hyper keeps a connection for ever; nginx closes after 1000 requests
    # by default, which would cost it reconnects the exporter does not pay.
    keepalive_requests 1000000;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {d};
        location = /metrics {{ gzip_static on; }}
    }}
}}
"
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).expect("writing nginx.conf");
    let child = Command::new("nginx")
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("error.log"))
        .arg("-c")
        .arg(&conf_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting nginx");
    (
        ChildGuard {
            name: "nginx",
            child,
        },
        SocketAddr::from(([127, 0, 0, 1], port)),
    )
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool} >/dev/null 2>&1"))
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}
