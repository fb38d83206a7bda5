//! HTTP checks, wrk runs and the light-scraper probe.

use super::*;

pub struct Got {
    pub status: u16,
    pub encoding: Option<String>,
    pub body: Vec<u8>,
}

pub async fn http_get(client: &reqwest::Client, url: &str, gzip: bool) -> reqwest::Result<Got> {
    let mut req = client.get(url);
    if gzip {
        req = req.header(header::ACCEPT_ENCODING, "gzip");
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let encoding = resp
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp.bytes().await?.to_vec();
    Ok(Got {
        status,
        encoding,
        body,
    })
}

pub async fn wait_status(client: &reqwest::Client, url: &str, what: &str, within: Duration) {
    let start = Instant::now();
    loop {
        if let Ok(g) = http_get(client, url, false).await
            && g.status == 200
        {
            return;
        }
        assert!(
            start.elapsed() < within,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .expect("valid gzip");
    out
}

pub fn count_series(body: &[u8]) -> usize {
    String::from_utf8_lossy(body)
        .lines()
        .filter(|l| l.starts_with(SERIES_NAME))
        .count()
}

// ---------------------------------------------------------------- wrk

#[derive(Debug, Clone)]
pub struct WrkResult {
    pub rps: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub requests: u64,
    pub errors: String,
}

pub fn parse_latency(s: &str) -> Option<Duration> {
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().ok()?;
    let secs = match unit {
        "us" => v / 1e6,
        "ms" => v / 1e3,
        "s" => v,
        "m" => v * 60.0,
        "h" => v * 3600.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(secs))
}

pub fn parse_wrk(out: &str) -> Option<WrkResult> {
    let mut rps = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut requests = 0;
    let mut errors = Vec::new();
    for line in out.lines() {
        let t = line.trim();
        let words: Vec<&str> = t.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", v] => rps = v.parse().ok(),
            ["50%", v] => p50 = parse_latency(v),
            ["99%", v] => p99 = parse_latency(v),
            [n, "requests", "in", ..] => requests = n.parse().unwrap_or(0),
            _ if t.starts_with("Socket errors") || t.starts_with("Non-2xx") => {
                errors.push(t.to_string())
            }
            _ => {}
        }
    }
    Some(WrkResult {
        rps: rps?,
        p50: p50?,
        p99: p99?,
        requests,
        errors: errors.join("; "),
    })
}

pub fn wrk(url: &str, gzip: bool, secs: u64) -> WrkResult {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "-c50", &format!("-d{secs}s"), "--latency"]);
    if gzip {
        cmd.args(["-H", "Accept-Encoding: gzip"]);
    }
    let out = cmd.arg(url).output().expect("running wrk");
    let text = String::from_utf8_lossy(&out.stdout);
    parse_wrk(&text).unwrap_or_else(|| {
        panic!(
            "could not read wrk's output:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

pub fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

// ---------------------------------------------------------------- probe

/// Latencies seen by a light scraper: one connection, one gzip GET every
/// 5 ms. It leaves the CPU to the poll, so what it sees is how long the
/// server takes to get to a request, not the CPU wrk takes from everybody.
pub async fn probe(client: &reqwest::Client, url: &str, secs: f64) -> Vec<Duration> {
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut out = Vec::new();
    while Instant::now() < end {
        tick.tick().await;
        let t = Instant::now();
        let got = http_get(client, url, true).await.expect("probe request");
        assert_eq!(got.status, 200, "probe status");
        out.push(t.elapsed());
    }
    out.sort();
    out
}

pub struct ProbeRow {
    pub target: &'static str,
    pub phase: &'static str,
    /// Sorted latencies.
    pub latencies: Vec<Duration>,
}

impl ProbeRow {
    pub fn quantile(&self, q: f64) -> Duration {
        let v = &self.latencies;
        v[((v.len() - 1) as f64 * q).round() as usize]
    }
}
