//! Many scrapes at once, keep-alive clients hammering, and what the
//! exporter's resources do under all the abuse.

use super::*;
use crate::proc_stats::ProcStats;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_concurrent_scrapes_are_all_answered() {
    let _alone = crate::ALONE.lock().await;
    let mut t = Target::start().await;
    let before = t.exporter.stats();
    concurrent_scrapes(&t, 500, Duration::from_secs(30)).await;
    // And again, on the same server.
    concurrent_scrapes(&t, 500, Duration::from_secs(30)).await;
    let after = t.exporter.stats();
    println!("exporter before: {before}; after: {after}");
    t.assert_healthy("after 2 × 500 concurrent scrapes").await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_keep_alive_clients_hammering_are_all_answered() {
    let _alone = crate::ALONE.lock().await;
    let mut t = Target::start().await;
    const CLIENTS: usize = 50;
    const FOR: Duration = Duration::from_secs(4);
    let until = Instant::now() + FOR;
    let reference = Arc::new((t.metrics.clone(), t.metrics_gzip.clone()));
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let addr = t.addr;
            let reference = reference.clone();
            tokio::spawn(async move {
                let gzip = i % 2 == 1;
                let request: &[u8] = if gzip {
                    b"GET /metrics HTTP/1.1\r\nHost: exporter\r\nAccept-Encoding: gzip\r\n\r\n"
                } else {
                    b"GET /metrics HTTP/1.1\r\nHost: exporter\r\n\r\n"
                };
                let expected = if gzip { &reference.1 } else { &reference.0 };
                let (mut requests, mut connections) = (0usize, 0usize);
                let mut latencies = Vec::new();
                let mut conn: Option<BufReader<TcpStream>> = None;
                while Instant::now() < until {
                    if conn.is_none() {
                        let s = TcpStream::connect(addr)
                            .await
                            .map_err(|e| format!("client {i}: connect: {e}"))?;
                        connections += 1;
                        conn = Some(BufReader::new(s));
                    }
                    let c = conn.as_mut().expect("connected");
                    let sent = Instant::now();
                    c.get_mut().write_all(request).await.map_err(|e| {
                        format!("client {i}, request {requests} on a kept-alive connection: write: {e}")
                    })?;
                    let resp = tokio::time::timeout(Duration::from_secs(10), read_response(c, "GET"))
                        .await
                        .map_err(|_| format!("client {i}, request {requests}: no response in 10 s"))?
                        .map_err(|e| format!("client {i}, request {requests}: {e}"))?
                        .ok_or_else(|| {
                            format!(
                                "client {i}, request {requests}: the server closed a kept-alive connection without a response or Connection: close"
                            )
                        })?;
                    latencies.push(sent.elapsed());
                    requests += 1;
                    if resp.status != 200 || !same_scrape(&resp.body, expected, gzip) {
                        return Err(format!(
                            "client {i}, request {requests}: HTTP {} with {} bytes, expected 200 with {} bytes",
                            resp.status,
                            resp.body.len(),
                            expected.len()
                        ));
                    }
                    if resp.closes() {
                        conn = None;
                    }
                }
                Ok::<_, String>((requests, connections, latencies))
            })
        })
        .collect();
    let results = tokio::time::timeout(
        FOR + Duration::from_secs(30),
        futures_util::future::join_all(tasks),
    )
    .await
    .expect("the keep-alive clients finish");
    let (mut requests, mut connections, mut latencies) = (0, 0, Vec::new());
    let mut failures = Vec::new();
    for r in results {
        match r.expect("client task") {
            Ok((n, c, l)) => {
                requests += n;
                connections += c;
                latencies.extend(l);
            }
            Err(e) => failures.push(e),
        }
    }
    println!(
        "{CLIENTS} keep-alive clients: {requests} requests on {connections} connections in {FOR:?}; p50 {:?}, p99 {:?}, max {:?}",
        percentile(&mut latencies, 50),
        percentile(&mut latencies, 99),
        percentile(&mut latencies, 100)
    );
    assert!(
        failures.is_empty(),
        "{} of {CLIENTS} clients failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(
        requests >= CLIENTS * 5,
        "only {requests} requests answered in {FOR:?}"
    );
    assert!(
        connections * 2 <= requests,
        "keep-alive not honoured: {requests} requests needed {connections} connections"
    );
    t.assert_healthy("after the keep-alive clients").await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_fds_and_threads_stay_bounded_under_abuse() {
    let _alone = crate::ALONE.lock().await;
    let mut t = Target::start().await;
    // Warm up: the allocator's arenas and the runtime's threads.
    concurrent_scrapes(&t, 100, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = t.exporter.stats();

    let one_mib = Arc::new(big_header_value(1 << 20));
    let ten_thousand = Arc::new(many_headers(10_000));
    let mut peak = before;
    for round in 0..3 {
        concurrent_scrapes(&t, 500, Duration::from_secs(30)).await;
        let stalled = stalled_connections(t.addr, 100).await;
        refused_requests(t.addr, one_mib.clone(), 50, &[431], "1 MiB header").await;
        refused_requests(t.addr, ten_thousand.clone(), 20, &[431], "10 000 headers").await;
        // Whether each is answered right is the odd-requests test's business.
        let failures = send_odd_requests(&t).await;
        if !failures.is_empty() {
            println!(
                "round {round}: {} odd requests answered wrong",
                failures.len()
            );
        }
        let during = t.exporter.stats();
        println!("round {round}, with 100 stalled connections open: {during}");
        peak.rss_kb = peak.rss_kb.max(during.rss_kb);
        drop(stalled); // closed by us
    }

    // Once the clients are gone, the fds go back to where they were.
    let started = Instant::now();
    let mut after = t.exporter.stats();
    while after.fds > before.fds + 2 && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        after = t.exporter.stats();
    }
    println!(
        "exporter before: {before}; peak RSS {:.1} MiB; after (clients gone): {after}",
        peak.rss_mib()
    );
    assert!(
        after.rss_kb < before.rss_kb + RSS_GROWTH_LIMIT_KB,
        "RSS grew from {before} to {after} under abuse"
    );
    assert!(
        after.fds <= before.fds + 2,
        "open fds went from {} to {} and stayed there after the clients left",
        before.fds,
        after.fds
    );
    assert!(
        after.threads <= before.threads + 2,
        "threads went from {} to {}",
        before.threads,
        after.threads
    );
    t.assert_healthy("after the abuse").await;
    t.stop().await;
}

/// `ProcStats` is read from `/proc`: make sure it means what the tests
/// think on this machine (the test process itself has threads and fds).
#[test]
fn proc_stats_of_this_process_are_plausible() {
    let s = ProcStats::of(std::process::id());
    assert!(s.rss_kb > 100, "{s}");
    assert!(s.threads >= 1, "{s}");
    assert!(s.fds >= 3, "{s}");
}
