//! Slow, stalled, oversized, odd and deaf clients, and SIGTERM beside them.

use tokio::io::AsyncReadExt;
use tokio::net::TcpSocket;

use super::*;
use crate::raw_http::wait_closed;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_do_not_delay_scrapes_and_stalled_ones_are_closed() {
    let _alone = crate::ALONE.lock().await;
    let mut t = Target::start().await;
    let addr = t.addr;

    // 100 connections with half a request line, then nothing.
    let mut stalled = stalled_connections(addr, 100).await;

    // A client that drips its headers, one byte every 500 ms: a per-read
    // timeout does not catch it, a timeout on the whole head does.
    let dripper = tokio::spawn(async move {
        let opened = Instant::now();
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (mut rd, mut wr) = stream.into_split();
        wr.write_all(b"GET /metrics HTTP/1.1\r\nHost: exporter\r\nX-Drip: ")
            .await
            .expect("write");
        let mut buf = [0u8; 1024];
        let deadline = tokio::time::Instant::now() + STALLED_CLOSED_WITHIN + Duration::from_secs(1);
        loop {
            tokio::select! {
                r = rd.read(&mut buf) => match r {
                    Ok(0) | Err(_) => return Some(opened.elapsed()),
                    Ok(_) => {} // e.g. a 408 before the close
                },
                _ = tokio::time::sleep(Duration::from_millis(500)) => {
                    if wr.write_all(b"a").await.is_err() {
                        return Some(opened.elapsed());
                    }
                }
                _ = tokio::time::sleep_until(deadline) => return None,
            }
        }
    });

    // A client that reads its response one byte every 50 ms, through a
    // small receive buffer.
    let slow_reader = tokio::spawn(async move {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(2048).expect("SO_RCVBUF");
        let mut stream = socket.connect(addr).await.expect("connect");
        stream
            .write_all(b"GET /metrics HTTP/1.1\r\nHost: exporter\r\nConnection: close\r\n\r\n")
            .await
            .expect("write");
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        let until = Instant::now() + Duration::from_secs(5);
        while Instant::now() < until {
            match stream.read(&mut byte).await {
                Ok(0) | Err(_) => break,
                Ok(_) => got.push(byte[0]),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        got
    });

    // Meanwhile, scrapes are answered promptly, for 5 s.
    let mut latencies = Vec::new();
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        latencies.push(t.assert_scrape(PROMPT, "while slow clients hang on").await);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "{} scrapes beside 100 stalled connections, a dripper and a slow reader: p50 {:?}, max {:?}",
        latencies.len(),
        percentile(&mut latencies, 50),
        percentile(&mut latencies, 100)
    );

    let slow = slow_reader.await.expect("slow reader");
    assert!(
        slow.starts_with(b"HTTP/1.1 200"),
        "the slow reader got {:?}",
        String::from_utf8_lossy(&slow)
    );
    println!("the slow reader read {} bytes in 5 s", slow.len());

    // The stalled connections are closed by the server.
    let mut still_open = 0;
    let mut closed_after = Vec::new();
    for (stream, opened) in stalled.iter_mut() {
        let deadline = tokio::time::Instant::from_std(*opened + STALLED_CLOSED_WITHIN);
        let (_, closed) = wait_closed(stream, deadline).await;
        if closed {
            closed_after.push(opened.elapsed());
        } else {
            still_open += 1;
        }
    }
    let dripped = dripper.await.expect("dripper");
    println!(
        "stalled connections closed by the server: {} of 100 (after {:?} to {:?}); the dripper: {dripped:?}",
        closed_after.len(),
        closed_after.iter().min(),
        closed_after.iter().max()
    );
    assert_eq!(
        still_open, 0,
        "{still_open} of 100 connections stalled in the request line were still open {STALLED_CLOSED_WITHIN:?} after they were opened"
    );
    assert!(
        dripped.is_some(),
        "a client dripping its headers one byte every 500 ms was still connected after {STALLED_CLOSED_WITHIN:?}"
    );
    drop(stalled);
    t.assert_healthy("after the slow clients").await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_request_heads_are_refused_without_memory_growth() {
    let _alone = crate::ALONE.lock().await;
    let mut t = Target::start().await;

    // A head well under any sane limit is served.
    let served = expect_200(t.addr, &big_header_value(8 * 1024), "8 KiB header").await;
    assert!(same_scrape(&served, &t.metrics, false), "8 KiB header");

    let before = t.exporter.stats();
    let one_mib = Arc::new(big_header_value(1 << 20));
    let ten_thousand = Arc::new(many_headers(10_000));
    for round in 0..3 {
        let (a, c) = refused_requests(t.addr, one_mib.clone(), 20, &[431], "1 MiB header").await;
        println!("round {round}: 20 × 1 MiB header value: {a} answered 431, {c} closed");
        let (a, c) =
            refused_requests(t.addr, ten_thousand.clone(), 20, &[431], "10 000 headers").await;
        println!("round {round}: 20 × 10 000 headers: {a} answered 431, {c} closed");
        t.assert_scrape(Duration::from_secs(5), "between oversized heads")
            .await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = t.exporter.stats();
    println!("exporter before: {before}; after 120 oversized heads: {after}");
    assert!(
        after.rss_kb < before.rss_kb + RSS_GROWTH_LIMIT_KB,
        "RSS grew from {before} to {after} over 120 oversized request heads"
    );
    t.assert_healthy("after the oversized heads").await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_methods_paths_and_garbage_get_4xx_and_the_server_keeps_serving() {
    let _alone = crate::ALONE.lock().await;
    let mut t = Target::start().await;
    let failures = send_odd_requests(&t).await;

    // GETs of the metrics that are odd but valid are served.
    for (what, request) in [
        ("a query string", get("/metrics?x=1&y=%00")),
        (
            "HTTP/1.0 without Host",
            b"GET /metrics HTTP/1.0\r\n\r\n".to_vec(),
        ),
        ("an 8 KB query string", long_path(8 * 1024, "/metrics?q=")),
    ] {
        let body = expect_200(t.addr, &request, what).await;
        assert!(same_scrape(&body, &t.metrics, false), "{what}");
    }

    // Pipelined requests are answered in order on one connection.
    let mut stream = BufReader::new(TcpStream::connect(t.addr).await.expect("connect"));
    stream
        .get_mut()
        .write_all(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await
        .expect("write");
    let mut pipelined = Vec::new();
    for _ in 0..3 {
        let r = tokio::time::timeout(Duration::from_secs(10), read_response(&mut stream, "GET"))
            .await
            .expect("pipelined response in time")
            .expect("pipelined response")
            .expect("a response, not EOF");
        pipelined.push(r);
    }
    assert_eq!(
        pipelined.iter().map(|r| r.status).collect::<Vec<_>>(),
        [200, 200, 404]
    );
    assert_eq!(pipelined[0].body, b"OK\n");
    assert!(same_scrape(&pipelined[1].body, &t.metrics, false));

    assert!(
        failures.is_empty(),
        "{} odd requests got the wrong answer:\n{}",
        failures.len(),
        failures.join("\n")
    );
    t.assert_healthy("after the odd requests").await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_is_not_held_up_by_stalled_clients() {
    let _alone = crate::ALONE.lock().await;
    let t = Target::start().await;
    let _stalled = stalled_connections(t.addr, 20).await;
    let _idle: Vec<TcpStream> = {
        let mut v = Vec::new();
        for _ in 0..20 {
            v.push(TcpStream::connect(t.addr).await.expect("connect"));
        }
        v
    };
    // Let the server pick them up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopped = t.exporter.stop(Duration::from_secs(15)).await;
    println!(
        "exit {} {:?} after SIGTERM with 20 stalled and 20 idle connections",
        stopped.status, stopped.took
    );
    assert!(stopped.status.success(), "{}", stopped.logs);
    assert!(
        stopped.took < Duration::from_secs(12),
        "shutdown took {:?} with stalled clients",
        stopped.took
    );
}

/// Clients that send many pipelined requests and never read the answers:
/// once the socket buffers are full the server's writes stall, and the
/// write-stall timeout (10 s) ends the connection, so such clients cannot
/// hold connection slots for ever. Meanwhile scrapes are answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_never_read_are_cut_off() {
    let _alone = crate::ALONE.lock().await;
    let mut t = Target::start().await;
    let per_connection = 5000usize;
    let request = b"GET /metrics HTTP/1.1\r\nHost: exporter\r\n\r\n".repeat(per_connection);
    let full = per_connection * t.metrics.len();
    let mut deaf = Vec::new();
    for _ in 0..20 {
        let mut stream = TcpStream::connect(t.addr).await.expect("connect");
        stream
            .write_all(&request)
            .await
            .expect("pipelined requests");
        deaf.push(stream);
    }
    let opened = Instant::now();
    t.assert_healthy("while 20 clients do not read").await;

    tokio::time::sleep_until((opened + STALLED_CLOSED_WITHIN).into()).await;
    for (i, stream) in deaf.iter_mut().enumerate() {
        // Drain what the kernel holds; then the server's close must show.
        let mut got = 0usize;
        let mut buf = vec![0u8; 1 << 16];
        let closed = loop {
            match tokio::time::timeout(Duration::from_secs(3), stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break true,
                Ok(Ok(n)) => got += n,
                Err(_) => break false,
            }
        };
        assert!(
            closed,
            "connection {i} still open {:?} after it stopped reading ({got} bytes waiting)",
            opened.elapsed()
        );
        assert!(
            got < full,
            "connection {i} got all {per_connection} answers ({got} bytes): the writes never stalled, the test proves nothing"
        );
    }
    t.assert_healthy("after the deaf clients").await;
    t.stop().await;
}
