//! The bench's upstream: report bodies, and a server that streams them (paced or not).

use super::*;

pub fn campaign_uuid(c: usize) -> String {
    format!("f45d98dc-ac5e-48f2-9c01-{c:012x}")
}

pub fn template_uuid(t: usize) -> String {
    format!("70f4ddb6-ece1-4e13-ab90-{t:012x}")
}

/// `{"data":[r,r,...` (no closing bracket: the tail is added per request)
/// with `n` records cycling over every (campaign, template) pair, shaped
/// like the API's: UUIDs, names, phone number, times, custom fields.
pub fn records_part(n: usize) -> Bytes {
    let campaigns: Vec<String> = (0..CAMPAIGNS).map(campaign_uuid).collect();
    let templates: Vec<String> = (0..TEMPLATES).map(template_uuid).collect();
    let mut out = Vec::with_capacity(n * 480 + 16);
    out.extend_from_slice(b"{\"data\":[");
    for i in 0..n {
        if i > 0 {
            out.push(b',');
        }
        let pair = i % PAIRS;
        let (c, t) = (pair / TEMPLATES, pair % TEMPLATES);
        let s = (i / PAIRS * 7 + i / 3) % 6;
        let _ = write!(
            out,
            r#"{{"uuid":"0d3c2b1a-0000-4000-8000-{i:012x}","name":"Maria do Carmo Silva {i}","phone_number":"55119{:08}","state":"{}","template_uuid":"{}","template_name":"Template {t:02} - Comunicado","campaign_uuid":"{}","campaign_name":"Campanha {c:02} - Novembro","inserted_at":"2024-09-{:02}T10:{:02}:00.000Z","updated_at":"2024-09-{:02}T11:{:02}:00.000Z","conversation_fields":{{"CPF":"111.222.333-{:02}","perfil":"Pessoa Jurídica","cidade":"São Paulo"}}}}"#,
            i % 100_000_000,
            STATES[s],
            templates[t],
            campaigns[c],
            1 + i % 28,
            i % 60,
            1 + i % 28,
            i % 60,
            i % 100,
        );
    }
    Bytes::from(out)
}

pub fn tail(next: Option<u64>) -> Bytes {
    match next {
        Some(page) => Bytes::from(format!(
            "],\"links\":{{\"next\":\"{REPORT_PATH}?page={page}\"}}}}"
        )),
        None => Bytes::from_static(b"],\"links\":{\"next\":null}}"),
    }
}

// ---------------------------------------------------------------- upstream

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    /// Hold new polls' first request until the mode changes.
    Hold,
    /// One heavy page, paced over `pace`.
    Paced,
    /// Heavy pages chained by next links, unpaced: a poll that never ends.
    Unpaced,
    /// Small bodies, pages end: lets the exporter wind down.
    Done,
}

pub struct Upstream {
    pub small: Bytes,
    pub heavy: Bytes,
    pub pace: Duration,
    pub mode: watch::Sender<Mode>,
    pub first_requests: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub active_streams: AtomicU64,
}

/// Counts a stream as active until it is dropped.
pub struct StreamGuard(pub Arc<Upstream>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.active_streams.fetch_sub(1, Ordering::SeqCst);
    }
}

pub fn stream_body(up: Arc<Upstream>, records: Bytes, tail: Bytes, pace: Option<Duration>) -> Body {
    let mut chunks: Vec<Bytes> = (0..records.len())
        .step_by(CHUNK)
        .map(|i| records.slice(i..(i + CHUNK).min(records.len())))
        .collect();
    chunks.push(tail);
    let period = pace.map(|p| p / chunks.len() as u32);
    up.active_streams.fetch_add(1, Ordering::SeqCst);
    let guard = StreamGuard(up);
    let start = tokio::time::Instant::now();
    let state = (chunks.into_iter().enumerate(), guard);
    Body::from_stream(futures_util::stream::unfold(
        state,
        move |(mut it, guard)| async move {
            let (i, chunk) = it.next()?;
            if let Some(p) = period {
                tokio::time::sleep_until(start + p * i as u32).await;
            }
            guard
                .0
                .bytes_sent
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            Some((Ok::<_, std::io::Error>(chunk), (it, guard)))
        },
    ))
}

pub async fn report(
    State(up): State<Arc<Upstream>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let page: Option<u64> = q.get("page").and_then(|p| p.parse().ok());
    let body = match page {
        None => {
            if up.first_requests.fetch_add(1, Ordering::SeqCst) == 0 {
                stream_body(up.clone(), up.small.clone(), tail(None), None)
            } else {
                let mut rx = up.mode.subscribe();
                let mode = *rx
                    .wait_for(|m| *m != Mode::Hold)
                    .await
                    .expect("mode sender lives as long as the upstream");
                match mode {
                    Mode::Paced => {
                        stream_body(up.clone(), up.heavy.clone(), tail(None), Some(up.pace))
                    }
                    Mode::Unpaced => stream_body(up.clone(), up.heavy.clone(), tail(Some(2)), None),
                    _ => stream_body(up.clone(), up.small.clone(), tail(None), None),
                }
            }
        }
        Some(n) => {
            if *up.mode.borrow() == Mode::Unpaced {
                stream_body(up.clone(), up.heavy.clone(), tail(Some(n + 1)), None)
            } else {
                Body::from(r#"{"data":[],"links":{"next":null}}"#)
            }
        }
    };
    let mut resp = Response::new(body);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp
}

/// Starts the upstream on its own thread and current-thread runtime.
pub fn start_upstream(up: Arc<Upstream>) -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("upstream runtime");
        rt.block_on(async move {
            let app = axum::Router::new()
                .route(REPORT_PATH, get(report))
                .with_state(up);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind upstream");
            tx.send(listener.local_addr().expect("addr")).expect("send");
            axum::serve(listener, app).await.expect("upstream serves");
        });
    });
    rx.recv().expect("upstream started")
}
