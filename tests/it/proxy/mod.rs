//! The API through an HTTP proxy (issue 21), against the real binary: a
//! CONNECT proxy written here, in front of an https API (a TLS terminator
//! before wiremock, with a test CA given by `--evolux.ca-file`) whose name,
//! `evolux.test`, only the proxy resolves, so counts prove the traffic went
//! through it. The child's environment is exactly what each test gives
//! (nothing of this process's), so `HTTPS_PROXY` and `NO_PROXY` are tested
//! as an operator sets them.

mod net;

use std::time::Duration;

use wiremock::MockServer;

use crate::mock_api::CAMPAIGN_B;
use crate::support::exporter::{Exporter, Running};
use crate::support::{CAMPAIGN_A, wait_for};
use net::{ConnectProxy, HOST, TlsFront};

/// The token: it must never show in what the proxy relays.
const TOKEN: &str = "tok-3f9a-never-in-clear";
/// The proxy's password: never shown or logged.
const PROXY_PASSWORD: &str = "pr0xy-s3cret";

/// An upstream that answers A with 3 records and B with 2, behind TLS.
async fn upstream() -> (MockServer, TlsFront) {
    let server = crate::conventions::upstream().await;
    let front = TlsFront::start(*server.address()).await;
    (server, front)
}

/// The exporter polling `api_url` for A and B once a minute (each read
/// whole), trusting the front's CA, with `extra` flags and `env`.
fn exporter(api_url: &str, front: &TlsFront, extra: &[String], env: &[(&str, &str)]) -> Exporter {
    let mut args = vec![
        format!("--evolux.url={api_url}"),
        format!("--evolux.ca-file={}", front.ca_file.display()),
        format!("--campaign={CAMPAIGN_A}"),
        format!("--campaign={CAMPAIGN_B}"),
        "--poll.interval=60s".into(),
        "--poll.max-interval=60s".into(),
        "--evolux.max-retries=0".into(),
    ];
    args.extend(extra.iter().cloned());
    env.iter().fold(
        Exporter::new().args(args).env("EVOLUX_TOKEN", TOKEN),
        |e, (k, v)| e.env(k, *v),
    )
}

/// The proxy carried at least one tunnel, and every one to the API.
fn assert_tunnelled_to_the_api(proxy: &ConnectProxy, front: &TlsFront) {
    let target = format!("{HOST}:{}", front.addr.port());
    let tunnels = proxy.tunnels();
    assert!(!tunnels.is_empty(), "no tunnel through the proxy");
    assert!(tunnels.iter().all(|t| t.target == target), "{tunnels:?}");
}

/// The first poll's counts are A 3 and B 2.
async fn assert_counts(exporter: &mut Running) {
    let m = exporter.scrape().await;
    assert_eq!(m.get("evolux_up", &[]), Some(1.0), "{}", m.0);
    assert_eq!(m.campaign_total(CAMPAIGN_A), 3.0, "{}", m.0);
    assert_eq!(m.campaign_total(CAMPAIGN_B), 2.0, "{}", m.0);
}

