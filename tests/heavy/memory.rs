//! Memory does not grow with the number of subscribers: a poll of 1 000 000
//! records through the real client, streamed over loopback HTTP, peaks at
//! the same allocation as a poll of 1 000.
//!
//! (The small poll may peak lower while the HTTP buffers are still growing;
//! the test asserts a fixed ceiling and a flat peak from 100k to 1M.)
//!
//! A counting global allocator measures the peak of live heap bytes during
//! each poll. Only the threads of the measuring test are counted: the test's
//! own thread and the workers of the runtime it builds (see
//! [`counted_runtime`]). The upstream server runs on a thread of its own,
//! and the other tests of this binary on theirs, so the figure is the
//! exporter's alone.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};

use axum::body::Body;
use axum::routing::get;
use bytes::Bytes;
use evolux_exporter::config::{Cli, Config};
use evolux_exporter::evolux::EvoluxClient;
use evolux_exporter::metrics::SelfMetrics;
use evolux_exporter::model::Tally;

use crate::support::{CAMPAIGN_A, REPORT_PATH, STATES};

struct Counting;

thread_local! {
    /// Set on the threads whose allocations are counted.
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

fn counted() -> bool {
    COUNTED.try_with(Cell::get).unwrap_or(false)
}

/// Live bytes allocated by counted threads (signed: a counted thread may
/// free what another allocated).
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() && counted() {
            let size = layout.size() as isize;
            let now = LIVE.fetch_add(size, Ordering::Relaxed) + size;
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        if counted() {
            LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A runtime like `#[tokio::test(flavor = "multi_thread", worker_threads =
/// 2)]`'s whose threads, and the calling one, are counted.
fn counted_runtime() -> tokio::runtime::Runtime {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(|| COUNTED.with(|c| c.set(true)))
        .build()
        .expect("runtime");
    COUNTED.with(|c| c.set(true));
    rt
}

/// Starts measuring: the live bytes now, and the peak reset to them.
fn measure_from() -> isize {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    base
}

/// The peak of live bytes since [`measure_from`] returned `base`.
fn peak_above(base: isize) -> usize {
    (PEAK.load(Ordering::Relaxed) - base).max(0) as usize
}

const CHUNK: usize = 64 * 1024;

/// One realistic record (about 330 bytes), with personal data.
fn push_record(out: &mut Vec<u8>, i: u64) {
    use std::io::Write;
    let _ = write!(
        out,
        r#"{{"uuid":"{i:032x}","name":"Maria do Carmo {i}","phone_number":"55119{:08}","state":"{}","template_uuid":"70f4ddb6-ece1-4e13-ab90-3698d9d7{:04x}","template_name":"Template {}","campaign_uuid":"{CAMPAIGN_A}","inserted_at":"2024-09-05T12:00:00.000Z","conversation_fields":{{"CPF":"111.111.111-{:02}","perfil":"Pessoa F\u00edsica"}}}}"#,
        i % 100_000_000,
        STATES[(i % 6) as usize],
        i % 20,
        i % 20,
        i % 100
    );
}

/// The body `{"data":[...]}` of `n` records, generated chunk by chunk.
fn body_stream(n: u64) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> {
    futures_util::stream::unfold((0u64, false), move |(i, done)| async move {
        if done {
            return None;
        }
        let mut buf = Vec::with_capacity(CHUNK + 512);
        if i == 0 {
            buf.extend_from_slice(b"{\"data\":[");
        }
        let mut i = i;
        while i < n && buf.len() < CHUNK {
            if i > 0 {
                buf.push(b',');
            }
            push_record(&mut buf, i);
            i += 1;
        }
        let last = i >= n;
        if last {
            buf.extend_from_slice(b"],\"links\":{\"next\":null}}");
        }
        Some((Ok(Bytes::from(buf)), (i, last)))
    })
}

/// Serves `app` on a loopback port from a thread of its own, whose
/// allocations are not counted.
fn serve_uncounted(app: axum::Router) -> std::net::SocketAddr {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            axum::serve(listener, app).await
        })
    });
    addr
}

/// The real client of the upstream at `addr`, with extra flags.
fn client_of(addr: std::net::SocketAddr, flags: &[&str]) -> EvoluxClient {
    let url = format!("--evolux.url=http://{addr}");
    let mut argv = vec!["x", url.as_str(), "--evolux.timeout=5m"];
    argv.extend_from_slice(flags);
    let cli = Cli::try_parse_from(argv).unwrap();
    let config = Config::load_with_token(cli, Some("t".into())).unwrap();
    let metrics = SelfMetrics::new(1800.0).unwrap();
    EvoluxClient::new(
        &config.evolux,
        Arc::new(config.response.clone()),
        metrics.api.clone(),
    )
    .unwrap()
}

/// Polls `n` records through the real client; returns (records counted,
/// peak live heap bytes above the start of the poll).
async fn poll(client: &EvoluxClient, n: u64) -> (u64, usize) {
    let mut tally = Tally::new(Some(CAMPAIGN_A), 10_000);
    let params = vec![("campaigns[]", n.to_string())];
    let base = measure_from();
    let stats = client
        .run_query(&params, &mut tally)
        .await
        .expect("poll succeeds");
    let peak = peak_above(base);
    assert_eq!(stats.records, n);
    (tally.records, peak)
}

#[test]
fn a_million_records_need_no_more_memory_than_a_thousand() {
    let _alone = crate::ALONE.blocking_lock();
    counted_runtime().block_on(a_million_records());
}

