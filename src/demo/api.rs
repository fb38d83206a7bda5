//! The demo's HTTP side: the report endpoint, its filters applied exactly
//! as the API document gives them, pagination, and gzip when asked.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use flate2::Compression;
use flate2::write::GzEncoder;
use tokio::net::TcpListener;

use super::{
    CAMPAIGNS, DEMO_TOKEN, DemoOptions, PERFIL_PF, PERFIL_PJ, Subscriber, TEMPLATES, perfil,
    personal, subscribers_at,
};

/// The demo server's state.
struct Demo {
    epoch: SystemTime,
    options: DemoOptions,
}

impl Demo {
    fn sim_seconds(&self, now: SystemTime) -> f64 {
        now.duration_since(self.epoch)
            .unwrap_or_default()
            .as_secs_f64()
            * self.options.speed
    }

    /// The millisecond (since the Unix epoch) of a simulated instant: the
    /// API's resolution, which `start` and `end` are compared at.
    fn wall_millis(&self, sim_s: f64) -> i64 {
        let real = sim_s / self.options.speed;
        let epoch = self
            .epoch
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        ((epoch + real) * 1000.0).floor() as i64
    }
}

/// The demo server, bound to a loopback port.
pub struct DemoServer {
    /// Where it listens.
    pub addr: SocketAddr,
    handle: tokio::task::JoinHandle<()>,
}

impl DemoServer {
    /// Binds 127.0.0.1 on a free port and serves the simulated API in the background.
    pub async fn start(options: DemoOptions) -> std::io::Result<DemoServer> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let app = router(options);
        let handle = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "demo upstream stopped");
            }
        });
        Ok(DemoServer { addr, handle })
    }

    /// The base URL to give the client.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// The demo API's router.
pub fn router(options: DemoOptions) -> Router {
    let demo = Arc::new(Demo {
        epoch: SystemTime::now(),
        options,
    });
    Router::new()
        .route("/api/v1/reports/campaign/subscribers", get(report))
        .with_state(demo)
}

/// The documented filters of one request.
#[derive(Default)]
struct Filter {
    campaigns: Vec<String>,
    state: Option<String>,
    template: Option<String>,
    start: Option<String>,
    end: Option<String>,
    timezone: Option<String>,
    phone_number: Option<String>,
    name: Option<String>,
    field_key: Option<String>,
    field_value: Option<String>,
    page: usize,
    at: Option<f64>,
}

/// A filter with its dates read: inclusive milliseconds.
struct Bounds {
    start: Option<i64>,
    end: Option<i64>,
}

fn parse_filter(query: &str) -> Filter {
    let mut f = Filter::default();
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        let v = Some(v.into_owned());
        match k.as_ref() {
            "campaigns[]" => f.campaigns.extend(v),
            "state" => f.state = v,
            "template_uuid" => f.template = v,
            "start" => f.start = v,
            "end" => f.end = v,
            "timezone" => f.timezone = v,
            "phone_number" => f.phone_number = v,
            "name" => f.name = v,
            "conversation_field_key" => f.field_key = v,
            "conversation_field_value" => f.field_value = v,
            "page" => f.page = v.and_then(|v| v.parse().ok()).unwrap_or(0),
            "at" => f.at = v.and_then(|v| v.parse().ok()),
            _ => {}
        }
    }
    f
}

/// The UTC offset of the time zones the demo knows, for dates given
/// without one (São Paulo has kept -03:00 all year since 2019).
fn zone_offset(timezone: Option<&str>) -> Result<i32, String> {
    match timezone.unwrap_or("America/Sao_Paulo") {
        "America/Sao_Paulo" => Ok(-3 * 3600),
        "UTC" | "Etc/UTC" => Ok(0),
        other => Err(format!("unknown timezone {other:?}")),
    }
}

/// An ISO date: with an offset it is that instant; without one it is a
/// local time in `timezone`.
fn parse_instant(v: &str, offset_s: i32) -> Result<i64, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(t.timestamp_millis());
    }
    let local = chrono::NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f")
        .map_err(|_| format!("invalid date {v:?}"))?;
    Ok(local.and_utc().timestamp_millis() - i64::from(offset_s) * 1000)
}

impl Filter {
    fn bounds(&self) -> Result<Bounds, String> {
        if self.field_key.is_some() != self.field_value.is_some() {
            return Err("conversation_field_key and conversation_field_value go together".into());
        }
        let offset = zone_offset(self.timezone.as_deref())?;
        let date = |v: &Option<String>| v.as_deref().map(|v| parse_instant(v, offset)).transpose();
        Ok(Bounds {
            start: date(&self.start)?,
            end: date(&self.end)?,
        })
    }

