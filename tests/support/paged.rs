//! A wiremock responder that paginates the way common web frameworks do:
//! Django REST framework, Laravel, a bare array with a `Link` header (RFC
//! 8288), `meta.page`/`total_pages`, offsets, cursors, or a bare array cut
//! at the page size with no hint at all. It applies `campaigns[]`, `start`
//! and `end` (inclusive, at the millisecond) like the report API, and any
//! of a style's hints can be left out. Records carry names, phones, CPFs
//! and a custom field, which must never reach the exporter's output.

use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};
use url::Url;
use wiremock::{Request, Respond, ResponseTemplate};

use crate::ranged::Selection;
use crate::support::{STATES, TEMPLATE_1};

/// How the server links its pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerStyle {
    /// `{"count", "next", "previous", "results"}`.
    Drf,
    /// `{"current_page", "last_page", "total", "per_page", "next_page_url", "data"}`.
    Laravel,
    /// A bare array, `Link: <...>; rel="next"`, `X-Total-Count`.
    LinkHeader,
    /// `{"data", "meta": {"page", "total_pages", "total"}}`, `?page=N`.
    MetaPage,
    /// `{"data", "total", "limit", "offset"}`, `?offset=N`.
    Offset,
    /// `{"data", "has_more", "next_cursor"}`, `?cursor=C`.
    Cursor,
    /// A bare array cut at the page size, nothing else.
    Silent,
}

impl ServerStyle {
    /// Every style.
    pub const ALL: [ServerStyle; 7] = [
        ServerStyle::Drf,
        ServerStyle::Laravel,
        ServerStyle::LinkHeader,
        ServerStyle::MetaPage,
        ServerStyle::Offset,
        ServerStyle::Cursor,
        ServerStyle::Silent,
    ];

    /// The hints the style may state, in the order of the drop mask's bits.
    pub fn hints(self) -> &'static [&'static str] {
        match self {
            ServerStyle::Drf => &["count", "next"],
            ServerStyle::Laravel => &[
                "last_page",
                "total",
                "per_page",
                "next_page_url",
                "current_page",
            ],
            ServerStyle::LinkHeader => &["X-Total-Count", "Link"],
            ServerStyle::MetaPage => &["total_pages", "total", "page"],
            ServerStyle::Offset => &["total", "limit", "offset"],
            ServerStyle::Cursor => &["has_more", "next_cursor"],
            ServerStyle::Silent => &[],
        }
    }
}

/// One subscriber.
#[derive(Clone, Debug)]
pub struct PagedSub {
    pub campaign: String,
    pub at_ms: i64,
    pub state: &'static str,
}

/// The responder's state.
#[derive(Clone)]
pub struct Paged {
    pub style: ServerStyle,
    pub page_size: usize,
    /// Bit i set: the style's hint `hints()[i]` is left out.
    pub drop: u32,
    /// Added to every total the server states (a server that miscounts).
    pub total_skew: i64,
    pub subs: Arc<Mutex<Vec<PagedSub>>>,
    /// Requests answered.
    pub requests: Arc<Mutex<usize>>,
}

impl Paged {
    /// A server in `style`, `page_size` records a page, stating every hint.
    pub fn new(style: ServerStyle, page_size: usize) -> Paged {
        Paged {
            style,
            page_size,
            drop: 0,
            total_skew: 0,
            subs: Arc::default(),
            requests: Arc::default(),
        }
    }

    /// Adds `n` subscribers of `campaign`, inserted one a minute back from
    /// `newest_ms`, states in turn; returns the count by state.
    pub fn add(&self, campaign: &str, n: usize, newest_ms: i64) -> [u64; 6] {
        let mut by_state = [0; 6];
        let mut subs = self.subs.lock().unwrap();
        for i in 0..n {
            let s = (i * 7 + i / 5) % 6;
            by_state[s] += 1;
            subs.push(PagedSub {
                campaign: campaign.into(),
                at_ms: newest_ms - (i as i64) * 60_000,
                state: STATES[s],
            });
        }
        by_state
    }

    fn states(&self, hint: &str) -> bool {
        let i = self.style.hints().iter().position(|h| *h == hint);
        i.is_some_and(|i| self.drop & (1 << i) == 0)
    }