/// Every request wiremock got carried the token: the scan of the tunnels
/// looked at a stream that held it, encrypted.
async fn assert_token_reached_the_api(server: &MockServer) {
    let requests = server.received_requests().await.expect("recorded");
    assert!(!requests.is_empty());
    for r in requests {
        assert_eq!(
            r.headers.get("authorization").and_then(|v| v.to_str().ok()),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }
}

/// `EVOLUX_PROXY_URL` with credentials (a variable: an argument would show
/// them in `ps`): the counts are right though only the proxy can resolve
/// the API's name; every connection was a CONNECT to `evolux.test:<port>`
/// with the credentials as Proxy-Authorization and no Authorization; the
/// token never passed in clear; the status page and the logs show the
/// proxy without its credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_setting_tunnels_through_the_proxy_and_the_token_stays_encrypted() {
    let (server, front) = upstream().await;
    let proxy = ConnectProxy::start().await;
    let api = format!("https://{HOST}:{}", front.addr.port());
    let proxy_url = proxy.url(Some(&format!("ops:{PROXY_PASSWORD}")));
    let env = [("EVOLUX_PROXY_URL", proxy_url.as_str())];
    let mut running = exporter(&api, &front, &[], &env).start().await;
    assert_counts(&mut running).await;
    assert_token_reached_the_api(&server).await;

    let tunnels = proxy.tunnels();
    assert!(!tunnels.is_empty());
    assert_eq!(proxy.connections(), tunnels.len());
    let target = format!("{HOST}:{}", front.addr.port());
    // base64("ops:pr0xy-s3cret")
    let basic = "Basic b3BzOnByMHh5LXMzY3JldA==";
    for t in &tunnels {
        assert_eq!(t.target, target, "{t:?}");
        assert_eq!(t.header("proxy-authorization"), Some(basic), "{t:?}");
        assert_eq!(t.header("authorization"), None, "{t:?}");
        let sent = t.sent.lock().unwrap().clone();
        assert!(!sent.is_empty(), "nothing went through the tunnel");
        assert!(
            !sent.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
            "the token passed the proxy in clear"
        );
        // TLS records, not HTTP: a handshake record starts the stream.
        assert_eq!(sent[0], 0x16, "not a TLS handshake");
    }

    let page = running
        .http
        .get(running.url("/"))
        .send()
        .await
        .expect("status page")
        .text()
        .await
        .expect("body");
    let shown = format!(
        "API proxy: http://{} (from EVOLUX_PROXY_URL, credentials hidden)",
        proxy.addr
    );
    assert!(page.contains(&shown), "{page}");
    let logs = running.logs();
    assert!(
        logs.contains(&format!("proxy=\"{}", &shown[11..])),
        "{logs}"
    );
    for text in [&page, &logs] {
        assert!(!text.contains(PROXY_PASSWORD) && !text.contains("ops:"));
        assert!(!text.contains(TOKEN));
    }
}

/// `HTTPS_PROXY` from the environment alone does the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_proxy_from_the_environment_is_used() {
    let (_server, front) = upstream().await;
    let proxy = ConnectProxy::start().await;
    let api = format!("https://{HOST}:{}", front.addr.port());
    let proxy_url = proxy.url(None);
    let mut running = exporter(&api, &front, &[], &[("HTTPS_PROXY", &proxy_url)])
        .start()
        .await;
    assert_counts(&mut running).await;
    assert_tunnelled_to_the_api(&proxy, &front);
    assert!(
        proxy
            .tunnels()
            .iter()
            .all(|t| t.header("proxy-authorization").is_none())
    );
    assert!(
        running.logs().contains(&format!(
            "proxy=\"http://{} (from HTTPS_PROXY)\"",
            proxy.addr
        )),
        "{}",
        running.logs()
    );
}

/// An `https://` proxy: TLS to the proxy (its certificate from the same
/// test CA), CONNECT inside it, the API's TLS inside that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_proxy_is_spoken_to_over_tls() {
    let (_server, front) = upstream().await;
    let proxy = ConnectProxy::start_with(Some(front.acceptor.clone())).await;
    let api = format!("https://{HOST}:{}", front.addr.port());
    let flag = format!("--evolux.proxy-url={}", proxy.url(None));
    assert!(flag.contains("=https://"), "{flag}");
    let mut running = exporter(&api, &front, &[flag], &[]).start().await;
    assert_counts(&mut running).await;
    assert_tunnelled_to_the_api(&proxy, &front);
}

