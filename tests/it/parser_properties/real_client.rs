//! (c) Through the real client, against a local upstream.

use super::*;

/// What the local upstream serves (each page as a list of chunks) and the
/// pages it was asked for.
#[derive(Default)]
struct Served {
    pages: Vec<Vec<Bytes>>,
    requested: Vec<usize>,
}

/// Serves page `?page=N` (0 without the parameter), streamed chunk by chunk.
async fn start_upstream(served: Arc<Mutex<Served>>) -> String {
    let app = axum::Router::new().route(
        REPORT_PATH,
        get(move |Query(q): Query<Vec<(String, String)>>| {
            let served = served.clone();
            async move {
                let page = q
                    .iter()
                    .find(|(k, _)| k == "page")
                    .and_then(|(_, v)| v.parse::<usize>().ok())
                    .unwrap_or(0);
                let chunks = {
                    let mut s = served.lock().expect("served lock");
                    s.requested.push(page);
                    s.pages.get(page).cloned()
                };
                match chunks {
                    Some(chunks) => (
                        [(CONTENT_TYPE, "application/json")],
                        Body::from_stream(futures_util::stream::iter(
                            chunks.into_iter().map(Ok::<_, Infallible>),
                        )),
                    )
                        .into_response(),
                    None => StatusCode::NOT_FOUND.into_response(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let origin = format!("http://{}", listener.local_addr().expect("local addr"));
    // No Nagle: each chunk leaves at once, and small chunks do not wait on
    // delayed ACKs.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    origin
}

/// The pagination the scanner-level property checks by `PageEnd::next`,
/// done by the real client: path and absolute next links, escaped, are
/// resolved and followed, each page's chunks streamed as they come.
#[test]
fn the_real_client_follows_the_pages_and_counts_them() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let served = Arc::new(Mutex::new(Served::default()));
    let origin = rt.block_on(start_upstream(served.clone()));
    let cli = Cli::try_parse_from([
        "evolux-exporter",
        &format!("--evolux.url={origin}"),
        "--evolux.timeout=10s",
        "--evolux.max-rps=100000",
        "--evolux.max-retries=0",
    ])
    .expect("arguments parse");
    let config = Config::load_with_token(cli, Some("t".into())).expect("config");
    let metrics = SelfMetrics::new(1800.0).expect("self-metrics");
    let client = EvoluxClient::new(
        &config.evolux,
        Arc::new(config.response.clone()),
        metrics.api.clone(),
    )
    .expect("client");

    let mut runner = TestRunner::new(proptest_config(96));
    let strategy = (pages(), sizes(64));
    let result = runner.run(&strategy, |(pages, sizes)| {
        let bodies = bodies(&pages, &origin);
        let expected = expected_run(&reference_pages(&bodies)?);
        let mut turn = 0;
        let chunked: Vec<Vec<Bytes>> = bodies
            .iter()
            .map(|(b, _)| {
                split(b, &Chunking::Sizes(sizes.clone()), &mut turn)
                    .into_iter()
                    .filter(|c| !c.is_empty())
                    .map(Bytes::copy_from_slice)
                    .collect()
            })
            .collect();
        *served.lock().expect("served lock") = Served {
            pages: chunked,
            requested: Vec::new(),
        };
        let mut tally = Tally::new(None, MAX_SERIES);
        let params = [("campaigns[]", FIXED.to_string())];
        let stats = rt
            .block_on(client.run_query(&params, &mut tally))
            .map_err(|e| TestCaseError::fail(format!("the query failed: {e}")))?;
        let requested = std::mem::take(&mut served.lock().expect("served lock").requested);
        prop_assert_eq!(requested, (0..pages.len()).collect::<Vec<_>>());
        prop_assert_eq!(stats.pages, pages.len());
        let records: u64 = expected.ends.iter().map(|e| e.records).sum();
        let invalid: u64 = expected.ends.iter().map(|e| e.invalid).sum();
        prop_assert_eq!((stats.records, stats.invalid), (records, invalid));
        let bytes: usize = bodies.iter().map(|(b, _)| b.len()).sum();
        prop_assert_eq!(stats.bytes, bytes as u64);
        prop_assert_eq!(summarize(tally, false), expected.discovery);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
