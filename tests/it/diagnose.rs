//! `--evolux.diagnose` run as the binary against wiremock servers: a good
//! one (paged, honouring `start`/`end`), a body without records, a refused
//! token, and a server that ignores `start`/`end`. The records carry names,
//! phones, CPFs and custom fields; none of them, nor the token, may show in
//! what the binary prints.
//!
//! [`run_diagnose`] and [`Paged`] are meant for reuse: a test of another
//! server shape mounts its own responder and calls `run_diagnose`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::mock_api::any_report;
use crate::support::exporter::Exporter;
use crate::support::{CAMPAIGN_A, TEMPLATE_1};

/// The token the binary is given; it must never be printed.
pub const TOKEN: &str = "diag-s3cret-token-4711";

/// Personal values the test records carry; none may be printed.
pub const PERSONAL: [&str; 6] = [
    "Maria da Silva",
    "+5511987654321",
    "5511987654321",
    "123.456.789-09",
    "12345678909",
    "Rua das Flores",
];

/// Runs `evolux-exporter --evolux.diagnose --evolux.url=<server>` with
/// `args` and `EVOLUX_TOKEN` set to [`TOKEN`]; returns its exit code, stdout
/// and stderr. Fails the test if any personal value or the token shows in
/// either.
pub async fn run_diagnose(server: &MockServer, args: &[&str]) -> (i32, String, String) {
    let mut all = vec![
        "--evolux.diagnose".to_string(),
        format!("--evolux.url={}", server.uri()),
    ];
    all.extend(args.iter().map(ToString::to_string));
    let mut cmd = Exporter::new()
        .args(all)
        .env("EVOLUX_TOKEN", TOKEN)
        .command();
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("the run task")
        .expect("run the exporter binary");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    for secret in PERSONAL.iter().chain([&TOKEN]) {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{secret:?} printed:\n{stdout}\n--- stderr ---\n{stderr}"
        );
    }
    (out.status.code().unwrap_or(-1), stdout, stderr)
}

/// A record as a server might send it: counted fields, and personal data
/// in plain and custom fields.
pub fn personal_record(state: &str, at_ms: i64) -> Value {
    json!({
        "uuid": "0d3c2b1a-0000-4000-8000-000000000001",
        "name": "Maria da Silva",
        "phone_number": "+5511987654321",
        "cpf": "123.456.789-09",
        "state": state,
        "template_uuid": TEMPLATE_1,
        "campaign_uuid": CAMPAIGN_A,
        "inserted_at": at_ms,
        "conversation_fields": {
            "CPF": "12345678909",
            "endereco": "Rua das Flores 12",
            "telefone": "5511987654321",
        },
    })
}

/// A paged report server over subscribers with insertion instants:
/// `start`/`end` applied inclusively (unless told to ignore them), pages
/// of `page_size` under `records_key` (`data` when empty) linked by
/// `links.next` with a `page` parameter.
#[derive(Clone, Default)]
pub struct Paged {
    /// (insertion ms, state) of each subscriber.
    pub subs: Arc<Mutex<Vec<(i64, &'static str)>>>,
    pub page_size: usize,
    pub records_key: &'static str,
    pub ignore_range: Arc<AtomicBool>,
    /// Each request's query string, as it arrived.
    pub queries: Arc<Mutex<Vec<String>>>,
}

impl Respond for Paged {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let get = |k: &str| {
            request
                .url
                .query_pairs()
                .find(|(qk, _)| qk == k)
                .map(|(_, v)| v.into_owned())
        };
        self.queries
            .lock()
            .unwrap()
            .push(request.url.query().unwrap_or("").to_string());
        let ms = |v: String| {
            chrono::DateTime::parse_from_rfc3339(&v)
                .expect("start/end are RFC 3339")
                .timestamp_millis()
        };
        let ignore = self.ignore_range.load(Ordering::SeqCst);
        let start = get("start").map(ms).filter(|_| !ignore);
        let end = get("end").map(ms).filter(|_| !ignore);
        let page: usize = get("page").map_or(1, |p| p.parse().expect("a page number"));
        let matching: Vec<Value> = self
            .subs
            .lock()
            .unwrap()
            .iter()
            .filter(|(at, _)| start.is_none_or(|s| *at >= s) && end.is_none_or(|e| *at <= e))
            .map(|(at, state)| personal_record(state, *at))
            .collect();
        let from = (page - 1) * self.page_size;
        let records: Vec<&Value> = matching.iter().skip(from).take(self.page_size).collect();
        let next = (from + self.page_size < matching.len()).then(|| {
            let mut url = request.url.clone();
            let kept: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(k, _)| k != "page")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            url.query_pairs_mut()
                .clear()
                .extend_pairs(kept)
                .append_pair("page", &(page + 1).to_string());
            // Relative: wiremock's request URL names the Host header's host.
            format!("{}?{}", url.path(), url.query().unwrap_or(""))
        });
        let key = if self.records_key.is_empty() {
            "data"
        } else {
            self.records_key
        };
        let mut body = json!({ "links": { "next": next }, "count": matching.len() });
        body[key] = json!(records);
        ResponseTemplate::new(200).set_body_json(body)
    }
}