/// `--evolux.diagnose` reads through the proxy too, and says so without
/// the credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnose_reads_through_the_proxy() {
    let (_server, front) = upstream().await;
    let proxy = ConnectProxy::start().await;
    let api = format!("https://{HOST}:{}", front.addr.port());
    let proxy_url = proxy.url(Some(&format!("ops:{PROXY_PASSWORD}")));
    let env = [("EVOLUX_PROXY_URL", proxy_url.as_str())];
    let diagnose = exporter(&api, &front, &["--evolux.diagnose".to_string()], &env);
    let run = tokio::task::spawn_blocking(move || diagnose.run())
        .await
        .expect("the run");
    // The mock ignores start/end, so the verdict is not OK; what matters
    // here is that the reads went through: A's 3 records, B's 2.
    for read in ["HTTP 200", "read 3 records", "read 2 records"] {
        assert!(run.text.contains(read), "{read}: {}", run.text);
    }
    let endpoint = format!(
        "endpoint: {api}/api/v1/reports/campaign/subscribers (proxy: http://{} (from EVOLUX_PROXY_URL, credentials hidden))",
        proxy.addr
    );
    assert!(run.text.contains(&endpoint), "{}", run.text);
    assert!(!run.text.contains(PROXY_PASSWORD), "{}", run.text);
    assert_tunnelled_to_the_api(&proxy, &front);
}

/// `NO_PROXY` naming the API's host: straight to it, the proxy sees no
/// connection at all, though `HTTPS_PROXY` and the flag both name it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_proxy_naming_the_host_bypasses_the_proxy() {
    let (_server, front) = upstream().await;
    let proxy = ConnectProxy::start().await;
    let api = format!("https://127.0.0.1:{}", front.addr.port());
    let proxy_url = proxy.url(None);
    for (extra, env) in [
        (vec![], vec![("HTTPS_PROXY", proxy_url.as_str())]),
        (vec![format!("--evolux.proxy-url={proxy_url}")], vec![]),
    ] {
        let mut env = env;
        env.push(("NO_PROXY", "localhost,127.0.0.1"));
        let mut running = exporter(&api, &front, &extra, &env).start().await;
        assert_counts(&mut running).await;
        assert!(
            running
                .logs()
                .contains("proxy=\"none (NO_PROXY matches 127.0.0.1;"),
            "{}",
            running.logs()
        );
    }
    assert_eq!(proxy.connections(), 0, "{:?}", proxy.tunnels());
}

/// Only our resolution applies: `ALL_PROXY` (which reqwest would read by
/// itself) and `HTTP_PROXY` (for http:// APIs) name the proxy, and an
/// https API is still reached directly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variables_we_do_not_read_are_not_used() {
    let (_server, front) = upstream().await;
    let proxy = ConnectProxy::start().await;
    let api = format!("https://127.0.0.1:{}", front.addr.port());
    let proxy_url = proxy.url(None);
    let env = [
        ("ALL_PROXY", proxy_url.as_str()),
        ("HTTP_PROXY", &proxy_url),
    ];
    let mut running = exporter(&api, &front, &[], &env).start().await;
    assert_counts(&mut running).await;
    // No proxy setting applies: no proxy line.
    assert!(!running.logs().contains("API proxy"), "{}", running.logs());
    assert_eq!(proxy.connections(), 0, "{:?}", proxy.tunnels());
}