    fn matching(&self, url: &Url) -> Vec<Value> {
        let selection = Selection::of(url);
        let mut subs: Vec<PagedSub> = self
            .subs
            .lock()
            .unwrap()
            .iter()
            .filter(|s| selection.holds(&s.campaign, s.at_ms, None))
            .cloned()
            .collect();
        subs.sort_by_key(|s| s.at_ms);
        subs.iter()
            .enumerate()
            .map(|(i, s)| {
                json!({
                    "state": s.state,
                    "template_uuid": TEMPLATE_1,
                    "campaign_uuid": s.campaign,
                    "name": "Maria da Silva",
                    "phone": "+5511987654321",
                    "cpf": "123.456.789-09",
                    "conversation_fields": {"perfil": "Pessoa Jurídica", "n": i},
                })
            })
            .collect()
    }
}

impl Respond for Paged {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        *self.requests.lock().unwrap() += 1;
        let url = &request.url;
        let get = |k: &str| {
            url.query_pairs()
                .find(|(q, _)| q == k)
                .map(|(_, v)| v.into_owned())
        };
        let all = self.matching(url);
        let n = all.len();
        let size = self.page_size.max(1);
        // Where this page starts: a page number (1-based), an offset or a
        // cursor ("c<offset>"), whichever the style reads.
        let from = match self.style {
            ServerStyle::Offset => get("offset").and_then(|o| o.parse().ok()).unwrap_or(0),
            ServerStyle::Cursor => get("cursor")
                .and_then(|c| c.strip_prefix('c').and_then(|o| o.parse().ok()))
                .unwrap_or(0),
            _ => get("page")
                .and_then(|p| p.parse::<usize>().ok())
                .map_or(0, |p| p.saturating_sub(1) * size),
        };
        let page: Vec<Value> = all.iter().skip(from).take(size).cloned().collect();
        let more = from + page.len() < n;
        let number = from / size + 1;
        let last = n.div_ceil(size).max(1);
        let total = (n as i64 + self.total_skew).max(0);
        let link = |page: usize| {
            let mut u = url.clone();
            let kept: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(k, _)| k != "page")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            u.query_pairs_mut()
                .clear()
                .extend_pairs(kept)
                .append_pair("page", &page.to_string());
            // wiremock sees the host as "localhost": a path keeps the origin.
            format!("{}?{}", u.path(), u.query().unwrap_or_default())
        };
        let next_link = if more {
            json!(link(number + 1))
        } else {
            Value::Null
        };
        let mut body = Map::new();
        let mut put = |k: &str, v: Value, hint: &str| {
            if self.states(hint) {
                body.insert(k.into(), v);
            }
        };
        let mut response = ResponseTemplate::new(200);
        let records = Value::Array(page);
        let body = match self.style {
            ServerStyle::Drf => {
                put("count", json!(total), "count");
                put("next", next_link, "next");
                put("previous", Value::Null, "");
                body.insert("previous".into(), Value::Null);
                body.insert("results".into(), records);
                Value::Object(body)
            }
            ServerStyle::Laravel => {
                put("current_page", json!(number), "current_page");
                put("last_page", json!(last), "last_page");
                put("total", json!(total), "total");
                put("per_page", json!(size), "per_page");
                put("next_page_url", next_link, "next_page_url");
                body.insert("data".into(), records);
                Value::Object(body)
            }
            ServerStyle::MetaPage => {
                let mut meta = Map::new();
                for (k, v) in [
                    ("page", json!(number)),
                    ("total_pages", json!(last)),
                    ("total", json!(total)),
                ] {
                    if self.states(k) {
                        meta.insert(k.into(), v);
                    }
                }
                json!({"data": records, "meta": meta})
            }
            ServerStyle::Offset => {
                put("total", json!(total), "total");
                put("limit", json!(size), "limit");
                put("offset", json!(from), "offset");
                body.insert("data".into(), records);
                Value::Object(body)
            }
            ServerStyle::Cursor => {
                put("has_more", json!(more), "has_more");
                let cursor = if more {
                    json!(format!("c{}", from + size))
                } else {
                    Value::Null
                };
                put("next_cursor", cursor, "next_cursor");
                body.insert("data".into(), records);
                Value::Object(body)
            }
            ServerStyle::LinkHeader => {
                if self.states("X-Total-Count") {
                    response = response.insert_header("X-Total-Count", total.to_string().as_str());
                }
                if self.states("Link") {
                    let mut value = format!("<{}>; rel=\"first\"", link(1));
                    if more {
                        value.push_str(&format!(", <{}>; rel=\"next\"", link(number + 1)));
                    }
                    response = response.insert_header("Link", value.as_str());
                }
                records
            }
            ServerStyle::Silent => records,
        };
        response.set_body_raw(serde_json::to_vec(&body).unwrap(), "application/json")
    }
}