    fn matches(&self, bounds: &Bounds, s: &Subscriber, inserted_ms: i64) -> bool {
        let c = &CAMPAIGNS[s.campaign];
        let wanted = |f: &Option<String>, v: &str| f.as_deref().is_none_or(|f| f == v);
        let in_range = bounds.start.is_none_or(|st| inserted_ms >= st)
            && bounds.end.is_none_or(|e| inserted_ms <= e);
        let basic = in_range
            && (self.campaigns.is_empty() || self.campaigns.iter().any(|u| u == c.uuid))
            && wanted(&self.state, s.state)
            && wanted(&self.template, TEMPLATES[s.template].uuid);
        if !basic {
            return false;
        }
        if self.phone_number.is_none() && self.name.is_none() && self.field_key.is_none() {
            return true;
        }
        let (name, phone, cpf) = personal(s);
        let field = match self.field_key.as_deref() {
            None => true,
            Some("CPF") => wanted(&self.field_value, &cpf),
            Some("perfil") => wanted(&self.field_value, perfil(s)),
            Some(_) => false,
        };
        field && wanted(&self.phone_number, &phone) && wanted(&self.name, &name)
    }
}

async fn report(
    State(demo): State<Arc<Demo>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {DEMO_TOKEN}"));
    if !authorized {
        return (StatusCode::UNAUTHORIZED, "{\"error\":\"invalid token\"}").into_response();
    }
    if fastrand::f64() < demo.options.fault_rate {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "1")],
            "{\"error\":\"try again\"}",
        )
            .into_response();
    }
    let query = query.unwrap_or_default();
    let filter = parse_filter(&query);
    let bounds = match filter.bounds() {
        Ok(b) => b,
        Err(e) => {
            let body = serde_json::json!({ "error": e }).to_string();
            return (StatusCode::BAD_REQUEST, body).into_response();
        }
    };
    let t = filter
        .at
        .unwrap_or_else(|| demo.sim_seconds(SystemTime::now()));
    let body = page(&demo, &filter, &bounds, &query, t);
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|c| c.trim().starts_with("gzip")));
    if gzip {
        let mut enc = GzEncoder::new(Vec::with_capacity(body.len() / 8), Compression::fast());
        if enc.write_all(body.as_bytes()).is_ok()
            && let Ok(zipped) = enc.finish()
        {
            return (
                [
                    (header::CONTENT_TYPE, "application/json"),
                    (header::CONTENT_ENCODING, "gzip"),
                ],
                zipped,
            )
                .into_response();
        }
    }
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// One page of the matching records, with the link to the next.
fn page(demo: &Demo, filter: &Filter, bounds: &Bounds, query: &str, t: f64) -> String {
    let page_size = demo.options.page_size.max(1);
    let matching = subscribers_at(t).filter_map(|s| {
        let inserted_ms = demo.wall_millis(s.inserted_s);
        filter
            .matches(bounds, &s, inserted_ms)
            .then_some((s, inserted_ms))
    });
    let mut body = String::with_capacity(page_size * 420);
    body.push_str("{\"data\":[");
    let mut more = false;
    for (i, (s, inserted_ms)) in matching.skip(filter.page * page_size).enumerate() {
        if i == page_size {
            more = true;
            break;
        }
        if i > 0 {
            body.push(',');
        }
        write_record(&mut body, &s, inserted_ms);
    }
    body.push_str("],\"links\":{\"next\":");
    if more {
        let next: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(
                url::form_urlencoded::parse(query.as_bytes())
                    .filter(|(k, _)| k != "page" && k != "at"),
            )
            .append_pair("page", &(filter.page + 1).to_string())
            .append_pair("at", &t.to_string())
            .finish();
        let _ = write!(body, "\"/api/v1/reports/campaign/subscribers?{next}\"");
    } else {
        body.push_str("null");
    }
    body.push_str("}}");
    body
}