/// An http:// API URL with a proxy stops start-up, naming where the proxy
/// was set and the ways out; so do a scheme that is not HTTP and
/// credentials in the flag (which `ps` shows).
#[test]
fn a_proxy_for_an_http_api_or_a_socks_proxy_stops_start_up() {
    let cases = [
        (
            vec!["--evolux.url=http://acme.evolux.cx"],
            vec![("HTTP_PROXY", "http://127.0.0.1:3128")],
            "HTTP_PROXY: the API URL http://acme.evolux.cx/ is http://",
        ),
        (
            vec!["--evolux.url=http://acme.evolux.cx"],
            vec![("EVOLUX_PROXY_URL", "http://127.0.0.1:3128")],
            "EVOLUX_PROXY_URL: the API URL http://acme.evolux.cx/ is http://",
        ),
        (
            vec![
                "--evolux.url=http://acme.evolux.cx",
                "--evolux.proxy-url=http://127.0.0.1:3128",
            ],
            vec![],
            "--evolux.proxy-url: the API URL http://acme.evolux.cx/ is http://",
        ),
        (
            vec!["--evolux.url=https://acme.evolux.cx"],
            vec![("https_proxy", "socks5://127.0.0.1:1080")],
            "https_proxy: proxy scheme socks5:// is not supported",
        ),
        (
            vec![
                "--evolux.url=https://acme.evolux.cx",
                "--evolux.proxy-url=http://ops:pr0xy-s3cret@127.0.0.1:3128",
            ],
            vec![],
            "--evolux.proxy-url: the proxy URL holds a user name or password",
        ),
    ];
    for (args, env, expected) in cases {
        let exporter = env.iter().fold(
            Exporter::new()
                .args(args.clone())
                .env("EVOLUX_TOKEN", TOKEN),
            |e, (k, v)| e.env(k, *v),
        );
        let run = exporter.run();
        assert!(!run.success(), "{args:?} {env:?}: started\n{}", run.text);
        assert!(
            run.text.contains(expected),
            "{args:?} {env:?}:\n{}",
            run.text
        );
        if expected.contains("http://") {
            assert!(run.text.contains("https://") && run.text.contains("NO_PROXY"));
        }
        assert!(!run.text.contains(PROXY_PASSWORD), "{}", run.text);
    }
    // --demo ignores proxies: its upstream is in-process.
    let demo = Exporter::new()
        .args(["--demo", "--config.check"])
        .env("HTTP_PROXY", "http://127.0.0.1:3128")
        .env("HTTPS_PROXY", "http://127.0.0.1:3128")
        .run();
    assert!(demo.success(), "{}", demo.text);
    assert!(
        demo.text
            .contains("proxy:              none (--demo ignores proxies)")
    );
}

/// `--config.check` shows the proxy and its source, never the credentials.
#[test]
fn config_check_shows_the_proxy_without_credentials() {
    let run = Exporter::new()
        .args(["--evolux.url=https://acme.evolux.cx", "--config.check"])
        .env("EVOLUX_TOKEN", TOKEN)
        .env(
            "HTTPS_PROXY",
            format!("http://ops:{PROXY_PASSWORD}@proxy.corp:3128"),
        )
        .run();
    assert!(run.success(), "{}", run.text);
    assert!(
        run.text.contains(
            "  proxy:              http://proxy.corp:3128 (from HTTPS_PROXY, credentials hidden)\n"
        ),
        "{}",
        run.text
    );
    assert!(!run.text.contains(PROXY_PASSWORD) && !run.text.contains("ops"));
    let bypassed = Exporter::new()
        .args(["--evolux.url=https://acme.evolux.cx", "--config.check"])
        .env("EVOLUX_TOKEN", TOKEN)
        .env("HTTPS_PROXY", "http://proxy.corp:3128")
        .env("no_proxy", ".evolux.cx")
        .run();
    assert!(
        bypassed.text.contains(
            "  proxy:              none (no_proxy matches acme.evolux.cx; HTTPS_PROXY not used)\n"
        ),
        "{}",
        bypassed.text
    );
}

/// The proxy refuses the tunnel's target (a name it cannot resolve): the
/// read fails, and the exporter still answers, down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_that_cannot_reach_the_api_fails_the_read() {
    let (_server, front) = upstream().await;
    let proxy = ConnectProxy::start().await;
    let flag = format!("--evolux.proxy-url={}", proxy.url(None));
    let mut running = exporter("https://nowhere.invalid:1", &front, &[flag], &[])
        .start()
        .await;
    let m = running.scrape().await;
    assert_eq!(m.get("evolux_up", &[]), Some(0.0), "{}", m.0);
    wait_for(
        "the proxy to have seen the CONNECT",
        Duration::from_secs(5),
        || {
            std::future::ready(
                proxy
                    .tunnels()
                    .iter()
                    .any(|t| t.target == "nowhere.invalid:1"),
            )
        },
    )
    .await;
}