/// 25 subscribers in mixed states, 12 of them inserted in the last hour
/// (none within a minute of now, none near the hour's edge).
fn populated(page_size: usize) -> (Paged, [u64; 3]) {
    let now = chrono::Utc::now().timestamp_millis();
    let states = ["sent", "completed", "error"];
    let mut per_state = [0u64; 3];
    let paged = Paged {
        page_size,
        ..Paged::default()
    };
    for i in 0..25 {
        let back = if i < 12 {
            (2 + 4 * i as i64) * 60_000
        } else {
            (3 + i as i64) * 3_600_000
        };
        paged.subs.lock().unwrap().push((now - back, states[i % 3]));
        per_state[i % 3] += 1;
    }
    (paged, per_state)
}

async fn serve(responder: impl Respond + 'static) -> MockServer {
    let server = MockServer::start().await;
    any_report().respond_with(responder).mount(&server).await;
    server
}

#[tokio::test]
async fn a_good_paged_server_that_honours_start_and_end_passes() {
    let (paged, per_state) = populated(10);
    let server = serve(paged.clone()).await;
    let (code, out, err) = run_diagnose(&server, &[&format!("--campaign={CAMPAIGN_A}")]).await;
    assert_eq!(code, 0, "{out}\n--- stderr ---\n{err}");
    assert!(out.contains(&format!("campaign {CAMPAIGN_A}")), "{out}");
    assert!(out.contains("read 25 records, 0 invalid"), "{out}");
    assert!(out.contains("3 pages read"), "{out}");
    let counts = format!(
        "counts           pending 0, scheduled 0, sent {}, dnd 0, completed {}, error {}; 1 template",
        per_state[0], per_state[1], per_state[2]
    );
    assert!(out.contains(&counts), "{counts:?} missing from\n{out}");
    assert!(out.contains("whole 12: they tile"), "{out}");
    assert!(
        out.contains("cpf, inserted_at, name, phone_number, state*"),
        "{out}"
    );
    assert!(out.contains("verdict          OK"), "{out}");
    assert!(out.contains("overall: OK"), "{out}");
    assert!(out.contains("no cap seen"), "{out}");
    // The whole read, the cap check's halves (split again while one holds
    // every record, up to 16 times), and the hour's two halves and whole:
    // each a first page without a page parameter; the rest are its pages.
    let queries = paged.queries.lock().unwrap().clone();
    let firsts = queries.iter().filter(|q| !q.contains("page=")).count();
    let levels = (firsts - 4) / 2;
    assert!(
        firsts >= 6 && firsts % 2 == 0 && levels <= 16,
        "{firsts} first pages: {queries:#?}"
    );
    assert!(
        queries.iter().all(|q| q.contains("campaigns%5B%5D=")),
        "{queries:#?}"
    );
}

#[tokio::test]
async fn a_body_without_records_fails_naming_its_top_level_keys() {
    let body = json!({
        "count": 2,
        "results_x": [personal_record("sent", 0), personal_record("error", 0)],
    });
    let server = serve(ResponseTemplate::new(200).set_body_json(body)).await;
    let (code, out, err) = run_diagnose(&server, &[&format!("--campaign={CAMPAIGN_A}")]).await;
    assert_eq!(code, 1, "{out}\n--- stderr ---\n{err}");
    assert!(out.contains("count") && out.contains("results_x"), "{out}");
    assert!(out.contains("set response.records"), "{out}");
    assert!(out.contains("verdict          NOT OK"), "{out}");
    assert!(out.contains("overall: NOT OK"), "{out}");
}

#[tokio::test]
async fn a_refused_token_fails_and_says_to_check_the_token() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    // Discovery: no campaign configured.
    let (code, out, err) = run_diagnose(&server, &[]).await;
    assert_eq!(code, 1, "{out}\n--- stderr ---\n{err}");
    assert!(out.contains("discovery"), "{out}");
    assert!(out.contains("the read failed (auth): HTTP 401"), "{out}");
    assert!(out.contains("check the token: EVOLUX_TOKEN"), "{out}");
    // A failed read is not followed by the start/end check.
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_server_that_ignores_start_and_end_fails_the_tiling_check() {
    let (paged, _) = populated(10);
    paged.ignore_range.store(true, Ordering::SeqCst);
    let server = serve(paged).await;
    let (code, out, err) = run_diagnose(&server, &[&format!("--campaign={CAMPAIGN_A}")]).await;
    assert_eq!(code, 1, "{out}\n--- stderr ---\n{err}");
    assert!(
        out.contains("halves 25 + 25 = 50, whole 25: they do NOT tile"),
        "{out}"
    );
    assert!(out.contains("start/end do not tile"), "{out}");
    assert!(out.contains("--poll.max-interval"), "{out}");
    // The whole read itself was fine.
    assert!(out.contains("read 25 records, 0 invalid"), "{out}");
}

#[tokio::test]
async fn the_fix_it_names_goes_in_the_config_file_the_next_run_reads() {
    let (mut paged, _) = populated(10);
    paged.records_key = "results_x";
    let server = serve(paged).await;
    let campaign = format!("--campaign={CAMPAIGN_A}");
    let (code, out, _) = run_diagnose(&server, &[&campaign]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("\"results_x\" (array)"), "{out}");
    assert!(out.contains("set response.records"), "{out}");

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("evolux.yml");
    std::fs::write(&file, "response:\n  records: /results_x\n").expect("write the config file");
    let config = format!("--config.file={}", file.display());
    let (code, out, err) = run_diagnose(&server, &[&campaign, &config]).await;
    assert_eq!(code, 0, "{out}\n--- stderr ---\n{err}");
    assert!(out.contains("read 25 records, 0 invalid"), "{out}");
    assert!(out.contains("verdict          OK"), "{out}");
}