fn write_record(out: &mut String, s: &Subscriber, inserted_ms: i64) {
    let c = &CAMPAIGNS[s.campaign];
    let t = &TEMPLATES[s.template];
    let (name, phone, cpf) = personal(s);
    // One value written with a JSON escape, the other as plain UTF-8: the
    // scanner's unescaping is exercised either way.
    let perfil = match perfil(s) {
        PERFIL_PF => "Pessoa F\\u00edsica",
        PERFIL_PJ => PERFIL_PJ,
        other => other,
    };
    let inserted = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(inserted_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let _ = write!(
        out,
        "{{\"uuid\":\"{:08x}-{:04x}\",\"name\":\"{name}\",\"phone_number\":\"{phone}\",\
\"state\":\"{}\",\"template_uuid\":\"{}\",\"template_name\":\"{}\",\"campaign_uuid\":\"{}\",\
\"campaign_name\":\"{}\",\"inserted_at\":\"{inserted}\",\"conversation_fields\":{{\"CPF\":\"{cpf}\",\"perfil\":\"{perfil}\"}}}}",
        s.campaign,
        s.n & 0xffff,
        s.state,
        t.uuid,
        t.name,
        c.uuid,
        c.name,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn demo() -> Demo {
        Demo {
            epoch: SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600),
            options: DemoOptions::default(),
        }
    }

    /// Records of a query at simulated time 0.
    fn count(query: &str) -> usize {
        let d = demo();
        let f = parse_filter(query);
        let b = f.bounds().expect("valid filter");
        subscribers_at(0.0)
            .filter(|s| f.matches(&b, s, d.wall_millis(s.inserted_s)))
            .count()
    }

    #[test]
    fn start_and_end_are_inclusive_and_tile_at_the_millisecond() {
        let d = demo();
        let all = count("");
        // Cut the axis at every subscriber's own millisecond: no gap, no overlap.
        let sample: Vec<i64> = subscribers_at(0.0)
            .step_by(997)
            .map(|s| d.wall_millis(s.inserted_s))
            .collect();
        for at in sample {
            let iso = |ms: i64| crate::evolux::query::iso_millis(ms);
            let low = count(&format!("end={}", iso(at)));
            let high = count(&format!("start={}", iso(at + 1)));
            assert_eq!(low + high, all, "cut after {}", iso(at));
            let on = count(&format!("start={}&end={}", iso(at), iso(at)));
            assert!(
                on >= 1,
                "the subscriber inserted at {} is inside [at, at]",
                iso(at)
            );
        }
    }

    #[test]
    fn every_documented_filter_narrows_exactly() {
        let s = subscribers_at(0.0).nth(10).unwrap();
        let (name, phone, cpf) = personal(&s);
        let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
        assert!(count(&format!("phone_number={}", enc(&phone))) >= 1);
        assert!(count(&format!("phone_number={}", enc(&phone))) < count(""));
        assert!(count(&format!("name={}", enc(&name))) < count(""));
        assert_eq!(
            count(&format!(
                "phone_number={}&conversation_field_key=CPF&conversation_field_value={}",
                enc(&phone),
                enc(&cpf)
            )),
            1
        );
        // perfil: the two values split the subscribers exactly; anything
        // else (even a near miss) matches nobody.
        let perfil = |v: &str| {
            count(&format!(
                "conversation_field_key=perfil&conversation_field_value={}",
                enc(v)
            ))
        };
        let (pj, pf) = (perfil("Pessoa Jurídica"), perfil("Pessoa Física"));
        assert!(pj > 0 && pf > 0, "pj {pj}, pf {pf}");
        assert!(pj < pf, "about a third are PJ: pj {pj}, pf {pf}");
        assert_eq!(pj + pf, count(""));
        for other in [
            "Pessoa Juridica",
            "pessoa jurídica",
            "Pessoa",
            "Pessoa Física ",
        ] {
            assert_eq!(perfil(other), 0, "{other:?}");
        }
        assert_eq!(
            count("conversation_field_key=perfil&conversation_field_value=Pessoa%20Jur%C3%ADdica"),
            pj,
            "the API document's own encoding"
        );
        let c = CAMPAIGNS[s.campaign].uuid;
        assert_eq!(
            count(&format!(
                "campaigns[]={c}&state=pending&conversation_field_key=perfil&conversation_field_value={}",
                enc("Pessoa Jurídica")
            )) + count(&format!(
                "campaigns[]={c}&state=pending&conversation_field_key=perfil&conversation_field_value={}",
                enc("Pessoa Física")
            )),
            count(&format!("campaigns[]={c}&state=pending"))
        );
        let by_state: usize = crate::model::STATES
            .iter()
            .map(|st| count(&format!("campaigns[]={c}&state={st}")))
            .sum();
        assert_eq!(by_state, count(&format!("campaigns[]={c}")));
    }

    #[test]
    fn records_carry_the_perfil_the_filter_matches() {
        let mut seen = std::collections::BTreeSet::new();
        for s in subscribers_at(0.0).take(50) {
            let mut out = String::new();
            write_record(&mut out, &s, 0);
            let rec: serde_json::Value = serde_json::from_str(&out).expect("a record is JSON");
            let value = rec["conversation_fields"]["perfil"].as_str().unwrap();
            assert_eq!(value, perfil(&s));
            // The PF value goes out escaped, the PJ one as plain UTF-8.
            assert_eq!(out.contains("F\\u00edsica"), value == PERFIL_PF, "{out}");
            seen.insert(value.to_string());
        }
        assert_eq!(seen.len(), 2, "both values within 50 records: {seen:?}");
    }

    #[test]
    fn dates_without_an_offset_are_local_to_the_timezone() {
        let f = parse_filter("start=2024-09-05T00:00:00.000&end=2024-09-06T23:59:59.999");
        let b = f.bounds().unwrap();
        assert_eq!(
            b.start,
            Some(parse_instant("2024-09-05T03:00:00.000Z", 0).unwrap())
        );
        let f = parse_filter("start=2024-09-05T00:00:00&timezone=UTC");
        assert_eq!(
            f.bounds().unwrap().start,
            Some(parse_instant("2024-09-05T00:00:00Z", 0).unwrap())
        );
        assert!(parse_filter("timezone=Mars/Olympus").bounds().is_err());
        assert!(parse_filter("start=yesterday").bounds().is_err());
        assert!(parse_filter("conversation_field_key=CPF").bounds().is_err());
    }
}