async fn a_million_records() {
    let app = axum::Router::new().route(
        REPORT_PATH,
        get(
            |q: axum::extract::Query<Vec<(String, String)>>| async move {
                let n: u64 =
                    q.0.iter()
                        .find(|(k, _)| k == "campaigns[]")
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0);
                Body::from_stream(body_stream(n))
            },
        ),
    );
    let addr = serve_uncounted(app);
    let client = client_of(addr, &[]);

    // The HTTP stack's buffers (hyper's adaptive read buffer, at most about
    // 408 KiB, and the like) grow with how much of a body is in flight, up
    // to a fixed size: a short body may end before they are full, and a
    // busy machine, which reads the socket later, fills them further. What
    // must not happen is growth with the number of records: the peak is
    // under a fixed ceiling whatever the size, and 100 times the records
    // (10 000 to 1 000 000) add less than one such buffer.
    let mut peaks = Vec::new();
    for n in [1_000u64, 10_000, 100_000, 1_000_000] {
        let (count, peak) = poll(&client, n).await;
        assert_eq!(count, n);
        println!("peak heap above baseline while polling {n:>9} records: {peak:>9} B");
        peaks.push(peak);
    }
    const CEILING: usize = 2 << 20;
    for (n, peak) in [1_000, 10_000, 100_000, 1_000_000].iter().zip(&peaks) {
        assert!(
            *peak < CEILING,
            "{n} records peaked at {peak} B, over the {CEILING} B ceiling"
        );
    }
    let (p10k, p1m) = (peaks[1], peaks[3]);
    assert!(
        p1m <= p10k + (512 << 10),
        "1M records peaked at {p1m} B, 10k at {p10k} B: memory grows with the records"
    );
}

/// The same for gzip: a compressed body of 150 000 records (about 50 MB plain), and a gzip bomb
/// (256 MiB of nothing squeezed into a few hundred KiB) that must fail at
/// `--evolux.max-response-size` without inflating in memory.
#[test]
fn gzip_bodies_and_a_gzip_bomb_stay_within_the_same_memory() {
    let _alone = crate::ALONE.blocking_lock();
    // Built before counting starts.
    let bodies = gzip_bodies();
    counted_runtime().block_on(gzip_bodies_and_a_bomb(bodies));
}

/// A gzip body of 150 000 records, and a gzip bomb.
fn gzip_bodies() -> (Bytes, Bytes) {
    use std::io::Write;
    fn gzip(parts: &mut dyn FnMut(&mut dyn Write)) -> Bytes {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        parts(&mut enc);
        Bytes::from(enc.finish().unwrap())
    }
    {
        let records = gzip(&mut |w| {
            let mut buf = b"{\"data\":[".to_vec();
            for i in 0..150_000u64 {
                if i > 0 {
                    buf.push(b',');
                }
                push_record(&mut buf, i);
                if buf.len() > CHUNK {
                    w.write_all(&buf).unwrap();
                    buf.clear();
                }
            }
            buf.extend_from_slice(b"]}");
            w.write_all(&buf).unwrap();
        });
        let bomb = gzip(&mut |w| {
            w.write_all(b"{\"data\":[").unwrap();
            let spaces = vec![b' '; 1 << 20];
            for _ in 0..256 {
                w.write_all(&spaces).unwrap();
            }
            w.write_all(b"]}").unwrap();
        });
        (records, bomb)
    }
}

async fn gzip_bodies_and_a_bomb((records, bomb): (Bytes, Bytes)) {
    assert!(bomb.len() < 1 << 20, "the bomb is {} bytes", bomb.len());
    let app = axum::Router::new().route(
        REPORT_PATH,
        get(
            move |q: axum::extract::Query<Vec<(String, String)>>| async move {
                let body = if q.0.iter().any(|(k, v)| k == "campaigns[]" && v == "bomb") {
                    bomb
                } else {
                    records
                };
                (
                    [("content-encoding", "gzip")],
                    Body::from_stream(futures_util::stream::iter(
                        body.chunks(16 * 1024)
                            .map(|c| Ok::<_, std::io::Error>(Bytes::copy_from_slice(c)))
                            .collect::<Vec<_>>(),
                    )),
                )
            },
        ),
    );
    let addr = serve_uncounted(app);
    let client = client_of(addr, &["--evolux.max-response-size=64MiB"]);
    const CEILING: usize = 2 << 20;

    let mut tally = Tally::new(Some(CAMPAIGN_A), 10_000);
    let base = measure_from();
    let stats = client
        .run_query(&[("campaigns[]", "records".to_string())], &mut tally)
        .await
        .expect("the gzip body is read");
    let peak = peak_above(base);
    assert_eq!((stats.records, tally.records), (150_000, 150_000));
    println!("peak heap above baseline, 150 000 gzip records: {peak} B");
    assert!(peak < CEILING, "a gzip body peaked at {peak} B");

    let mut tally = Tally::new(Some(CAMPAIGN_A), 10_000);
    let base = measure_from();
    let err = client
        .run_query(&[("campaigns[]", "bomb".to_string())], &mut tally)
        .await
        .expect_err("the bomb fails");
    let peak = peak_above(base);
    println!("peak heap above baseline, gzip bomb: {peak} B ({err})");
    assert!(err.to_string().contains("max-response-size"), "{err}");
    assert!(peak < CEILING, "the bomb peaked at {peak} B");
}
