//! A wiremock responder that answers like the report API over a set of
//! subscribers with insertion instants: `campaigns[]` (any number),
//! `start` and `end` applied inclusively at the millisecond, the custom
//! field `perfil` (`conversation_field_key`/`_value`), gzip when asked. It can be told
//! to ignore `start`/`end` (a server that reads them otherwise) or to cut
//! every answer at some number of records without saying so (a silent
//! cap), and it logs when each request arrived.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use flate2::Compression;
use flate2::write::GzEncoder;
use wiremock::{Request, Respond, ResponseTemplate};

/// One subscriber.
#[derive(Clone, Debug)]
pub struct Sub {
    /// Its campaign's UUID.
    pub campaign: String,
    /// Insertion instant, milliseconds since the epoch.
    pub at_ms: i64,
    /// Its state.
    pub state: String,
    /// Its custom field `perfil` (personal-looking data the exporter must
    /// never repeat), if it has one.
    pub perfil: Option<String>,
}

/// A request as it arrived.
#[derive(Clone, Debug)]
pub struct Arrival {
    /// When.
    pub at: Instant,
    /// `start`, `end` and the first `campaigns[]` as sent.
    pub start: Option<String>,
    pub end: Option<String>,
    pub campaign: Option<String>,
    /// Every `campaigns[]`, and whether a custom-field filter was sent.
    pub campaigns: Vec<String>,
    pub field: bool,
    /// Whether it asked for gzip.
    pub gzip: bool,
}

/// The shared state of the responder.
#[derive(Clone, Default)]
pub struct Ranged {
    pub subs: Arc<Mutex<Vec<Sub>>>,
    /// Answer every query as if it had no `start` and `end`.
    pub ignore_range: Arc<AtomicBool>,
    pub arrivals: Arc<Mutex<Vec<Arrival>>>,
    /// How long each answer waits before its head is sent, in ms.
    pub delay_ms: Arc<std::sync::atomic::AtomicU64>,
    /// Answer at most this many records (the oldest first), saying
    /// nothing of the rest; 0: no cap.
    pub cap: Arc<std::sync::atomic::AtomicUsize>,
}

fn parse_ms(v: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(v)
        .expect("start/end are RFC 3339 instants")
        .timestamp_millis()
}

/// The part of a request that picks subscribers: `start`, `end` (inclusive,
/// at the millisecond), `campaigns[]` (none: every campaign) and the
/// custom field.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub campaigns: Vec<String>,
    /// `conversation_field_key` and `conversation_field_value`.
    pub field: Option<(String, String)>,
}

impl Selection {
    /// What `url` asks for.
    pub fn of(url: &url::Url) -> Selection {
        let get = |k: &str| {
            url.query_pairs()
                .find(|(q, _)| q == k)
                .map(|(_, v)| v.into_owned())
        };
        Selection {
            start: get("start").as_deref().map(parse_ms),
            end: get("end").as_deref().map(parse_ms),
            campaigns: url
                .query_pairs()
                .filter(|(q, _)| q == "campaigns[]")
                .map(|(_, v)| v.into_owned())
                .collect(),
            field: get("conversation_field_key").zip(get("conversation_field_value")),
        }
    }

    /// Whether a subscriber of `campaign` inserted at `at_ms`, with the
    /// custom field `perfil` if given, is selected. A filter on any other
    /// field selects nobody (no subscriber here has one).
    pub fn holds(&self, campaign: &str, at_ms: i64, perfil: Option<&str>) -> bool {
        let field = match &self.field {
            None => true,
            Some((key, value)) => key == "perfil" && perfil == Some(value.as_str()),
        };
        self.start.is_none_or(|st| at_ms >= st)
            && self.end.is_none_or(|e| at_ms <= e)
            && (self.campaigns.is_empty() || self.campaigns.iter().any(|c| c == campaign))
            && field
    }
}

impl Ranged {
    pub fn insert(&self, campaign: &str, at_ms: i64, state: &str) {
        self.insert_with(campaign, at_ms, state, None);
    }

    /// As [`Ranged::insert`], with the custom field `perfil`.
    pub fn insert_with(&self, campaign: &str, at_ms: i64, state: &str, perfil: Option<&str>) {
        self.subs.lock().unwrap().push(Sub {
            campaign: campaign.into(),
            at_ms,
            state: state.into(),
            perfil: perfil.map(String::from),
        });
    }

    /// Moves every subscriber inserted at `at_ms` to `state`.
    pub fn set_state(&self, at_ms: i64, state: &str) {
        for s in self.subs.lock().unwrap().iter_mut() {
            if s.at_ms == at_ms {
                s.state = state.into();
            }
        }
    }

    pub fn arrivals(&self) -> Vec<Arrival> {
        self.arrivals.lock().unwrap().clone()
    }

    pub fn clear_arrivals(&self) {
        self.arrivals.lock().unwrap().clear();
    }
}

impl Respond for Ranged {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let get = |k: &str| {
            request
                .url
                .query_pairs()
                .find(|(qk, _)| qk == k)
                .map(|(_, v)| v.into_owned())
        };
        let gzip = request
            .headers
            .get("accept-encoding")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("gzip"));
        let mut selection = Selection::of(&request.url);
        let arrival = Arrival {
            at: Instant::now(),
            start: get("start"),
            end: get("end"),
            campaign: get("campaigns[]"),
            campaigns: selection.campaigns.clone(),
            field: selection.field.is_some(),
            gzip,
        };
        if self.ignore_range.load(Ordering::SeqCst) {
            (selection.start, selection.end) = (None, None);
        }
        let mut matching: Vec<Sub> = self
            .subs
            .lock()
            .unwrap()
            .iter()
            .filter(|s| selection.holds(&s.campaign, s.at_ms, s.perfil.as_deref()))
            .cloned()
            .collect();
        let cap = self.cap.load(Ordering::SeqCst);
        if cap > 0 {
            matching.sort_by_key(|s| s.at_ms);
            matching.truncate(cap);
        }
        let records: Vec<serde_json::Value> = matching
            .iter()
            .map(|s| {
                serde_json::json!({
                    "state": s.state,
                    "template_uuid": crate::support::TEMPLATE_1,
                    "campaign_uuid": s.campaign,
                    "name": "Maria do Carmo",
                    "conversation_fields": { "perfil": s.perfil },
                })
            })
            .collect();
        self.arrivals.lock().unwrap().push(arrival);
        let body = serde_json::to_vec(&serde_json::json!({ "data": records })).unwrap();
        let delay = std::time::Duration::from_millis(self.delay_ms.load(Ordering::SeqCst));
        if gzip {
            let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
            enc.write_all(&body).unwrap();
            ResponseTemplate::new(200)
                .insert_header("content-encoding", "gzip")
                .set_body_raw(enc.finish().unwrap(), "application/json")
                .set_delay(delay)
        } else {
            ResponseTemplate::new(200)
                .set_body_raw(body, "application/json")
                .set_delay(delay)
        }
    }
}
